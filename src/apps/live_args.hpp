// SPDX-License-Identifier: Apache-2.0
// What `serve --district` and `fleet-sim` parse alike, so that both sides of the fleet agree.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "district/default_district.hpp"

namespace citybrain::apps {

struct HostPort {
    std::string host;
    int port = 0;
};

/// "HOST:PORT" (the broker), or an error naming `flag`.
inline Result<HostPort> ParseHostPort(const std::string& text, const char* flag) {
    const size_t colon = text.rfind(':');
    char* end = nullptr;
    const long port = colon == std::string::npos ? 0 : std::strtol(text.c_str() + colon + 1, &end, 10);
    if (colon == std::string::npos || colon == 0 || end == nullptr || *end != '\0' || port < 1 || port > 65535) {
        return InvalidArgument(flag, "must be HOST:PORT, not '" + text + "'");
    }
    return HostPort{text.substr(0, colon), static_cast<int>(port)};
}

/// The generated district with a fleet of `units` (0: the default fleet): the same seed and count give the same
/// units on both sides of MQTT.
inline Result<district::District> FleetDistrict(int units, uint64_t seed) {
    district::DistrictSpec spec;
    if (units != 0) CB_TRY(district::SizeFleet(spec, units));
    return district::MakeDistrict(spec, seed);
}

}  // namespace citybrain::apps
