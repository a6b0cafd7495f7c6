// SPDX-License-Identifier: Apache-2.0
#include "server/api.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "agents/citizen_desk.hpp"
#include "clinic/clinic.hpp"
#include "core/utf8.hpp"
#include "incident/case_json.hpp"
#include "incident/device_event.hpp"
#include "server/form.hpp"
#include "server/report_params.hpp"
#include "vision/cameras.hpp"
#include "vision/feeds.hpp"

namespace citybrain::server {

using incident::Action;
using incident::Case;
using incident::CaseStatus;
using incident::Report;
using nlohmann::json;

namespace {

enum class Format { kJson, kXml };

constexpr const char* kOpen311 = "/open311/v2/";
constexpr const char* kApi = "/api/v1/";
constexpr const char* kChangeset = "2026-11-22T00:00:00Z";
/// A client's idempotency key; stored behind its API key's name (at most 64 bytes more).

}  // namespace

int HttpStatus(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument:
            return 400;
        case ErrorCode::kNotFound:
            return 404;
        case ErrorCode::kConflict:
        case ErrorCode::kFailedPrecondition:
            return 409;
        case ErrorCode::kResourceExhausted:
            return 429;
        case ErrorCode::kUnavailable:
            return 503;
        case ErrorCode::kInternal:
            return 500;
    }
    return 500;
}

namespace {

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void XmlEscape(std::string& out, std::string_view s) {
    for (char c : s) {
        switch (c) {
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '&':
                out += "&amp;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                // XML 1.0 forbids most control characters even escaped; they cannot reach here from validated
                // input except as tab/newline, which are allowed.
                if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
                out += c;
        }
    }
}

/// The element name Open311's XML uses for the items of a list.
const char* ItemTag(const std::string& list) {
    if (list == "endpoints") return "endpoint";
    if (list == "formats") return "format";
    if (list == "attributes") return "attribute";
    if (list == "values") return "value";
    if (list == "errors") return "error";
    return "item";
}

void ToXml(std::string& out, const std::string& tag, const json& j) {
    out += '<' + tag + '>';
    if (j.is_object()) {
        for (const auto& [k, v] : j.items()) ToXml(out, k, v);
    } else if (j.is_array()) {
        for (const auto& v : j) ToXml(out, ItemTag(tag), v);
    } else if (j.is_string()) {
        XmlEscape(out, j.get_ref<const std::string&>());
    } else if (!j.is_null()) {
        XmlEscape(out, Dump(j));
    }
    out += "</" + tag + '>';
}

/// Text as any client can parse it, in every string of a document: stored reports may hold characters that XML
/// cannot carry (C0 controls, U+FFFE, U+FFFF); both formats show them the same way, as U+FFFD.
void SanitizeStrings(json& j) {
    if (j.is_string()) {
        std::string& s = j.get_ref<std::string&>();
        std::string clean = core::SanitizeText(s);
        if (clean != s) s = std::move(clean);
    } else if (j.is_structured()) {
        for (auto& v : j) SanitizeStrings(v);
    }
}

/// Open311 renders lists as JSON arrays or as <root><item>…</item></root>.
ApiResponse Render(json j, Format format, const char* root, const char* item, int status = 200) {
    SanitizeStrings(j);
    ApiResponse r;
    r.status = status;
    if (format == Format::kJson) {
        r.body = Dump(j);
        return r;
    }
    r.content_type = "text/xml; charset=utf-8";
    r.body = "<?xml version=\"1.0\" encoding=\"utf-8\"?>";
    if (j.is_array()) {
        r.body += std::string("<") + root + ">";
        for (const auto& v : j) ToXml(r.body, item, v);
        r.body += std::string("</") + root + ">";
    } else {
        ToXml(r.body, root, j);
    }
    return r;
}

/// The spec's error list: [{"code": 400, "description": "…"}].
constexpr const char* kInternalMessage = "internal error: the server's log has the detail under this request_id";

ApiResponse Open311Error(int status, const std::string& raw_description, Format format) {
    // A client's text echoed back must not make the body unparseable (invalid UTF-8, characters XML forbids).
    const std::string description = core::SanitizeText(raw_description);
    if (status >= 500) {
        ApiResponse r = Render(
            json::array({{{"code", status}, {"description", kInternalMessage}}}), format, "errors", "error", status);
        r.detail = description;
        return r;
    }
    return Render(json::array({{{"code", status}, {"description", description}}}), format, "errors", "error", status);
}
ApiResponse Open311Error(const Error& e, Format format) {
    return Open311Error(HttpStatus(e.code), e.ToString(), format);
}

const char* CodeName(int status) {
    switch (status) {
        case 400:
            return "invalid_argument";
        case 403:
            return "forbidden";
        case 404:
            return "not_found";
        case 405:
            return "method_not_allowed";
        case 409:
            return "conflict";
        case 413:
            return "too_large";
        case 429:
            return "too_many_requests";
        case 503:
            return "unavailable";
        default:
            return status >= 500 ? "internal" : "error";
    }
}

ApiResponse JsonError(int status, const std::string& raw_field, const std::string& raw_message) {
    const std::string field = core::SanitizeText(raw_field), message = core::SanitizeText(raw_message);
    ApiResponse r;
    r.status = status;
    r.json_error = true;
    if (status >= 500) r.detail = message;
    r.body = Dump({{"code", CodeName(status)},
                   {"message", status >= 500 ? std::string(kInternalMessage) : message},
                   {"field", field.empty() || status >= 500 ? json(nullptr) : json(field)}});
    return r;
}
ApiResponse JsonError(const Error& e) { return JsonError(HttpStatus(e.code), e.where, e.ToString()); }

json Nullable(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }
json Time(incident::TimeMs t) { return t > 0 ? json(core::FormatTimestamp(t)) : json(nullptr); }

Result<int64_t> ParseId(std::string_view text, const char* field) {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v <= 0) {
        return InvalidArgument(field, "'" + core::Utf8Prefix(text, 32) + "' is not an id");
    }
    return v;
}

std::vector<std::string> SplitComma(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    std::string part;
    while (std::getline(in, part, ',')) {
        if (!part.empty()) out.push_back(part);
    }
    return out;
}

