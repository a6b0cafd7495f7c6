// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

#include "core/error.hpp"
#include "incident/model.hpp"
#include "incident/taxonomy.hpp"
#include "server/api.hpp"
#include "server/form.hpp"

namespace citybrain::server {

/// The longest idempotency key a client may send.
inline constexpr size_t kMaxIdempotencyKey = 256;

/// Reads a report's POST body: form-encoded (Open311's spec) or a JSON object of the same names.
Result<Params> ReadReportBody(const ApiRequest& req);

/// A report from the fields shared by Open311's POST (`open311`) and CityBrain's own report intake, validated
/// against the taxonomy. The error names the field.
Result<incident::Report> ReportFromParams(const Params& p,
                                          const ApiRequest& req,
                                          bool open311,
                                          const incident::Taxonomy& taxonomy);

/// The Idempotency-Key header, when sent, wins over a body's own key; either is at most kMaxIdempotencyKey.
Status TakeIdempotencyKey(const ApiRequest& req, incident::Report& r);

/// Open311's jurisdiction_id: this server answers for one, and another is a resource it does not have.
Status CheckJurisdiction(const std::string& id, const incident::Taxonomy& taxonomy);

/// Device sources carry evidence a camera or a robot would: only a key that speaks for devices posts them.
bool DeviceSource(incident::Source s);

/// What a key's write carries: its name, and idempotency keys in its own scope (tenant B reusing tenant A's
/// Idempotency-Key is a different report, and never sees A's receipt). A device event's own key (device and event
/// id, `incident::ParseDeviceEvent`) is already the device's scope, the same over MQTT and HTTP, so it stays as it is
/// unless the client sent its own (`scope_key` false).
void Stamp(incident::Report& r, const ApiKey& key, bool scope_key = true);

/// A report's own time must be recent: a year back at most (older data goes through `incidents replay`) and ten
/// minutes ahead at most (clock skew). Anything else is a client's mistake, and a year 9999 would make deadlines
/// overflow. 0 means "now" (the intake stamps it).
Status CheckReportTime(incident::TimeMs t, incident::TimeMs now);

/// A finite number, or an error naming `field`.
Result<double> ParseNumber(const std::string& text, const char* field);

}  // namespace citybrain::server
