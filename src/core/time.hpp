// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace citybrain::core {

/// Engine time: integer milliseconds since the Unix epoch, UTC (DESIGN: wall clock only at the edges).
using TimeMs = int64_t;

/// Parses the timestamps CityBrain meets at its edges, strictly (a bad field is an error, never a default):
/// ISO 8601 / W3C `2023-02-28T23:45:00Z`, with optional `.fff` and `+08:00`/`-0500` offsets (no offset = UTC);
/// `2023-02-28 23:45:00` (LA 311); `02/28/2023 11:45:00 PM` (NYC 311). `where` names the field in errors.
Result<TimeMs> ParseTimestamp(std::string_view text, std::string_view where);

/// `2023-02-28T23:45:00Z` (seconds precision, UTC), as Open311 clients expect.
std::string FormatTimestamp(TimeMs t);

/// Milliseconds since the epoch from the system clock.
TimeMs NowMs();

}  // namespace citybrain::core