/// Splits "requests.json" into ("requests", kJson); no extension means JSON.
Result<std::pair<std::string, Format>> SplitFormat(std::string_view path) {
    const size_t dot = path.rfind('.');
    const size_t slash = path.rfind('/');
    if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
        return std::make_pair(std::string(path), Format::kJson);
    }
    const std::string_view ext = path.substr(dot + 1);
    if (ext == "json") return std::make_pair(std::string(path.substr(0, dot)), Format::kJson);
    if (ext == "xml") return std::make_pair(std::string(path.substr(0, dot)), Format::kXml);
    return InvalidArgument("format", "'" + core::Utf8Prefix(ext, 16) + "' is not a response format (json or xml)");
}

std::string Notice(const incident::Taxonomy& taxonomy, const incident::Receipt& rec) {
    const incident::Department* dep = taxonomy.FindDepartment(rec.department);
    std::string notice = "已受理 / received: case " + std::to_string(rec.case_id);
    if (rec.duplicate) notice += " (joined an open case about the same matter)";
    notice += ", responsible: " + (dep ? dep->name : rec.department);
    if (rec.deadline_ms > 0) notice += ", to be filed by " + core::FormatTimestamp(rec.deadline_ms);
    return notice;
}

Result<int> ParseCount(const std::string& text, const char* field, int64_t lo, int64_t hi) {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v < lo || v > hi) {
        return InvalidArgument(field, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    return static_cast<int>(v);
}

std::string StatusNotes(const incident::RequestView& v) {
    std::string notes = "case " + std::to_string(v.report.case_id) + " is " + incident::StatusName(v.case_status);
    if (v.parent_report != 0) notes += "; duplicate of request " + std::to_string(v.parent_report);
    return notes;
}

class Handler {
public:
    Handler(incident::IncidentEngine& engine,
            incident::IntakeQueue& intake,
            const ApiKeys& keys,
            const std::string& base_url,
            const std::function<incident::TimeMs()>& clock,
            const Api::Cached* cached,
            agents::CitizenDesk* desk = nullptr,
            vision::CameraSet* cameras = nullptr,
            vision::CameraFeeds* camera_feeds = nullptr,
            clinic::Clinic* clinic = nullptr)
        : engine_(engine),
          intake_(intake),
          keys_(keys),
          base_url_(base_url),
          clock_(clock),
          taxonomy_(engine.taxonomy()),
          cached_(cached),
          desk_(desk),
          cameras_(cameras),
          camera_feeds_(camera_feeds),
          clinic_(clinic) {}

    Api::Cached Precompute() const {
        return {Render(Discovery(), Format::kJson, "discovery", "discovery"),
                Render(Discovery(), Format::kXml, "discovery", "discovery"),
                Render(Services(), Format::kJson, "services", "service"),
                Render(Services(), Format::kXml, "services", "service")};
    }

    void Handle(const ApiRequest& req, std::function<void(ApiResponse)>& done) {
        const size_t q = req.target.find('?');
        const std::string path = req.target.substr(0, q);
        auto query =
            ParseForm(q == std::string::npos ? std::string_view() : std::string_view(req.target).substr(q + 1));
        if (path.rfind(kOpen311, 0) == 0) {
            auto split = SplitFormat(std::string_view(path).substr(std::string_view(kOpen311).size()));
            if (!split.ok()) return done(Open311Error(split.error(), Format::kJson));
            const auto& [resource, format] = *split;
            if (!query.ok()) return done(Open311Error(query.error(), format));
            return Open311(req, resource, format, *query, done);
        }
        if (path.rfind(kApi, 0) == 0) {
            if (!query.ok()) return done(JsonError(query.error()));
            return CityBrain(req, path.substr(std::string_view(kApi).size()), *query, done);
        }
        done(JsonError(404, "path", "no such resource: " + core::Utf8Prefix(path, 128)));
    }

private:
    // ---- Open311 GeoReport v2 -------------------------------------------------------------------------------
    void Open311(const ApiRequest& req,
                 const std::string& resource,
                 Format format,
                 const Params& query,
                 std::function<void(ApiResponse)>& done) {
        const bool get = req.method == "GET" || req.method == "HEAD";
        const bool json_format = format == Format::kJson;
        if (const std::string* j = Find(query, "jurisdiction_id"); j != nullptr) {
            if (Status s = CheckJurisdiction(*j, taxonomy_); !s.ok()) return done(Open311Error(s.error(), format));
        }
        if (resource == "discovery" && get) return done(json_format ? cached_->discovery_json : cached_->discovery_xml);
        if (resource == "services" && get) return done(json_format ? cached_->services_json : cached_->services_xml);
        if (resource.rfind("services/", 0) == 0 && get) {
            const std::string code = resource.substr(9);
            if (taxonomy_.Find(code) == nullptr) {
                return done(Open311Error(404, "service_code: no service '" + core::Utf8Prefix(code, 64) + "'", format));
            }
            return done(
                Render({{"service_code", code}, {"attributes", json::array()}}, format, "service_definition", ""));
        }
        if (resource == "requests" && req.method == "POST") return PostRequest(req, format, done);
        if (resource == "requests" && get) return done(GetRequests(query, format));
        if (resource.rfind("requests/", 0) == 0 && get) {
            const std::string id_text = resource.substr(9);
            auto id = ParseId(id_text, "service_request_id");
            if (!id.ok())
                return done(Open311Error(
                    404, "service_request_id: no request '" + core::Utf8Prefix(id_text, 32) + "'", format));
            incident::RequestFilter f;
            f.ids = {*id};
            auto found = engine_.ListRequests(f);
            if (!found.ok()) return done(Open311Error(found.error(), format));
            if (found->empty()) return done(Open311Error(404, "service_request_id: no request " + id_text, format));
            return done(Render(json::array({RequestJson(found->front())}), format, "service_requests", "request"));
        }
        if (resource == "discovery" || resource == "services" || resource == "requests" ||
            resource.rfind("services/", 0) == 0 || resource.rfind("requests/", 0) == 0) {
            ApiResponse r =
                Open311Error(405, "method " + core::Utf8Prefix(req.method, 16) + " is not allowed here", format);
            r.allow = resource == "requests" ? "GET, HEAD, POST" : "GET, HEAD";
            return done(r);
        }
        done(Open311Error(404, "no such resource: " + core::Utf8Prefix(resource, 128), format));
    }

    json Discovery() const {
        return {{"changeset", kChangeset},
                {"contact", "CityBrain operations centre (城运中心), " + taxonomy_.jurisdiction_id()},
                {"key_service", "API keys for POST are issued by the operations centre"},
                {"endpoints",
                 json::array({{{"specification", "http://wiki.open311.org/GeoReport_v2"},
                               {"url", base_url_ + "/open311/v2"},
                               {"changeset", kChangeset},
                               {"type", "production"},
                               {"formats", json::array({"application/json", "text/xml"})}}})}};
    }

    json Services() const {
        json out = json::array();
        for (const auto& c : taxonomy_.categories()) {
            out.push_back({{"service_code", c.code},
                           {"service_name", c.name},
                           {"description", c.name_en},
                           {"metadata", false},
                           {"type", "realtime"},
                           {"keywords", c.keywords},
                           {"group", c.group}});
        }
        return out;
    }

    json RequestJson(const incident::RequestView& v) const {
        const incident::Category* cat = taxonomy_.Find(v.report.category);
        const incident::Department* dep = taxonomy_.FindDepartment(v.department);
        json j = {{"service_request_id", std::to_string(v.report.id)},
                  {"status", incident::IsOpen(v.case_status) ? "open" : "closed"},
                  {"status_notes", StatusNotes(v)},
                  {"service_name", cat ? json(cat->name) : json(nullptr)},
                  {"service_code", v.report.category},
                  {"description", Nullable(v.report.description)},
                  {"agency_responsible", dep ? json(dep->name) : Nullable(v.department)},
                  {"service_notice", nullptr},
                  {"requested_datetime", core::FormatTimestamp(v.report.time_ms)},
                  {"updated_datetime", Time(v.case_updated_ms)},
                  {"expected_datetime", Time(v.deadline_ms)},
                  {"address", Nullable(v.report.address)},
                  {"address_id", Nullable(v.report.address_id)},
                  {"zipcode", nullptr},
                  {"lat", v.report.lat ? json(*v.report.lat) : json(nullptr)},
                  {"long", v.report.lon ? json(*v.report.lon) : json(nullptr)},
                  {"media_url", Nullable(v.report.media_url)}};
        if (v.parent_report != 0) j["parent_service_request_id"] = std::to_string(v.parent_report);
        j["case_id"] = std::to_string(v.report.case_id);
        return j;
    }

    ApiResponse GetRequests(const Params& query, Format format) {
        incident::RequestFilter f;
        for (const auto& [key, value] : query) {
            if (key == "service_request_id") {
                for (const auto& part : SplitComma(value)) {
                    auto id = ParseId(part, "service_request_id");
                    if (!id.ok()) return Open311Error(id.error(), format);
                    f.ids.push_back(*id);
                }
            } else if (key == "service_code") {
                for (auto& code : SplitComma(value)) {
                    if (taxonomy_.Find(code) == nullptr) {
                        return Open311Error(
                            400, "service_code: unknown service code '" + core::Utf8Prefix(code, 64) + "'", format);
                    }
                    f.service_codes.push_back(std::move(code));
                }
            } else if (key == "start_date" || key == "end_date") {
                auto t = core::ParseTimestamp(value, key);
                if (!t.ok()) return Open311Error(t.error(), format);
                (key == "start_date" ? f.since : f.until) = *t;
            } else if (key == "status") {
                bool want_open = false, want_closed = false;
                for (const auto& s : SplitComma(value)) {
                    if (s != "open" && s != "closed") {
                        return Open311Error(
                            400, "status: '" + core::Utf8Prefix(s, 32) + "' is not open or closed", format);
                    }
                    (s == "open" ? want_open : want_closed) = true;
                }
                if (want_open != want_closed) f.open = want_open;  // both (or none) asked for: no filter
            }
            // Other parameters (jurisdiction_id, api_key, …) are accepted and ignored, as the spec allows.
        }
        if (f.since && f.until && *f.since > *f.until) {
            return Open311Error(400, "end_date: before start_date", format);
        }
        // The spec's defaults: the last 90 days, at most 1,000 requests, unless ids are given.
        if (f.ids.empty() && !f.since && !f.until) f.since = clock_() - 90LL * 86400 * 1000;
        auto found = engine_.ListRequests(f);
        if (!found.ok()) return Open311Error(found.error(), format);
        json out = json::array();
        for (const auto& v : *found) out.push_back(RequestJson(v));
        return Render(out, format, "service_requests", "request");
    }

    /// The key a request carries (a header, or the form's api_key), when it is one of ours.
    const ApiKey* KeyOf(const ApiRequest& req, const Params* form) const {
        if (!req.api_key.empty()) return keys_.Find(req.api_key);
        if (form != nullptr) {
            if (const std::string* key = Find(*form, "api_key")) return keys_.Find(*key);
        }
        return nullptr;
    }

    /// Why `key` may not do `what`, for a 403 on the field api_key; empty when it may.
    std::string Refusal(const ApiKey* key, Role role, const char* what) const {
        if (keys_.empty()) return "this server has no API keys configured, so it accepts none";
        if (key == nullptr) return "missing or not valid";
        if (key->Has(role)) return {};
        const char* name = role == kRoleReport ? "report" : role == kRoleDevice ? "device" : "operator";
        return "key '" + key->name + "' may not " + what + " (that needs the role '" + name + "')";
    }

    void PostRequest(const ApiRequest& req, Format format, std::function<void(ApiResponse)>& done) {
        auto body = ReadReportBody(req);
        // A body that cannot be read is a 400 naming the problem: its api_key field, if any, is unreadable too.
        if (!body.ok()) return done(Open311Error(body.error(), format));
        const ApiKey* key = KeyOf(req, &*body);
        if (auto why = Refusal(key, kRoleReport, "post reports"); !why.empty()) {
            return done(Open311Error(403, "api_key: " + why, format));
        }
        auto report = ReportFromParams(*body, req, true, taxonomy_);
        if (!report.ok()) return done(Open311Error(report.error(), format));
        Stamp(*report, *key);
        // The callback outlives this Handler: it may capture only what lives as long as the engine.
        const incident::Taxonomy& taxonomy = taxonomy_;
        intake_.Submit(std::move(report).value(),
                       [&taxonomy, format, done = std::move(done)](Result<incident::Receipt> rec) {
                           if (!rec.ok()) return done(Open311Error(rec.error(), format));
                           json out = json::array({{{"service_request_id", std::to_string(rec->report_id)},
                                                    {"service_notice", Notice(taxonomy, *rec)},
                                                    {"account_id", nullptr}}});
                           done(Render(out, format, "service_requests", "request", rec->retried ? 200 : 201));
                       });
    }

    // ---- CityBrain JSON API ---------------------------------------------------------------------------------
    void CityBrain(const ApiRequest& req,
                   const std::string& path,
                   const Params& query,
                   std::function<void(ApiResponse)>& done) {
        const bool get = req.method == "GET" || req.method == "HEAD";
        if (path == "health" && get) {
            ApiResponse r;
            r.body = Dump({{"status", "ok"}, {"store", engine_.StoreKind()}, {"open_cases", engine_.open_cases()}});
            return done(r);
        }
        if (path == "taxonomy" && get) return done(Taxonomy());
        if (path == "stats" && get) return done(StatsJson());
        if (path == "cases" && get) {
            if (auto why = Refusal(KeyOf(req, nullptr), kRoleOperator, "read cases"); !why.empty()) {
                return done(JsonError(403, "api_key", why));
            }
            return done(ListCases(query));
        }
        if (path == "reports" && req.method == "POST") return PostReport(req, done);
        if (path == "messages" && desk_ != nullptr) {
            if (req.method == "POST") return PostMessage(req, done);
            if (get) {
                if (auto why = Refusal(KeyOf(req, nullptr), kRoleOperator, "read conversations"); !why.empty()) {
                    return done(JsonError(403, "api_key", why));
                }
                return done(Conversation(query));
            }
            return done(NotAllowed(req, path, "GET, HEAD, POST"));
        }
        if (path == "events" && req.method == "POST") return PostEvent(req, done);
        if (cameras_ != nullptr &&
            (path == "cameras" || path.rfind("cameras/", 0) == 0 || path.rfind("snapshots/", 0) == 0)) {
            return Cameras(req, path, done);
        }
        if (clinic_ != nullptr && (path == "clinic/sessions" || path.rfind("clinic/sessions/", 0) == 0)) {
            return done(Clinic(req, path));
        }
        if (path.rfind("cases/", 0) == 0) {
            const std::string rest = path.substr(6);
            const size_t slash = rest.find('/');
            auto id = ParseId(rest.substr(0, slash), "case_id");
            if (!id.ok()) return done(JsonError(404, "case_id", "no case '" + core::Utf8Prefix(rest, 32) + "'"));
            if (slash == std::string::npos && get) {
                if (auto why = Refusal(KeyOf(req, nullptr), kRoleOperator, "read cases"); !why.empty()) {
                    return done(JsonError(403, "api_key", why));
                }
                return done(CaseDetail(*id));
            }
            if (slash != std::string::npos && rest.substr(slash) == "/transitions" && req.method == "POST") {
                return done(Transition(req, *id));
            }
            if (slash == std::string::npos || rest.substr(slash) == "/transitions") {
                return done(NotAllowed(req, path, slash == std::string::npos ? "GET, HEAD" : "POST"));
            }
        }
        if (path == "health" || path == "taxonomy" || path == "stats" || path == "cases") {
            return done(NotAllowed(req, path, "GET, HEAD"));
        }
        if (path == "reports" || path == "events") return done(NotAllowed(req, path, "POST"));
        done(JsonError(404, "path", "no such resource: /api/v1/" + core::Utf8Prefix(path, 128)));
    }

    static ApiResponse NotAllowed(const ApiRequest& req, const std::string& path, const char* allow) {
        ApiResponse r = JsonError(405,
                                  "method",
                                  core::Utf8Prefix(req.method, 16) + " is not allowed on /api/v1/" +
                                      core::Utf8Prefix(path, 64) + " (allowed: " + allow + ")");
        r.allow = allow;
        return r;
    }

    json CaseJson(const Case& c, incident::TimeMs now) const { return incident::CaseJson(c, taxonomy_, now); }

    ApiResponse Taxonomy() const {
        json deps = json::array();
        for (const auto& d : taxonomy_.departments())
            deps.push_back({{"code", d.code}, {"name", d.name}, {"name_en", d.name_en}});
        json cats = json::array();
        for (const auto& c : taxonomy_.categories()) {
            cats.push_back({{"code", c.code},
                            {"name", c.name},
                            {"name_en", c.name_en},
                            {"department", c.department},
                            {"priority", c.priority},
                            {"dedup_radius_m", c.dedup_radius_m},
                            {"dedup_window_min", c.dedup_window_ms / 60000},
                            {"limits_min",
                             {{"file", c.limits.file_ms / 60000},
                              {"dispatch", c.limits.dispatch_ms / 60000},
                              {"handle", c.limits.handle_ms / 60000},
                              {"verify", c.limits.verify_ms / 60000}}}});
        }
        ApiResponse r;
        r.body = Dump({{"departments", deps}, {"categories", cats}});
        return r;
    }

    ApiResponse StatsJson() {
        auto stats = engine_.ComputeStats(clock_());
        if (!stats.ok()) return JsonError(stats.error());
        ApiResponse r;
        r.body =
            Dump({{"reports", stats->reports},
                  {"duplicates", stats->duplicates},
                  {"cases", stats->cases},
                  {"open", stats->open},
                  {"overdue", stats->overdue},
                  {"escalated", stats->escalated},
                  {"open_per_department", stats->open_per_department},
                  {"cases_per_status", stats->cases_per_status},
                  {"median_time_to_close_s", stats->median_close_s ? json(*stats->median_close_s) : json(nullptr)}});
        return r;
    }

    ApiResponse ListCases(const Params& query) {
        incident::CaseFilter f;
        for (const auto& [key, value] : query) {
            if (key == "status") {
                auto s = incident::ParseStatus(value);
                if (!s.ok()) return JsonError(s.error());
                f.status = *s;
            } else if (key == "open") {
                if (value != "true" && value != "false") return JsonError(400, "open", "must be true or false");
                f.open = value == "true";
            } else if (key == "category") {
                if (taxonomy_.Find(value) == nullptr)
                    return JsonError(400, "category", "unknown category '" + core::Utf8Prefix(value, 64) + "'");
                f.category = value;
            } else if (key == "department") {
                if (taxonomy_.FindDepartment(value) == nullptr) {
                    return JsonError(400, "department", "unknown department '" + core::Utf8Prefix(value, 64) + "'");
                }
                f.department = value;
            } else if (key == "grid_cell") {
                f.grid_cell = value;
            } else if (key == "since" || key == "until") {
                auto t = core::ParseTimestamp(value, key);
                if (!t.ok()) return JsonError(t.error());
                (key == "since" ? f.since : f.until) = *t;
            } else if (key == "overdue") {
                if (value != "true" && value != "false") return JsonError(400, "overdue", "must be true or false");
                f.overdue_only = value == "true";
            } else if (key == "limit") {
                auto n = ParseCount(value, "limit", 1, 1000);
                if (!n.ok()) return JsonError(n.error());
                f.limit = *n;
            } else if (key == "offset") {
                auto n = ParseCount(value, "offset", 0, 1'000'000'000);
                if (!n.ok()) return JsonError(n.error());
                f.offset = *n;
            } else {
                return JsonError(400, core::Utf8Prefix(key, 64), "unknown query parameter");
            }
        }
        const incident::TimeMs now = clock_();
        auto cases = engine_.ListCases(f, now);
        if (!cases.ok()) return JsonError(cases.error());
        json out = json::array();
        for (const auto& c : *cases) out.push_back(CaseJson(c, now));
        ApiResponse r;
        r.body = Dump({{"cases", out}, {"limit", f.limit}, {"offset", f.offset}});
        return r;
    }

    ApiResponse CaseDetail(incident::CaseId id) {
        auto detail = engine_.GetCaseDetail(id);
        if (!detail.ok()) return JsonError(detail.error());
        if (!detail->has_value()) return JsonError(404, "case_id", "no case " + std::to_string(id));
        const incident::Case* c = &(*detail)->c;
        const std::vector<incident::Report>* reports = &(*detail)->reports;
        const std::vector<incident::Event>* events = &(*detail)->events;
        json j = CaseJson(*c, clock_());
        json rs = json::array();
        for (const auto& r : *reports) {
            rs.push_back({{"id", r.id},
                          {"source", incident::SourceName(r.source)},
                          {"time", Time(r.time_ms)},
                          {"lat", r.lat ? json(*r.lat) : json(nullptr)},
                          {"long", r.lon ? json(*r.lon) : json(nullptr)},
                          {"address", r.address},
                          {"description", r.description},
                          {"media_url", Nullable(r.media_url)},
                          {"confidence", r.confidence},
                          {"duplicate", r.duplicate},
                          {"address_id", Nullable(r.address_id)},
                          {"via", Nullable(r.via)}});
        }
        json hs = json::array();
        // The case's first line is its primary report (the store keeps no separate event for it).
        for (const auto& r : *reports) {
            if (r.id != c->primary_report) continue;
            hs.push_back({{"time", Time(r.time_ms)},
                          {"actor", std::string("intake:") + incident::SourceName(r.source)},
                          {"action", "report"},
                          {"from", nullptr},
                          {"to", "reported"},
                          {"note", "report " + std::to_string(r.id)},
                          {"via", Nullable(r.via)}});
        }
        for (const auto& e : *events) {
            hs.push_back({{"time", Time(e.time_ms)},
                          {"actor", e.actor},
                          {"action", incident::ActionName(e.action)},
                          {"from", incident::StatusName(e.from)},
                          {"to", incident::StatusName(e.to)},
                          {"note", e.note},
                          {"via", Nullable(e.via)}});
        }
        j["reports"] = rs;
        j["history"] = hs;
        // What the classifier made of the text, for the operator who must decide the category.
        if (c->status == incident::CaseStatus::kReported) {
            j["guesses"] = incident::GuessesJson(engine_.Guesses(c->description), taxonomy_);
        }
        ApiResponse r;
        r.body = Dump(j);
        return r;
    }

    ApiResponse Transition(const ApiRequest& req, incident::CaseId id) {
        const ApiKey* api_key = KeyOf(req, nullptr);
        if (auto why = Refusal(api_key, kRoleOperator, "move cases"); !why.empty()) {
            return JsonError(403, "api_key", why);
        }
        json body = json::parse(req.body, nullptr, false);
        if (body.is_discarded() || !body.is_object()) return JsonError(400, "body", "not a JSON object");
        auto text = [&](const char* key, bool required) -> Result<std::string> {
            auto it = body.find(key);
            if (it == body.end() || it->is_null()) {
                if (required) return InvalidArgument(key, "required");
                return std::string();
            }
            if (!it->is_string()) return InvalidArgument(key, "must be a string");
            return it->get<std::string>();
        };
        auto action_text = text("action", true);
        if (!action_text.ok()) return JsonError(action_text.error());
        auto action = incident::ParseAction(*action_text);
        if (!action.ok()) return JsonError(action.error());
        auto actor = text("actor", true);
        if (!actor.ok()) return JsonError(actor.error());
        auto note = text("note", false);
        if (!note.ok()) return JsonError(note.error());
        auto category = text("category", false);
        if (!category.ok()) return JsonError(category.error());
        incident::CaseId merge_into = 0;
        if (auto it = body.find("merge_into"); it != body.end()) {
            if (!it->is_number_integer()) return JsonError(400, "merge_into", "must be a case id");
            merge_into = it->get<int64_t>();
        } else if (*action == Action::kMerge) {
            return JsonError(400, "merge_into", "required to merge");
        }
        auto c = engine_.Apply(id, *action, *actor, *note, clock_(), merge_into, api_key->name, *category);
        if (!c.ok()) return JsonError(c.error());
        ApiResponse r;
        r.body = Dump(CaseJson(*c, clock_()));
        return r;
    }

    void PostReport(const ApiRequest& req, std::function<void(ApiResponse)>& done) {
        // Any valid key may be told what is wrong with its body; what it may post depends on the source.
        const ApiKey* key = KeyOf(req, nullptr);
        if (auto why = Refusal(key, kRoleAll, "post"); !why.empty()) {
            return done(JsonError(403, "api_key", why));
        }
        ApiRequest as_json = req;
        as_json.content_type = "application/json";
        auto body = ReadReportBody(as_json);
        if (!body.ok()) return done(JsonError(body.error()));
        auto report = ReportFromParams(*body, req, false, taxonomy_);
        if (!report.ok()) return done(JsonError(report.error()));
        const bool device = DeviceSource(report->source);
        if (auto why =
                Refusal(key, device ? kRoleDevice : kRoleReport, device ? "post a device's report" : "post reports");
            !why.empty()) {
            return done(JsonError(403, "api_key", why));
        }
        if (Status s = CheckReportTime(report->time_ms, clock_()); !s.ok()) return done(JsonError(s.error()));
        Stamp(*report, *key);
        Submit(std::move(report).value(), done);
    }

    /// Clinic screening (a reporter's role: the clinic's kiosk or app): open a session from the patient's words, answer
    /// its questions, read it back. The session id is the only handle; nothing identifying is stored or logged.
    ApiResponse Clinic(const ApiRequest& req, const std::string& path) {
        const bool get = req.method == "GET" || req.method == "HEAD";
        if (auto why = Refusal(KeyOf(req, nullptr), kRoleReport, "screen patients"); !why.empty()) {
            return JsonError(403, "api_key", why);
        }
        auto render = [](Result<json> r, int status) {
            if (!r.ok()) {
                const int code = r.error().code == ErrorCode::kNotFound          ? 404
                                 : r.error().code == ErrorCode::kInvalidArgument ? 400
                                                                                 : 503;
                return JsonError(code, r.error().where, r.error().message);
            }
            ApiResponse out;
            out.status = status;
            out.body = Dump(*r);
            return out;
        };
        auto body_object = [&](const std::set<std::string>& fields, json& body) -> std::optional<ApiResponse> {
            body = json::parse(req.body, nullptr, false);
            if (body.is_discarded() || !body.is_object()) return JsonError(400, "body", "not a JSON object");
            for (const auto& [k, v] : body.items()) {
                if (fields.count(k) == 0)
                    return JsonError(400, k.empty() ? "\"\"" : core::Utf8Prefix(k, 64), "unknown field");
            }
            return std::nullopt;
        };
        if (path == "clinic/sessions") {
            if (req.method != "POST") return NotAllowed(req, path, "POST");
            json body;
            if (auto bad = body_object({"text", "age_months"}, body)) return *bad;
            if (!body.contains("text")) return JsonError(400, "text", "required");
            if (!body["text"].is_string()) return JsonError(400, "text", "must be a string");
            std::optional<double> age;
            if (body.contains("age_months")) {
                if (!body["age_months"].is_number()) return JsonError(400, "age_months", "must be a number");
                age = body["age_months"].get<double>();
            }
            return render(clinic_->Start(body["text"].get<std::string>(), age, clock_()), 201);
        }
        const std::string rest = path.substr(16);
        const size_t slash = rest.find('/');
        const std::string id = rest.substr(0, slash);
        if (slash == std::string::npos) {
            if (!get) return NotAllowed(req, path, "GET, HEAD");
            return render(clinic_->Get(id), 200);
        }
        if (rest.substr(slash) != "/answers") {
            return JsonError(404, "path", "no such resource: /api/v1/" + core::Utf8Prefix(path, 128));
        }
        if (req.method != "POST") return NotAllowed(req, path, "POST");
        json body;
        if (auto bad = body_object({"symptom", "answer"}, body)) return *bad;
        for (const char* f : {"symptom", "answer"}) {
            if (!body.contains(f)) return JsonError(400, f, "required");
            if (!body[f].is_string()) return JsonError(400, f, "must be a string");
        }
        return render(
            clinic_->Answer(id, body["symptom"].get<std::string>(), body["answer"].get<std::string>(), clock_()), 200);
    }

    /// The cameras: POST a frame (a device's role), GET the registry with its counts and the snapshots (an
    /// operator's). A frame's events become reports through the same intake as any sensor's; the answer comes
    /// after their commit.
    void Cameras(const ApiRequest& req, const std::string& path, std::function<void(ApiResponse)>& done) {
        const bool get = req.method == "GET" || req.method == "HEAD";
        if (path == "cameras" || path.rfind("snapshots/", 0) == 0) {
            if (!get) return done(NotAllowed(req, path, "GET, HEAD"));
            if (auto why = Refusal(KeyOf(req, nullptr), kRoleOperator, "read cameras"); !why.empty()) {
                return done(JsonError(403, "api_key", why));
            }
            if (path == "cameras") {
                ApiResponse r;
                json status = cameras_->Status();
                if (camera_feeds_ != nullptr) status["feeds"] = camera_feeds_->Status();
                r.body = Dump(status);
                return done(r);
            }
            auto shot = cameras_->Snapshot(path.substr(10));
            if (!shot.ok()) return done(JsonError(404, "snapshot", shot.error().message));
            ApiResponse r;
            r.content_type = "image/jpeg";
            r.body = std::move(shot).value();
            return done(r);
        }
        const std::string rest = path.substr(8);
        const size_t slash = rest.find('/');
        if (slash == std::string::npos || rest.substr(slash) != "/frames") {
            return done(JsonError(404, "path", "no such resource: /api/v1/" + core::Utf8Prefix(path, 128)));
        }
        if (req.method != "POST") return done(NotAllowed(req, path, "POST"));
        if (auto why = Refusal(KeyOf(req, nullptr), kRoleDevice, "post camera frames"); !why.empty()) {
            return done(JsonError(403, "api_key", why));
        }
        const std::string camera = rest.substr(0, slash);
        auto outcome =
            cameras_->Ingest(camera, {reinterpret_cast<const uint8_t*>(req.body.data()), req.body.size()}, clock_());
        if (!outcome.ok()) {
            const int status = outcome.error().code == ErrorCode::kNotFound ? 404 : 400;
            return done(JsonError(status, outcome.error().where, outcome.error().message));
        }
        json answer{{"camera", camera},
                    {"detections", outcome->detections},
                    {"gated", outcome->gated},
                    {"events", json::array()}};
        if (outcome->reports.empty()) {
            ApiResponse r;
            r.body = Dump(answer);
            return done(r);
        }
        // Each event's report through the intake; the answer once all are committed (or refused).
        struct Pending {
            Pending(json a, size_t n, std::function<void(ApiResponse)> d)
                : answer(std::move(a)), left(n), done(std::move(d)) {}
            json answer;
            size_t left;
            std::function<void(ApiResponse)> done;
            std::mutex mu;
        };
        auto pending = std::make_shared<Pending>(std::move(answer), outcome->reports.size(), std::move(done));
        for (size_t i = 0; i < outcome->reports.size(); ++i) {
            json event{{"kind", outcome->events[i].kind},
                       {"zone", outcome->events[i].zone},
                       {"confidence", outcome->events[i].confidence},
                       {"media_url", outcome->reports[i].media_url}};
            intake_.Submit(std::move(outcome->reports[i]), [pending, event](Result<incident::Receipt> rec) mutable {
                if (rec.ok()) {
                    event["case_id"] = rec->case_id;
                    event["duplicate"] = rec->duplicate;
                    event["category"] = rec->category;
                } else {
                    event["error"] = rec.error().ToString();
                }
                std::unique_lock lock(pending->mu);
                pending->answer["events"].push_back(std::move(event));
                if (--pending->left > 0) return;
                ApiResponse r;
                r.status = 201;
                r.body = Dump(pending->answer);
                lock.unlock();
                pending->done(r);
            });
        }
    }

    /// A citizen's message to the agents (the citizen channel): a case with its number, department and deadline,
    /// an answer from the knowledge documents, their case's status, or a person. Answered after any case it made is
    /// committed.
    void PostMessage(const ApiRequest& req, std::function<void(ApiResponse)>& done) {
        const ApiKey* key = KeyOf(req, nullptr);
        if (auto why = Refusal(key, kRoleReport, "post citizens' messages"); !why.empty()) {
            return done(JsonError(403, "api_key", why));
        }
        const json body = json::parse(req.body, nullptr, false);
        if (body.is_discarded() || !body.is_object()) return done(JsonError(400, "body", "not a JSON object"));
        static const std::set<std::string> kFields{"citizen_id", "text", "lat", "long", "message_id"};
        for (const auto& [k, v] : body.items()) {
            if (kFields.count(k) == 0) {
                return done(JsonError(400, k.empty() ? "\"\"" : core::Utf8Prefix(k, 64), "unknown field"));
            }
        }
        agents::CitizenMessage m;
        auto text_field = [&](const char* name, std::string& out, size_t max, bool required) -> bool {
            if (!body.contains(name)) {
                if (!required) return true;
                done(JsonError(400, name, "required"));
                return false;
            }
            if (!body[name].is_string()) {
                done(JsonError(400, name, "must be a string"));
                return false;
            }
            out = body[name].get<std::string>();
            if (!core::ValidUtf8(out) || out.find('\0') != std::string::npos) {
                done(JsonError(400, name, "must be valid UTF-8 without NUL"));
                return false;
            }
            if ((required && out.empty()) || core::Utf8Length(out) > max) {
                done(JsonError(400, name, "must be 1 to " + std::to_string(max) + " characters"));
                return false;
            }
            return true;
        };
        if (!text_field("citizen_id", m.citizen_id, 64, true) || !text_field("text", m.text, 4000, true) ||
            !text_field("message_id", m.message_id, 128, false)) {
            return;
        }
        if (body.contains("lat") != body.contains("long")) {
            return done(JsonError(400, body.contains("lat") ? "long" : "lat", "lat and long come together"));
        }
        if (body.contains("lat")) {
            if (!body["lat"].is_number() || !body["long"].is_number()) {
                return done(JsonError(400, body["lat"].is_number() ? "long" : "lat", "must be a number"));
            }
            m.lat = body["lat"].get<double>();
            m.lon = body["long"].get<double>();
            if (!(*m.lat >= -90 && *m.lat <= 90)) return done(JsonError(400, "lat", "must be in [-90, 90]"));
            if (!(*m.lon >= -180 && *m.lon <= 180)) return done(JsonError(400, "long", "must be in [-180, 180]"));
        }
        m.via = key->name;
        desk_->Converse(m, [done = std::move(done)](Result<agents::DeskReply> r) {
            if (!r.ok()) return done(JsonError(r.error()));
            const agents::DeskReply& d = *r;
            ApiResponse out;
            out.body = Dump({{"reply", d.reply},
                             {"intent", d.intent},
                             {"agent", d.agent},
                             {"case_id", d.case_id},
                             {"duplicate", d.duplicate},
                             {"category", d.category},
                             {"department", d.department},
                             {"department_name", d.department_name},
                             {"status", d.status},
                             {"deadline", d.deadline_ms > 0 ? json(core::FormatTimestamp(d.deadline_ms)) : json()},
                             {"handover", d.handover},
                             {"sources", d.sources},
                             {"tool_calls", d.tool_calls}});
            done(out);
        });
    }

    ApiResponse Conversation(const Params& query) const {
        std::string citizen;
        size_t limit = 50;
        for (const auto& [k, v] : query) {
            if (k == "citizen_id") {
                citizen = v;
            } else if (k == "limit") {
                auto n = ParseId(v, "limit");
                if (!n.ok() || *n > 500) return JsonError(400, "limit", "must be 1 to 500");
                limit = static_cast<size_t>(*n);
            } else {
                return JsonError(400, core::Utf8Prefix(k, 64), "unknown parameter (citizen_id, limit)");
            }
        }
        if (citizen.empty()) return JsonError(400, "citizen_id", "required");
        auto history = desk_->History(citizen, limit);
        if (!history.ok()) return JsonError(history.error());
        ApiResponse r;
        r.body = Dump({{"citizen_id", citizen}, {"messages", *history}});
        return r;
    }

    /// A camera's or a sensor's event (`incident::ParseDeviceEvent`, the schema MQTT devices use too).
    void PostEvent(const ApiRequest& req, std::function<void(ApiResponse)>& done) {
        const ApiKey* key = KeyOf(req, nullptr);
        if (auto why = Refusal(key, kRoleDevice, "post device events"); !why.empty()) {
            return done(JsonError(403, "api_key", why));
        }
        auto report = incident::ParseDeviceEvent(req.body, {}, clock_());
        if (!report.ok()) return done(JsonError(report.error()));
        if (Status s = TakeIdempotencyKey(req, *report); !s.ok()) return done(JsonError(s.error()));
        if (Status s = incident::ValidateReport(*report, taxonomy_); !s.ok()) return done(JsonError(s.error()));
        if (Status s = CheckReportTime(report->time_ms, clock_()); !s.ok()) return done(JsonError(s.error()));
        Stamp(*report, *key, !req.idempotency_key.empty());
        Submit(std::move(report).value(), done);
    }

    void Submit(Report report, std::function<void(ApiResponse)>& done) {
        intake_.Submit(std::move(report), [done = std::move(done)](Result<incident::Receipt> rec) {
            if (!rec.ok()) return done(JsonError(rec.error()));
            ApiResponse r;
            r.status = rec->retried ? 200 : 201;
            r.body = Dump({{"report_id", rec->report_id},
                           {"case_id", rec->case_id},
                           {"duplicate", rec->duplicate},
                           {"retried", rec->retried},
                           {"category", rec->category},
                           {"department", rec->department},
                           {"deadline", Time(rec->deadline_ms)}});
            done(r);
        });
    }

    incident::IncidentEngine& engine_;
    incident::IntakeQueue& intake_;
    const ApiKeys& keys_;
    const std::string& base_url_;
    const std::function<incident::TimeMs()>& clock_;
    const incident::Taxonomy& taxonomy_;
    const Api::Cached* cached_;
    agents::CitizenDesk* desk_;
    vision::CameraSet* cameras_;
    vision::CameraFeeds* camera_feeds_;
    clinic::Clinic* clinic_;
};

}  // namespace

Result<ApiKeys> ApiKeys::Load(const char* env_value, const std::string& file) {
    ApiKeys keys;
    // Spaces around a key are not part of it ("k1, k2" is two keys, as a person writes them).
    const auto trim = [](std::string s) {
        const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
        while (!s.empty() && space(s.back())) s.pop_back();
        size_t first = 0;
        while (first < s.size() && space(s[first])) ++first;
        return s.substr(first);
    };
    if (env_value != nullptr) {
        for (auto& k : SplitComma(env_value)) {
            std::string key = trim(std::move(k));
            if (!key.empty()) {
                keys.keys_.push_back({std::move(key), "env-" + std::to_string(keys.keys_.size() + 1), kRoleAll});
            }
        }
    }
    if (!file.empty()) {
        std::ifstream in(file);
        if (!in) return NotFound(file, "cannot open API keys file");
        std::string line;
        for (int number = 1; std::getline(in, line); ++number) {
            if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
            std::istringstream words(line);
            ApiKey k;
            std::string roles, extra;
            if (!(words >> k.key)) continue;
            const std::string where = file + ":" + std::to_string(number);
            words >> k.name >> roles >> extra;
            if (!extra.empty()) return InvalidArgument(where, "a line is KEY [NAME [ROLES]]; '" + extra + "' is extra");
            if (k.name.empty()) k.name = "key-" + std::to_string(number);
            if (!roles.empty()) {
                k.roles = 0;
                for (const auto& role : SplitComma(roles)) {
                    if (role == "report") {
                        k.roles |= kRoleReport;
                    } else if (role == "device") {
                        k.roles |= kRoleDevice;
                    } else if (role == "operator") {
                        k.roles |= kRoleOperator;
                    } else {
                        return InvalidArgument(
                            where,
                            "unknown role '" + core::Utf8Prefix(role, 32) + "' (roles: report, device, operator)");
                    }
                }
            }
            if (k.roles == 0) return InvalidArgument(where, "no role given (roles: report, device, operator)");
            keys.keys_.push_back(std::move(k));
        }
    }
    for (size_t i = 0; i < keys.keys_.size(); ++i) {
        const ApiKey& k = keys.keys_[i];
        if (k.key.size() < 16) return InvalidArgument("api keys", "key '" + k.name + "' is shorter than 16 characters");
        const bool name_ok =
            !k.name.empty() && k.name.size() <= 64 && std::all_of(k.name.begin(), k.name.end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
            });
        if (!name_ok) {
            return InvalidArgument(
                "api keys",
                "key name '" + core::Utf8Prefix(k.name, 64) + "' must be 1 to 64 letters, digits, '-', '_' or '.'");
        }
        for (size_t j = 0; j < i; ++j) {
            // The name scopes idempotency keys and is recorded on writes: two keys may not share one.
            if (keys.keys_[j].name == k.name) return InvalidArgument("api keys", "two keys are named '" + k.name + "'");
        }
    }
    return keys;
}

