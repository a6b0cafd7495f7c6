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

/// A finite number, or an error naming `field`.
Result<double> ParseNumber(const std::string& text, const char* field);

}  // namespace citybrain::server
