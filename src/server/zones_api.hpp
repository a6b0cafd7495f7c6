// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <variant>

#include "incident/taxonomy.hpp"
#include "server/api.hpp"

namespace citybrain::zones {
class CityIntake;
}

namespace citybrain::server {

/// A zone node's HTTP API (`citybrain serve --zones`): it parses, validates, calls the city's intake facade and
/// renders. A report posted to any node goes to its zone on the bus and is answered once JetStream has stored it,
/// with a token; any node answers what became of a token.
///
///   POST /open311/v2/requests.json   Open311's fields → 201 [{"token", "service_notice"}] (the spec's answer when
///                                    the request's id is not known yet)
///   GET  /open311/v2/tokens/{token}.json → [{"token", "service_request_id"}] once filed ("<zone>-<report id>")
///   POST /api/v1/reports             CityBrain's report fields → 202 {"token", "zone", "stream_seq", "duplicate"}
///   GET  /api/v1/reports/{token}     → {"token", "zone", "state": "queued"|"filed", and the case once filed}
///   GET  /api/v1/zones               → which live node holds which zone, each zone's backlog and polygon
///   GET  /                           the zones console (web/zones.html), which draws that once a second
class ZonesApi {
public:
    ZonesApi(zones::CityIntake& city, const incident::Taxonomy& taxonomy, ApiKeys keys);
    /// Calls `done` exactly once: on this thread, or for a posted report on the intake's publisher thread once
    /// JetStream has stored it (reports posted at the same time are published together).
    void Handle(const ApiRequest& request, const std::function<void(ApiResponse)>& done);

private:
    Result<ApiResponse> Route(const ApiRequest& req, const std::string& path);
    void Post(const ApiRequest& req, const std::string& path, const std::function<void(ApiResponse)>& done);
    /// The report a POST carries, validated and stamped; or the answer that refuses it.
    using Checked = std::variant<incident::Report, ApiResponse>;
    Result<Checked> Validate(const ApiRequest& req, bool open311);

    zones::CityIntake& city_;
    const incident::Taxonomy& taxonomy_;
    ApiKeys keys_;
};

}  // namespace citybrain::server
