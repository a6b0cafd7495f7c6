// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "core/road_network.hpp"
#include "core/time.hpp"

namespace citybrain::dispatch {

using NodeId = uint32_t;
/// Travel times are integer milliseconds, the one time type of every engine (core::TimeMs): exact sums, so CH
/// and Dijkstra agree to the millisecond.
using TimeMs = core::TimeMs;
inline constexpr TimeMs kUnreachable = std::numeric_limits<TimeMs>::max();

/// A directed road graph for routing units (robots, crews), in CSR form: the out-edges of node v are
/// [first_out[v], first_out[v+1]). Built from the simulator's road network, so travel times can follow live
/// road speeds.
struct RoadGraph {
    std::vector<std::string> node_names;
    std::vector<core::Point> node_xy;
    std::vector<uint32_t> first_out;  // size nodes + 1
    std::vector<NodeId> head;
    std::vector<uint32_t> time_ms;
    std::vector<float> length_m;
    std::vector<int32_t> road;  // the source road of each edge, for speed updates
    /// Street names by road id where the source has them (SUMO `name`, OSM `name`), "" otherwise: the gazetteer
    /// for place extraction is built from them.
    std::vector<std::string> road_names;

    size_t nodes() const { return node_names.size(); }
    size_t edges() const { return head.size(); }

    /// The node called `name`, or an error naming it.
    Result<NodeId> Find(const std::string& name) const;

    /// Intersections become nodes, roads directed edges; an edge's time is its length at the road's speed limit
    /// (the fastest lane's maximum speed).
    static Result<RoadGraph> FromRoadNetwork(const core::RoadNetwork& net);

    /// Live traffic: sets each edge's time from the observed speed of its source road (`speed_mps[road]`, e.g. the
    /// simulator's mean speed per road). Speeds at or below `floor_mps` count as `floor_mps` (a jam is slow, not
    /// closed); roads without an entry (index past the end, or NaN) keep their time. A contraction hierarchy built
    /// before must be built again. Returns how many edges changed.
    size_t UpdateRoadSpeeds(const std::vector<double>& speed_mps, double floor_mps = 0.5);

    /// A directed edge before the graph is built.
    struct EdgeSpec {
        NodeId from = 0;
        NodeId to = 0;
        double length_m = 0;
        double speed_mps = 0;
        int32_t road = -1;
    };
    /// Builds the CSR graph; `where` names the source in errors (an edge without a positive length or speed).
    static Result<RoadGraph> Build(std::vector<std::string> names,
                                   std::vector<core::Point> xy,
                                   std::vector<EdgeSpec> edges,
                                   const std::string& where);

private:
    std::unordered_map<std::string, NodeId> by_name_;
    friend struct GraphBuilder;
};

struct Path {
    TimeMs time_ms = kUnreachable;
    double length_m = 0;
    std::vector<NodeId> nodes;
};

/// The reference: Dijkstra with a binary heap. nullopt when `to` cannot be reached.
std::optional<Path> ShortestPath(const RoadGraph& g, NodeId from, NodeId to);

/// Travel times from `from` to every node (kUnreachable where none).
std::vector<TimeMs> OneToAll(const RoadGraph& g, NodeId from);

/// The nodes of the strongly connected component holding the busiest node (most out-edges): from each of them
/// every other can be reached and back. Real extracts have one-way stubs cut at the border; units and tasks are
/// placed on this component. Sorted.
std::vector<NodeId> MainComponent(const RoadGraph& g);

/// SUMO plain XML (`PREFIX.nod.xml`, `PREFIX.edg.xml`, optional `PREFIX.typ.xml`; `path` may name any of them).
/// Coordinates are lon/lat when netconvert's comment says `proj.plain-geo value="true"`, else metres. Edges closed to
/// passenger vehicles are left out. Errors name the file and the element (`FuTian.edg.xml: edge 'x': unknown node
/// 'y'`).
Result<RoadGraph> LoadSumoPlain(const std::string& path);

/// A SUMO network (`.net.xml`, netconvert's output): junctions become nodes (internal ones left out), normal edges
/// directed edges at the speed of their fastest lane open to cars. Coordinates are the network's (metres).
Result<RoadGraph> LoadSumoNet(const std::string& path);

/// An OpenStreetMap extract (`.osm.pbf`, or `.osm` XML) through libosmium: the ways cars may use (highway=motorway
/// … service; not access=no/private), split at intersections, with oneway and roundabouts honoured and speeds from
/// maxspeed (km/h or mph) or the highway class. Node names are OSM node ids; coordinates local metres.
Result<RoadGraph> LoadOsm(const std::string& path);

/// By extension: SUMO plain XML (`.nod.xml`/`.edg.xml`), SUMO `.net.xml`, OSM `.osm.pbf`/`.osm`. (CityFlow
/// roadnets load through io::LoadRoadnet and RoadGraph::FromRoadNetwork.)
Result<RoadGraph> LoadRoadGraph(const std::string& path);

}  // namespace citybrain::dispatch