std::string ApiKeys::AddSessionKey(const std::string& name, unsigned roles) {
    std::random_device entropy;  // the kernel's getrandom on Linux
    static constexpr char kHex[] = "0123456789abcdef";
    std::string key;
    for (int i = 0; i < 4; ++i) {
        uint32_t word = entropy();
        for (int k = 0; k < 8; ++k, word >>= 4) key += kHex[word & 15];
    }
    std::string unique = name;
    for (int n = 2; std::any_of(keys_.begin(), keys_.end(), [&](const ApiKey& k) { return k.name == unique; }); ++n) {
        unique = name + "-" + std::to_string(n);
    }
    keys_.push_back({key, unique, roles});
    return key;
}

const ApiKey* ApiKeys::Find(const std::string& key) const {
    const ApiKey* found = nullptr;
    for (const auto& k : keys_) {
        unsigned diff = k.key.size() != key.size() ? 1u : 0u;
        for (size_t i = 0; i < k.key.size(); ++i) {
            diff |= static_cast<unsigned>(k.key[i] ^ (i < key.size() ? key[i] : 0));
        }
        if (diff == 0) found = &k;
    }
    return found;
}

Api::Api(incident::IncidentEngine& engine,
         incident::IntakeQueue& intake,
         ApiKeys keys,
         std::string base_url,
         std::function<incident::TimeMs()> clock)
    : engine_(engine),
      intake_(intake),
      keys_(std::move(keys)),
      base_url_(std::move(base_url)),
      clock_(clock ? std::move(clock) : std::function<incident::TimeMs()>(core::NowMs)) {
    cached_ = Handler(engine_, intake_, keys_, base_url_, clock_, nullptr).Precompute();
}

