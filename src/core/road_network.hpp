// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "core/geometry.hpp"

namespace citybrain::core {

// Dense integer ids: an index into the network's arrays. -1 means none.
using IntersectionId = int32_t;
using RoadId = int32_t;
using LaneId = int32_t;
using RoadLinkId = int32_t;
using LaneLinkId = int32_t;
inline constexpr int32_t kNone = -1;

/// Movement type. The numeric order is the right-of-way order at a crossing: straight before left before right.
enum class TurnType : uint8_t { kRight = 0, kLeft = 1, kStraight = 2 };
const char* TurnTypeName(TurnType type);

struct Lane {
    RoadId road = kNone;
    int32_t index_in_road = 0;  // 0 is the innermost lane (next to the centre line), as in CityFlow
    double width_m = 4;
    double max_speed_mps = 11.111;
    double length_m = 0;        // after trimming the intersection boxes
    std::vector<Point> points;  // lane centre line
    std::vector<LaneLinkId> out_links;
};

/// Two lane links whose paths cross (or merge) inside an intersection.
struct Conflict {
    LaneLinkId other = kNone;
    double along_self_m = 0;   // distance from this link's start to the crossing point
    double along_other_m = 0;  // same, on the other link
};

/// A lane-to-lane path through an intersection (a "lane link").
struct LaneLink {
    RoadLinkId road_link = kNone;
    LaneId from_lane = kNone;
    LaneId to_lane = kNone;
    double length_m = 0;
    std::vector<Point> points;
    std::vector<Conflict> conflicts;  // sorted by along_self_m
};

/// A road-to-road movement (CityFlow "roadLink"); the unit that signal phases permit.
struct RoadLink {
    IntersectionId intersection = kNone;
    int32_t index_in_intersection = 0;
    TurnType type = TurnType::kStraight;
    RoadId from_road = kNone;
    RoadId to_road = kNone;
    std::vector<LaneLinkId> lane_links;
};

/// A signal phase: the intersection-local road link indices it permits, and its plan duration.
struct Phase {
    double duration_s = 30;
    std::vector<int32_t> road_links;  // indices into Intersection::road_links
};

struct Intersection {
    std::string id;
    Point point;
    double width_m = 0;
    bool is_virtual = false;  // a boundary node: vehicles enter and leave the network here
    std::vector<RoadId> roads;
    std::vector<RoadLinkId> road_links;  // global ids, in the file's order
    std::vector<Phase> phases;
};

struct Road {
    std::string id;
    std::string name;  // human-readable street name, when known
    IntersectionId from = kNone;
    IntersectionId to = kNone;
    std::vector<Point> points;
    LaneId first_lane = 0;
    int32_t num_lanes = 0;
    double length_m = 0;  // centre-line length, untrimmed
    /// > 0: the length the source file declares (CBEngine). Lanes take it, untrimmed, and the drawn geometry
    /// is only schematic; 0: lengths come from the points, as in CityFlow.
    double declared_length_m = 0;
};

/// The road network: intersections, roads, lanes, movements and phases, in dense arrays.
/// Build it (loader or generator), then call Finalize() once; afterwards it is read-only.
class RoadNetwork {
public:
    std::vector<Intersection> intersections;
    std::vector<Road> roads;
    std::vector<Lane> lanes;
    std::vector<RoadLink> road_links;
    std::vector<LaneLink> lane_links;

    /// Derives lane geometry and lengths, lane-link lengths, conflicts and the id indexes, and checks
    /// consistency (a movement that names a lane the road lacks, a non-positive length, ...).
    /// Errors name the item by its file id.
    Status Finalize();

    RoadId FindRoad(const std::string& id) const;
    IntersectionId FindIntersection(const std::string& id) const;

    /// Lane links from `lane` whose end lane lies on `road`.
    void LinksToRoad(LaneId lane, RoadId road, std::vector<LaneLinkId>& out) const;

    /// True if some lane of `from` has a lane link into `to`.
    bool Connected(RoadId from, RoadId to) const;

    int32_t NumSignalised() const;

private:
    std::unordered_map<std::string, RoadId> road_index_;
    std::unordered_map<std::string, IntersectionId> intersection_index_;
};

}  // namespace citybrain::core
