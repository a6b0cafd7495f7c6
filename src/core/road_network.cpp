// SPDX-License-Identifier: Apache-2.0
#include "core/road_network.hpp"

#include <algorithm>
#include <cmath>

namespace citybrain::core {

const char* TurnTypeName(TurnType type) {
    switch (type) {
        case TurnType::kRight:
            return "turn_right";
        case TurnType::kLeft:
            return "turn_left";
        case TurnType::kStraight:
            return "go_straight";
    }
    return "go_straight";
}

namespace {

std::string RoadWhere(const Road& road) { return "road '" + road.id + "'"; }

// Lane centre lines: the road's centre line trimmed by the intersection boxes at signalised ends and shifted
// to the right by the lanes' widths (lane 0 innermost). Same convention as CityFlow's roadnet files.
void BuildLaneGeometry(RoadNetwork& net, Road& road) {
    std::vector<Point> base = road.points;
    const Intersection& from = net.intersections[road.from];
    const Intersection& to = net.intersections[road.to];
    if (!from.is_virtual && base.size() >= 2) base.front() = base[0] + (base[1] - base[0]).Unit() * from.width_m;
    if (!to.is_virtual && base.size() >= 2) {
        const size_t n = base.size();
        base.back() = base[n - 1] - (base[n - 1] - base[n - 2]).Unit() * to.width_m;
    }
    double offset = 0;
    for (int32_t k = 0; k < road.num_lanes; ++k) {
        Lane& lane = net.lanes[road.first_lane + k];
        const double centre = offset + lane.width_m / 2;
        lane.points.clear();
        for (size_t j = 0; j < base.size(); ++j) {
            Point dir;
            if (j == 0) {
                dir = (base[1] - base[0]).Unit();
            } else if (j + 1 == base.size()) {
                dir = (base[j] - base[j - 1]).Unit();
            } else {
                dir = ((base[j + 1] - base[j]).Unit() + (base[j] - base[j - 1]).Unit()).Unit();
            }
            lane.points.push_back(base[j] - dir.LeftNormal() * centre);
        }
        lane.length_m = road.declared_length_m > 0 ? road.declared_length_m : PolylineLength(lane.points);
        offset += lane.width_m;
    }
}

}  // namespace

Status RoadNetwork::Finalize() {
    road_index_.clear();
    intersection_index_.clear();
    for (size_t i = 0; i < intersections.size(); ++i) {
        if (!intersection_index_.emplace(intersections[i].id, static_cast<IntersectionId>(i)).second) {
            return InvalidArgument("intersection '" + intersections[i].id + "'", "duplicate id");
        }
    }
    for (size_t i = 0; i < roads.size(); ++i) {
        if (!road_index_.emplace(roads[i].id, static_cast<RoadId>(i)).second) {
            return InvalidArgument(RoadWhere(roads[i]), "duplicate id");
        }
    }
    for (Road& road : roads) {
        if (road.from < 0 || road.from >= static_cast<int32_t>(intersections.size()) || road.to < 0 ||
            road.to >= static_cast<int32_t>(intersections.size())) {
            return InvalidArgument(RoadWhere(road), "start or end intersection is missing");
        }
        if (road.points.size() < 2) return InvalidArgument(RoadWhere(road), "needs at least 2 points");
        if (road.num_lanes < 1) return InvalidArgument(RoadWhere(road), "needs at least 1 lane");
        road.length_m = PolylineLength(road.points);
        if (!(road.length_m > 0)) return InvalidArgument(RoadWhere(road), "length must be positive");
        if (road.declared_length_m > 0) road.length_m = road.declared_length_m;
        for (int32_t k = 0; k < road.num_lanes; ++k) {
            const Lane& lane = lanes[road.first_lane + k];
            if (!(lane.width_m > 0)) return InvalidArgument(RoadWhere(road), "lane width must be positive");
            if (!(lane.max_speed_mps > 0)) {
                return InvalidArgument(RoadWhere(road), "lane maxSpeed must be positive");
            }
        }
        BuildLaneGeometry(*this, road);
        for (int32_t k = 0; k < road.num_lanes; ++k) {
            if (!(lanes[road.first_lane + k].length_m > 1.0)) {
                return InvalidArgument(
                    RoadWhere(road),
                    "lane " + std::to_string(k) + " is not longer than 1 m after the intersection boxes");
            }
        }
    }
    for (Lane& lane : lanes) lane.out_links.clear();
    for (size_t id = 0; id < lane_links.size(); ++id) {
        LaneLink& link = lane_links[id];
        const RoadLink& road_link = road_links[link.road_link];
        const Lane& from = lanes[link.from_lane];
        const Lane& to = lanes[link.to_lane];
        if (from.road != road_link.from_road || to.road != road_link.to_road) {
            return InvalidArgument("intersection '" + intersections[road_link.intersection].id + "'",
                                   "lane link does not join its road link's roads");
        }
        if (link.points.size() < 2) link.points = {from.points.back(), to.points.front()};
        // A zero-length link (intersection of width 0) still needs a place to hold a vehicle for a step.
        link.length_m = std::max(PolylineLength(link.points), 0.5);
        link.conflicts.clear();
        lanes[link.from_lane].out_links.push_back(static_cast<LaneLinkId>(id));
    }
    // Conflicts: every pair of lane links of one intersection whose paths cross, or that merge into one lane.
    for (const Intersection& node : intersections) {
        std::vector<LaneLinkId> links;
        for (RoadLinkId rl : node.road_links) {
            links.insert(links.end(), road_links[rl].lane_links.begin(), road_links[rl].lane_links.end());
        }
        for (size_t i = 0; i < links.size(); ++i) {
            for (size_t j = i + 1; j < links.size(); ++j) {
                LaneLink& a = lane_links[links[i]];
                LaneLink& b = lane_links[links[j]];
                std::optional<Crossing> crossing;
                if (a.from_lane == b.from_lane) {
                    // Paths from one lane diverge at the stop line: a vehicle taking another branch waits until
                    // the previous one has cleared the line (CityFlow treats them as crossing at distance 0).
                    if (a.to_lane == b.to_lane) continue;
                    crossing = Crossing{0, 0};
                } else if (a.to_lane == b.to_lane) {
                    crossing = Crossing{a.length_m, b.length_m};
                } else {
                    crossing = FirstCrossing(a.points, b.points);
                }
                if (!crossing) continue;
                a.conflicts.push_back({links[j], crossing->along_a_m, crossing->along_b_m});
                b.conflicts.push_back({links[i], crossing->along_b_m, crossing->along_a_m});
            }
        }
        for (LaneLinkId id : links) {
            auto& c = lane_links[id].conflicts;
            std::sort(c.begin(), c.end(), [](const Conflict& x, const Conflict& y) {
                return x.along_self_m < y.along_self_m || (x.along_self_m == y.along_self_m && x.other < y.other);
            });
        }
    }
    return {};
}

RoadId RoadNetwork::FindRoad(const std::string& id) const {
    auto it = road_index_.find(id);
    return it == road_index_.end() ? kNone : it->second;
}

IntersectionId RoadNetwork::FindIntersection(const std::string& id) const {
    auto it = intersection_index_.find(id);
    return it == intersection_index_.end() ? kNone : it->second;
}

void RoadNetwork::LinksToRoad(LaneId lane, RoadId road, std::vector<LaneLinkId>& out) const {
    out.clear();
    for (LaneLinkId link : lanes[lane].out_links) {
        if (lanes[lane_links[link].to_lane].road == road) out.push_back(link);
    }
}

bool RoadNetwork::Connected(RoadId from, RoadId to) const {
    const Road& road = roads[from];
    for (int32_t k = 0; k < road.num_lanes; ++k) {
        for (LaneLinkId link : lanes[road.first_lane + k].out_links) {
            if (lanes[lane_links[link].to_lane].road == to) return true;
        }
    }
    return false;
}

int32_t RoadNetwork::NumSignalised() const {
    return static_cast<int32_t>(std::count_if(intersections.begin(), intersections.end(), [](const Intersection& n) {
        return !n.is_virtual && !n.phases.empty();
    }));
}

}  // namespace citybrain::core