ApiResponse ErrorFor(std::string_view path,
                     int status,
                     const std::string& field,
                     const std::string& message,
                     const std::string& request_id) {
    if (path.rfind(kOpen311, 0) == 0) {
        const bool xml = path.size() >= 4 && path.substr(path.size() - 4) == ".xml";
        return Open311Error(
            status, field.empty() ? message : field + ": " + message, xml ? Format::kXml : Format::kJson);
    }
    ApiResponse r = JsonError(status, field, message);
    json j = json::parse(r.body);
    j["request_id"] = request_id;
    r.body = Dump(j);
    r.json_error = false;
    return r;
}

void Api::Handle(const ApiRequest& request, std::function<void(ApiResponse)> done) {
    auto called = std::make_shared<std::atomic<bool>>(false);
    const std::string path = request.target.substr(0, request.target.find('?'));
    auto finish = [called, path, id = request.request_id, done = std::move(done)](ApiResponse r) {
        if (called->exchange(true)) return;
        if (r.json_error) {
            json j = json::parse(r.body, nullptr, false);
            if (j.is_object()) j["request_id"] = id;
            r.body = Dump(j);
            r.json_error = false;
        }
        if (!r.detail.empty()) {
            std::fprintf(stderr,
                         "citybrain: request %s %s failed (%d): %s\n",
                         id.c_str(),
                         path.substr(0, 128).c_str(),
                         r.status,
                         r.detail.c_str());
        }
        done(std::move(r));
    };
    try {
        std::function<void(ApiResponse)> respond = finish;
        Handler(engine_, intake_, keys_, base_url_, clock_, &cached_, desk_, cameras_, camera_feeds_, clinic_)
            .Handle(request, respond);
    } catch (const std::exception& e) {
        ApiResponse r = ErrorFor(path, 500, "", e.what(), request.request_id);
        r.detail = e.what();
        finish(std::move(r));
    }
}

}  // namespace citybrain::server
