// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

#include "core/error.hpp"
#include "incident/model.hpp"

namespace citybrain::zones {

/// A report as it travels on a zone's subject: JSON with the fields intake needs. The idempotency key travels as
/// the message's `Nats-Msg-Id` (JetStream's de-duplication), not in the body.
std::string EncodeReport(const incident::Report& report);
/// The inverse; the error names the field.
Result<incident::Report> DecodeReport(std::string_view json);

}  // namespace citybrain::zones
