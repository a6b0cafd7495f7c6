// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

#include "core/demand.hpp"
#include "core/error.hpp"
#include "core/file.hpp"
#include "core/road_network.hpp"

namespace citybrain::io {

/// Parses a CityFlow roadnet JSON document (every field CityFlow documents; numbers given as strings are
/// accepted). Errors are InvalidArgument with `where` = "<source>: <JSON path>", e.g.
/// "roadnet.json: intersections[3].roadLinks[2].endRoad" and a message such as "unknown road 'road_9_9_0'".
Result<core::RoadNetwork> ParseRoadnet(std::string_view text, const std::string& source = "roadnet");

/// Parses a CityFlow flow JSON document against `net` (route road ids must exist). Route connectivity is
/// checked separately by core::CheckRoutes so the caller decides how to report it.
Result<core::Demand> ParseFlows(std::string_view text,
                                const core::RoadNetwork& net,
                                const std::string& source = "flow");

using core::ReadFile;

Result<core::RoadNetwork> LoadRoadnet(const std::string& path);
Result<core::Demand> LoadFlows(const std::string& path, const core::RoadNetwork& net);

/// Serialises a network / demand in CityFlow's format (round-trips through the parsers).
std::string WriteRoadnet(const core::RoadNetwork& net);
std::string WriteFlows(const core::RoadNetwork& net, const core::Demand& demand);

}  // namespace citybrain::io
