// SPDX-License-Identifier: Apache-2.0
#include "incident/device_event.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/time.hpp"
#include "core/utf8.hpp"

namespace citybrain::incident {

namespace {

using Json = nlohmann::json;

Result<std::string> Text(const Json& v, const char* field) {
    if (!v.is_string()) return InvalidArgument(field, "must be a string");
    return v.get<std::string>();
}

Result<double> Number(const Json& v, const char* field) {
    if (!v.is_number()) return InvalidArgument(field, "must be a number");
    const double d = v.get<double>();
    if (!std::isfinite(d)) return InvalidArgument(field, "must be finite");
    return d;
}

}  // namespace

Result<Report> ParseDeviceEvent(std::string_view payload, std::string_view topic_device, TimeMs now) {
    const Json j = Json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return InvalidArgument("body", "not a JSON object");
    Report r;
    r.time_ms = now;
    std::string device(topic_device), event_id;
    bool has_type = false;
    for (const auto& [key, v] : j.items()) {
        if (key == "device") {
            CB_TRY_ASSIGN(std::string d, Text(v, "device"));
            if (!topic_device.empty() && d != topic_device) {
                return InvalidArgument("device", "'" + core::Utf8Prefix(d, 64) + "' is not the topic's device");
            }
            device = std::move(d);
        } else if (key == "type") {
            CB_TRY_ASSIGN(std::string t, Text(v, "type"));
            if (t != "camera" && t != "sensor" && t != "robot") {
                return InvalidArgument("type",
                                       "must be camera, sensor or robot, not '" + core::Utf8Prefix(t, 32) + "'");
            }
            CB_TRY_ASSIGN(r.source, ParseSource(t));
            has_type = true;
        } else if (key == "category") {
            CB_TRY_ASSIGN(r.category, Text(v, "category"));
        } else if (key == "lat") {
            CB_TRY_ASSIGN(double d, Number(v, "lat"));
            r.lat = d;
        } else if (key == "long") {
            CB_TRY_ASSIGN(double d, Number(v, "long"));
            r.lon = d;
        } else if (key == "confidence") {
            CB_TRY_ASSIGN(r.confidence, Number(v, "confidence"));
        } else if (key == "time") {
            if (v.is_number_integer()) {
                r.time_ms = v.get<TimeMs>();
            } else {
                CB_TRY_ASSIGN(std::string t, Text(v, "time"));
                CB_TRY_ASSIGN(r.time_ms, core::ParseTimestamp(t, "time"));
            }
        } else if (key == "event_id") {
            CB_TRY_ASSIGN(event_id, Text(v, "event_id"));
        } else if (key == "description") {
            CB_TRY_ASSIGN(r.description, Text(v, "description"));
        } else if (key == "media_url") {
            CB_TRY_ASSIGN(r.media_url, Text(v, "media_url"));
            if (r.media_url.rfind("http://", 0) != 0 && r.media_url.rfind("https://", 0) != 0) {
                return InvalidArgument("media_url", "must be an http(s) URL");
            }
        } else {
            return InvalidArgument(core::Utf8Prefix(key, 64), "unknown field");
        }
    }
    if (device.empty()) return InvalidArgument("device", "required");
    if (device.size() > 128) return InvalidArgument("device", "longer than 128 bytes");
    if (!has_type) return InvalidArgument("type", "required (camera, sensor or robot)");
    if (r.category.empty()) return InvalidArgument("category", "required: a device says what it saw");
    if (!r.lat) return InvalidArgument("lat", "required: a device reports where it saw it");
    if (r.time_ms < 0) return InvalidArgument("time", "before 1970");
    r.external_id = event_id.empty() ? device : device + "/" + event_id;
    if (!event_id.empty()) r.idempotency_key = "device:" + device + ":" + event_id;
    return r;
}

}  // namespace citybrain::incident
