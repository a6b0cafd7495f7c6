// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/demand.hpp"
#include "core/error.hpp"
#include "core/road_network.hpp"

namespace citybrain::io {

/// What importing a SUMO network left out or decided (reported, never silent).
struct SumoImportNotes {
    int32_t signalised = 0;       // junctions with a traffic light: the tlLogic's phases
    int32_t priority = 0;         // other junctions where roads meet: uncontrolled, priority by movement
    int32_t boundary = 0;         // dead ends and one-neighbour junctions: vehicles enter and leave here
    int32_t u_turns_skipped = 0;  // connections with dir="t": the engine has no U-turn movement
    int32_t lanes_skipped = 0;    // lanes closed to passenger cars (sidewalks, bus and bike lanes)
    int32_t edges_skipped = 0;    // internal, crossing and walking-area edges, and edges left without lanes
};

/// Parses a SUMO `.net.xml` (netconvert output): normal edges and their lanes (SUMO's lane 0 is the outermost;
/// the engine's lane 0 is the innermost, so indices are mirrored), junctions, connections and the static
/// programs of `tlLogic`.
///
/// - Each edge is a road "<edge id>" between its junctions' centres; its lanes keep SUMO's (trimmed) length, and
///   the junction box is sized from where the lanes end.
/// - Connections between two normal edges become movements: dir s, l (L), r (R) are straight, left and right.
///   One road link per (from edge, to edge), one lane link per connection.
/// - A junction whose connections name a traffic light gets that program's phases in order (duration from
///   `duration`; a movement is green in a phase when its state is G, g or s; y and r stop it), so the
///   roadnet's own plan replays SUMO's program, yellow phases included (run it with --yellow 0).
///   Other junctions are uncontrolled (priority by movement); junctions with one neighbour are boundary nodes.
///
/// Errors are InvalidArgument with `where` = "<source>:<line> <element>[@attribute]" and the reason.
Result<core::RoadNetwork> ParseSumoNet(std::string_view text,
                                       const std::string& source = "net.xml",
                                       SumoImportNotes* notes = nullptr);

/// Parses SUMO demand (`.rou.xml` or `.trips.xml`, any mix) against `net`:
/// - `vType` (accel, decel, emergencyDecel, length, minGap, maxSpeed, width, tau);
/// - `route` (named, or inside a vehicle or flow);
/// - `vehicle` (depart, route), `trip` (depart, from, to, optional via: routed over the network by free-flow
///   time), and `flow` (begin, end, and one of period, vehsPerHour or number; also with from/to).
/// Departures must be numbers of seconds ("triggered" and random `probability` flows are refused, by name).
/// Routes are road ids; a trip that no path serves is an error naming the trip.
Result<core::Demand> ParseSumoRoutes(std::string_view text,
                                     const core::RoadNetwork& net,
                                     const std::string& source = "rou.xml");

Result<core::RoadNetwork> LoadSumoNet(const std::string& path, SumoImportNotes* notes = nullptr);
Result<core::Demand> LoadSumoRoutes(const std::string& path, const core::RoadNetwork& net);

}  // namespace citybrain::io
