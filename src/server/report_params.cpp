// SPDX-License-Identifier: Apache-2.0
#include "server/report_params.hpp"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/time.hpp"
#include "core/utf8.hpp"

namespace citybrain::server {

using json = nlohmann::json;

Result<double> ParseNumber(const std::string& text, const char* field) {
    double v = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(v)) {
        return InvalidArgument(field, "'" + core::Utf8Prefix(text, 32) + "' is not a number");
    }
    return v;
}

bool DeviceSource(incident::Source s) {
    return s == incident::Source::kCamera || s == incident::Source::kSensor || s == incident::Source::kRobot;
}

void Stamp(incident::Report& r, const ApiKey& key, bool scope_key) {
    r.via = key.name;
    if (scope_key && !r.idempotency_key.empty()) r.idempotency_key = key.name + '/' + r.idempotency_key;
}

Status CheckReportTime(incident::TimeMs t, incident::TimeMs now) {
    if (t == 0) return {};
    constexpr incident::TimeMs kPast = 366LL * 86400 * 1000, kAhead = 10LL * 60 * 1000;
    if (t < now - kPast || t > now + kAhead) {
        return InvalidArgument("time",
                               core::FormatTimestamp(t) + " is outside the accepted window " +
                                   core::FormatTimestamp(now - kPast) + " to " + core::FormatTimestamp(now + kAhead) +
                                   " (a year back, ten minutes ahead; older data: citybrain incidents replay)");
    }
    return {};
}

Status CheckJurisdiction(const std::string& id, const incident::Taxonomy& taxonomy) {
    if (id == taxonomy.jurisdiction_id()) return {};
    return NotFound("jurisdiction_id",
                    "'" + core::Utf8Prefix(id, 64) + "' is not served here (this server serves '" +
                        taxonomy.jurisdiction_id() + "')");
}

Status TakeIdempotencyKey(const ApiRequest& req, incident::Report& r) {
    if (!req.idempotency_key.empty()) r.idempotency_key = req.idempotency_key;
    if (r.idempotency_key.size() > kMaxIdempotencyKey) {
        return InvalidArgument("idempotency_key", "longer than " + std::to_string(kMaxIdempotencyKey) + " bytes");
    }
    return {};
}

Result<Params> ReadReportBody(const ApiRequest& req) {
    if (req.content_type.find("application/json") != std::string::npos) {
        json j = json::parse(req.body, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return InvalidArgument("body", "not a JSON object");
        Params out;
        for (const auto& [k, v] : j.items()) {
            if (v.is_string()) {
                out.emplace_back(k, v.get<std::string>());
            } else if (v.is_number()) {
                out.emplace_back(k, v.dump(-1, ' ', false, json::error_handler_t::replace));
            } else if (!v.is_null()) {
                return InvalidArgument(k, "must be a string or a number");
            }
        }
        return out;
    }
    if (!req.content_type.empty() && req.content_type.find("application/x-www-form-urlencoded") == std::string::npos) {
        return InvalidArgument("Content-Type",
                               "'" + core::Utf8Prefix(req.content_type, 64) +
                                   "' is not application/x-www-form-urlencoded or application/json");
    }
    return ParseForm(req.body);
}

Result<incident::Report> ReportFromParams(const Params& p,
                                          const ApiRequest& req,
                                          bool open311,
                                          const incident::Taxonomy& taxonomy) {
    incident::Report r;
    r.source = incident::Source::kCitizen;
    for (const auto& [key, value] : p) {
        if (key == "lat") {
            CB_TRY_ASSIGN(double v, ParseNumber(value, "lat"));
            r.lat = v;
        } else if (key == "long") {
            CB_TRY_ASSIGN(double v, ParseNumber(value, "long"));
            r.lon = v;
        } else if (key == "address_string") {
            r.address = value;
        } else if (key == "address_id") {
            r.address_id = value;
        } else if (key == "service_code") {
            r.category = value;
        } else if (key == "description") {
            r.description = value;
        } else if (key == "media_url") {
            if (!value.empty() && value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0) {
                return InvalidArgument("media_url", "must be an http(s) URL");
            }
            r.media_url = value;
        } else if (key == "idempotency_key") {
            r.idempotency_key = value;
        } else if (open311 && key == "jurisdiction_id") {
            CB_TRY(CheckJurisdiction(value, taxonomy));
        } else if (!open311 && key == "source") {
            CB_TRY_ASSIGN(r.source, incident::ParseSource(value));
        } else if (!open311 && key == "time") {
            CB_TRY_ASSIGN(r.time_ms, core::ParseTimestamp(value, "time"));
        } else if (!open311 && key == "confidence") {
            CB_TRY_ASSIGN(r.confidence, ParseNumber(value, "confidence"));
        } else if (!open311 && key == "external_id") {
            r.external_id = value;
        } else if (!open311 && key != "api_key") {
            return InvalidArgument(core::Utf8Prefix(key, 64), "unknown field");
        }
        // Open311's personal fields (email, first_name, phone, device_id, …) are not stored: the case needs none.
    }
    CB_TRY(TakeIdempotencyKey(req, r));
    if (open311 && r.category.empty()) return InvalidArgument("service_code", "required");
    CB_TRY(incident::ValidateReport(r, taxonomy));
    return r;
}

}  // namespace citybrain::server
