// SPDX-License-Identifier: Apache-2.0
#include "server/zones_api.hpp"

#include <nlohmann/json.hpp>

#include "core/time.hpp"
#include "core/utf8.hpp"
#include "server/report_params.hpp"
#include "zones/intake.hpp"

namespace citybrain::server {
namespace {

using json = nlohmann::json;

ApiResponse Json(int status, const json& body) {
    ApiResponse r;
    r.status = status;
    r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return r;
}

json Time(incident::TimeMs t) { return t > 0 ? json(core::FormatTimestamp(t)) : json(nullptr); }

}  // namespace

ZonesApi::ZonesApi(zones::CityIntake& city, const incident::Taxonomy& taxonomy, ApiKeys keys)
    : city_(city), taxonomy_(taxonomy), keys_(std::move(keys)) {}

static ApiResponse Refusal(const std::string& path, const Error& e, const std::string& request_id) {
    ApiResponse err = ErrorFor(path, HttpStatus(e.code), e.where, e.ToString(), request_id);
    if (err.status >= 500) err.detail = e.ToString();
    return err;
}

void ZonesApi::Handle(const ApiRequest& req, const std::function<void(ApiResponse)>& done) {
    const std::string path = req.target.substr(0, req.target.find('?'));
    if ((path == "/open311/v2/requests.json" || path == "/api/v1/reports") && req.method == "POST") {
        return Post(req, path, done);
    }
    auto r = Route(req, path);
    if (r.ok()) return done(std::move(r).value());
    done(Refusal(path, r.error(), req.request_id));
}

void ZonesApi::Post(const ApiRequest& req, const std::string& path, const std::function<void(ApiResponse)>& done) {
    const bool open311 = path[1] == 'o';
    auto valid = Validate(req, open311);
    if (!valid.ok()) return done(Refusal(path, valid.error(), req.request_id));
    if (auto* refused = std::get_if<ApiResponse>(&*valid)) return done(std::move(*refused));
    city_.SubmitAsync(
        std::get<incident::Report>(std::move(*valid)),
        [done, open311, path, id = req.request_id](Result<zones::Queued> queued) {
            if (!queued.ok()) return done(Refusal(path, queued.error(), id));
            const zones::Queued& q = *queued;
            if (open311) {
                return done(Json(201,
                                 json::array({{{"token", q.token},
                                               {"service_notice",
                                                "queued for zone " + q.zone + "; its number follows at " +
                                                    "/open311/v2/tokens/" + q.token + ".json"},
                                               {"account_id", nullptr}}})));
            }
            done(Json(q.duplicate ? 200 : 202,
                      {{"token", q.token}, {"zone", q.zone}, {"stream_seq", q.seq}, {"duplicate", q.duplicate}}));
        });
}

Result<ZonesApi::Checked> ZonesApi::Validate(const ApiRequest& req, bool open311) {
    CB_TRY_ASSIGN(const Params body, ReadReportBody(req));
    std::string key_text = req.api_key;
    if (key_text.empty()) {
        if (const std::string* k = Find(body, "api_key")) key_text = *k;
    }
    const ApiKey* key = keys_.Find(key_text);
    const std::string path = req.target.substr(0, req.target.find('?'));
    if (keys_.empty())
        return Checked(ErrorFor(path, 403, "api_key", "this node has no API keys configured", req.request_id));
    if (key == nullptr) return Checked(ErrorFor(path, 403, "api_key", "missing or not valid", req.request_id));
    CB_TRY_ASSIGN(incident::Report report, ReportFromParams(body, req, open311, taxonomy_));
    const bool device = DeviceSource(report.source);
    if (!key->Has(device ? kRoleDevice : kRoleReport)) {
        return Checked(ErrorFor(path,
                                403,
                                "api_key",
                                "key '" + key->name + "' may not post " + (device ? "device evidence" : "reports"),
                                req.request_id));
    }
    const incident::TimeMs now = core::NowMs();
    CB_TRY(CheckReportTime(report.time_ms, now));
    Stamp(report, *key);
    if (report.time_ms == 0) report.time_ms = now;
    return Checked(std::move(report));
}

Result<ApiResponse> ZonesApi::Route(const ApiRequest& req, const std::string& path) {
    constexpr std::string_view kTokens = "/open311/v2/tokens/", kReports = "/api/v1/reports/";
    if (path == "/open311/v2/requests.json" || path == "/api/v1/reports") {  // a POST went to Post
        ApiResponse r = ErrorFor(path, 405, "method", "use POST", req.request_id);
        r.allow = "POST";
        return r;
    }
    if (req.method != "GET") {
        ApiResponse r = ErrorFor(path, 405, "method", "use GET", req.request_id);
        r.allow = "GET";
        return r;
    }
    if (path.rfind(kTokens, 0) == 0 && path.size() > kTokens.size() + 5 && path.ends_with(".json")) {
        const std::string token = path.substr(kTokens.size(), path.size() - kTokens.size() - 5);
        CB_TRY_ASSIGN(const zones::Tracked t, city_.Track(token));
        json row = {{"token", t.token}};
        if (t.filed) row["service_request_id"] = t.zone + "-" + std::to_string(t.request.report.id);
        return Json(200, json::array({row}));
    }
    if (path.rfind(kReports, 0) == 0 && path.size() > kReports.size()) {
        CB_TRY_ASSIGN(const zones::Tracked t, city_.Track(path.substr(kReports.size())));
        json out = {{"token", t.token}, {"zone", t.zone}, {"state", t.filed ? "filed" : "queued"}};
        if (t.filed) {
            const incident::RequestView& v = t.request;
            out["report_id"] = v.report.id;
            out["case_id"] = v.report.case_id;
            out["duplicate"] = v.report.duplicate;
            out["category"] = v.report.category;
            out["case_status"] = incident::StatusName(v.case_status);
            out["department"] = v.department;
            out["deadline"] = Time(v.deadline_ms);
        }
        return Json(200, out);
    }
    if (path == "/api/v1/zones") {
        CB_TRY_ASSIGN(const zones::CityState s, city_.State());
        json zones = json::array();
        for (const zones::ZoneState& z : s.zones) {
            zones.push_back({{"zone", z.zone},
                             {"node", z.node.empty() ? json(nullptr) : json(z.node)},
                             {"pending", z.pending},
                             {"unacked", z.unacked},
                             {"polygon", z.polygon}});
        }
        json units = json::array();
        for (const zones::UnitView& u : s.units) {
            units.push_back({{"id", u.id},
                             {"zone", u.zone},
                             {"lat", u.lat},
                             {"lon", u.lon},
                             {"busy", u.busy},
                             {"case", u.case_ref.empty() ? json(nullptr) : json(u.case_ref)},
                             {"until", u.until_ms > 0 ? json(Time(u.until_ms)) : json(nullptr)}});
        }
        return Json(200, {{"nodes", s.nodes}, {"zones", zones}, {"units", units}});
    }
    return NotFound("path", "no such resource: " + core::Utf8Prefix(path, 128));
}

}  // namespace citybrain::server
