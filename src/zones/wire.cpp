// SPDX-License-Identifier: Apache-2.0
#include "zones/wire.hpp"

#include <nlohmann/json.hpp>

namespace citybrain::zones {

std::string EncodeReport(const incident::Report& r) {
    nlohmann::json j = {{"source", incident::SourceName(r.source)},
                        {"time_ms", r.time_ms},
                        {"received_ms", r.received_ms},
                        {"category", r.category},
                        {"description", r.description}};
    if (r.lat) j["lat"] = *r.lat;
    if (r.lon) j["long"] = *r.lon;
    if (!r.address.empty()) j["address"] = r.address;
    if (!r.address_id.empty()) j["address_id"] = r.address_id;
    if (!r.media_url.empty()) j["media_url"] = r.media_url;
    if (r.confidence != 1.0) j["confidence"] = r.confidence;
    if (!r.external_id.empty()) j["external_id"] = r.external_id;
    if (!r.via.empty()) j["via"] = r.via;
    return j.dump();
}

Result<incident::Report> DecodeReport(std::string_view text) {
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return InvalidArgument("body", "not a JSON object");
    incident::Report r;
    auto str = [&](const char* key, std::string& out) -> Status {
        if (!j.contains(key)) return {};
        if (!j[key].is_string()) return InvalidArgument(key, "must be a string");
        out = j[key].get<std::string>();
        return {};
    };
    auto num = [&](const char* key, std::optional<double>& out) -> Status {
        if (!j.contains(key)) return {};
        if (!j[key].is_number()) return InvalidArgument(key, "must be a number");
        out = j[key].get<double>();
        return {};
    };
    auto ms = [&](const char* key, incident::TimeMs& out) -> Status {
        if (!j.contains(key)) return {};
        if (!j[key].is_number_integer()) return InvalidArgument(key, "must be an integer (milliseconds)");
        out = j[key].get<incident::TimeMs>();
        return {};
    };
    for (const auto& [key, _] : j.items()) {
        static constexpr std::string_view kKnown[] = {"source",
                                                      "time_ms",
                                                      "received_ms",
                                                      "category",
                                                      "description",
                                                      "lat",
                                                      "long",
                                                      "address",
                                                      "address_id",
                                                      "media_url",
                                                      "confidence",
                                                      "external_id",
                                                      "via"};
        if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
            return InvalidArgument(key.empty() ? "\"\"" : key, "unknown field");  // a field still named
        }
    }
    std::string source = "citizen";
    CB_TRY(str("source", source));
    CB_TRY_ASSIGN(r.source, incident::ParseSource(source));
    CB_TRY(ms("time_ms", r.time_ms));
    CB_TRY(ms("received_ms", r.received_ms));
    CB_TRY(str("category", r.category));
    CB_TRY(str("description", r.description));
    CB_TRY(num("lat", r.lat));
    CB_TRY(num("long", r.lon));
    CB_TRY(str("address", r.address));
    CB_TRY(str("address_id", r.address_id));
    CB_TRY(str("media_url", r.media_url));
    std::optional<double> confidence;
    CB_TRY(num("confidence", confidence));
    if (confidence) r.confidence = *confidence;
    CB_TRY(str("external_id", r.external_id));
    CB_TRY(str("via", r.via));
    return r;
}

}  // namespace citybrain::zones
