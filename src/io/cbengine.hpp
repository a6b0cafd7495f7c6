// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/demand.hpp"
#include "core/error.hpp"
#include "core/road_network.hpp"

namespace citybrain::io {

/// What importing a CBEngine network decided where the file leaves a choice (reported, never silent).
struct CbengineImportNotes {
    int32_t signalised = 0;            // intersections with a signal line: 8 phases each
    int32_t priority = 0;              // other intersections where roads meet: uncontrolled, priority by movement
    int32_t boundary = 0;              // dead ends: vehicles enter and leave the network here
    int32_t geometric_turns = 0;       // movements whose turn came from the angle (no approach slots)
    int32_t permission_fallbacks = 0;  // movements no lane permits; every lane of the road may take them
};

/// Parses a CBEngine (KDD Cup 2021 City Brain Challenge) roadnet text file: intersections (lat lon id
/// signalised), two-way road segments with per-lane permissions (left through right), and the signals'
/// approach slots (north, east, south, west; the segment named there is the approach whichever of its two
/// directional ids the line uses).
///
/// The result is the engine's network:
/// - each direction of a segment is a road "<id>" whose lanes keep the file's length (lane 0 innermost);
///   positions are the lat/lon projected to metres, so drawing is schematic where a road is longer than the
///   straight line;
/// - a lane permitted a turn links to every lane of each road that turn reaches (CityFlow's convention). The
///   turn is read from the approach slots at a signalised intersection (from slot k: left k+1, through k+2,
///   right k+3) and from the angle between the roads elsewhere; U-turns are not movements; a road with one
///   way on is a through movement for all its lanes, lane k carrying on in lane k (weaving across a bend that
///   merely joins two segments would make every vehicle yield to its neighbours);
/// - a signalised intersection gets CBEngine's 8 phases (1: north and south left, 2: north and south through,
///   3: east and west left, 4: east and west through, 5..8: left and through of north, east, south, west),
///   each also permitting every right turn; use 5 s all-red and no yellow to match CBEngine;
/// - any other intersection where roads meet is uncontrolled (priority by movement); a dead end is a
///   boundary node.
///
/// Errors are InvalidArgument with `where` = "<source>:<line> <field>" and the reason.
Result<core::RoadNetwork> ParseCbengineRoadnet(std::string_view text,
                                               const std::string& source = "roadnet",
                                               CbengineImportNotes* notes = nullptr);

/// Parses a CBEngine flow file against `net`: per flow `start end interval`, the number of roads, the road
/// ids. A flow releases a vehicle at start and every interval until end (inclusive). Vehicles take CityFlow's
/// default parameters with a top speed of the fastest road on their route (the roads' limits govern).
Result<core::Demand> ParseCbengineFlows(std::string_view text,
                                        const core::RoadNetwork& net,
                                        const std::string& source = "flow");

/// A CBEngine simulator .cfg: `key : value` or `key = value` lines, `#` comments.
struct CbengineConfig {
    std::string roadnet_path;  // road_file_addr, resolved (see LoadCbengineConfig)
    std::string flow_path;     // vehicle_file_addr, resolved
    int64_t start_s = 0;       // start_time_epoch
    int64_t end_s = 3600;      // max_time_epoch
};

/// Parses a .cfg. Paths in the file are the starter kit's (/starter-kit/data/...): a path that does not exist is
/// looked up by its file name next to the .cfg, and the error names both when neither exists.
Result<CbengineConfig> LoadCbengineConfig(const std::string& path);

Result<core::RoadNetwork> LoadCbengineRoadnet(const std::string& path, CbengineImportNotes* notes = nullptr);
Result<core::Demand> LoadCbengineFlows(const std::string& path, const core::RoadNetwork& net);

}  // namespace citybrain::io
