// SPDX-License-Identifier: Apache-2.0
#include "core/network_generator.hpp"

#include <array>
#include <map>
#include <string>

namespace citybrain::core {

Status GridSpec::Validate() const {
    if (rows < 1 || rows > 200)
        return InvalidArgument("grid.rows", "must be in 1..200 (got " + std::to_string(rows) + ")");
    if (cols < 1 || cols > 200)
        return InvalidArgument("grid.cols", "must be in 1..200 (got " + std::to_string(cols) + ")");
    if (!(block_m > 2 * box_m + 20)) return InvalidArgument("grid.block_m", "must exceed twice the box plus 20 m");
    if (!(box_m >= 0)) return InvalidArgument("grid.box_m", "must be >= 0");
    if (lanes < 1 || lanes > 6) return InvalidArgument("grid.lanes", "must be in 1..6");
    if (arterial_lanes < 1 || arterial_lanes > 6) return InvalidArgument("grid.arterial_lanes", "must be in 1..6");
    if (!(speed_mps > 0) || !(arterial_speed_mps > 0)) return InvalidArgument("grid.speed_mps", "must be positive");
    if (!(green_s > 0) || !(clearance_s >= 0)) return InvalidArgument("grid.green_s", "must be positive");
    return {};
}

namespace {

constexpr std::array<int, 4> kDx = {1, 0, -1, 0};
constexpr std::array<int, 4> kDy = {0, 1, 0, -1};

std::string NodeId(int c, int r) { return "intersection_" + std::to_string(c) + "_" + std::to_string(r); }

// Which lanes of an n-lane approach serve a turn: left from the innermost lane, right from the outermost,
// through from the ones between (with 1 or 2 lanes, lanes are shared).
std::vector<int32_t> LanesFor(TurnType type, int32_t n) {
    std::vector<int32_t> out;
    if (n == 1) return {0};
    if (n == 2) {
        if (type == TurnType::kLeft) return {0};
        if (type == TurnType::kRight) return {1};
        return {0, 1};
    }
    if (type == TurnType::kLeft) return {0};
    if (type == TurnType::kRight) return {n - 1};
    for (int32_t k = 1; k < n - 1; ++k) out.push_back(k);
    return out;
}

}  // namespace

Result<RoadNetwork> GenerateGrid(const GridSpec& spec) {
    CB_TRY(spec.Validate());
    RoadNetwork net;
    // Node (c, r) for c in 0..cols+1, r in 0..rows+1; interior nodes are signalised, edge ones virtual.
    std::map<std::pair<int, int>, IntersectionId> node_of;
    auto interior = [&](int c, int r) { return c >= 1 && c <= spec.cols && r >= 1 && r <= spec.rows; };
    for (int r = 0; r <= spec.rows + 1; ++r) {
        for (int c = 0; c <= spec.cols + 1; ++c) {
            const bool inside = interior(c, r);
            const bool edge = !inside && ((c >= 1 && c <= spec.cols) != (r >= 1 && r <= spec.rows));
            if (!inside && !edge) continue;
            Intersection node;
            node.id = NodeId(c, r);
            node.point = {(c - 1) * spec.block_m, (r - 1) * spec.block_m};
            node.width_m = inside ? spec.box_m : 0;
            node.is_virtual = !inside;
            node_of[{c, r}] = static_cast<IntersectionId>(net.intersections.size());
            net.intersections.push_back(std::move(node));
        }
    }
    auto is_arterial_row = [&](int r) { return spec.arterial_every > 0 && r >= 1 && r % spec.arterial_every == 0; };
    // Roads leave every node towards each existing neighbour, unless both ends are virtual.
    std::map<std::tuple<int, int, int>, RoadId> road_of;  // (c, r, dir) of the road's start node
    for (const auto& [cr, from] : node_of) {
        const auto [c, r] = cr;
        for (int dir = 0; dir < 4; ++dir) {
            auto it = node_of.find({c + kDx[dir], r + kDy[dir]});
            if (it == node_of.end()) continue;
            if (!interior(c, r) && !interior(c + kDx[dir], r + kDy[dir])) continue;
            Road road;
            road.id = "road_" + std::to_string(c) + "_" + std::to_string(r) + "_" + std::to_string(dir);
            const bool horizontal = dir % 2 == 0;
            const bool arterial = horizontal && is_arterial_row(r);
            road.name = horizontal ? "Row " + std::to_string(r) + (arterial ? " Avenue" : " Street")
                                   : "Column " + std::to_string(c) + " Road";
            road.from = from;
            road.to = it->second;
            road.points = {net.intersections[from].point, net.intersections[it->second].point};
            road.first_lane = static_cast<LaneId>(net.lanes.size());
            road.num_lanes = arterial ? spec.arterial_lanes : spec.lanes;
            const RoadId road_id = static_cast<RoadId>(net.roads.size());
            for (int32_t k = 0; k < road.num_lanes; ++k) {
                Lane lane;
                lane.road = road_id;
                lane.index_in_road = k;
                lane.width_m = 4;
                lane.max_speed_mps = arterial ? spec.arterial_speed_mps : spec.speed_mps;
                net.lanes.push_back(lane);
            }
            net.intersections[from].roads.push_back(road_id);
            net.intersections[it->second].roads.push_back(road_id);
            road_of[{c, r, dir}] = road_id;
            net.roads.push_back(std::move(road));
        }
    }
    // Movements at interior nodes: from each incoming road (heading `in_dir`) to each outgoing road but the U-turn.
    for (int r = 1; r <= spec.rows; ++r) {
        for (int c = 1; c <= spec.cols; ++c) {
            const IntersectionId node_id = node_of[{c, r}];
            Intersection& node = net.intersections[node_id];
            // local link indices per (in_dir, turn) for the phase table
            std::map<std::pair<int, TurnType>, int32_t> local;
            for (int in_dir = 0; in_dir < 4; ++in_dir) {
                auto in_it = road_of.find({c - kDx[in_dir], r - kDy[in_dir], in_dir});
                if (in_it == road_of.end()) continue;
                for (TurnType type : {TurnType::kStraight, TurnType::kLeft, TurnType::kRight}) {
                    const int out_dir = type == TurnType::kStraight ? in_dir
                                        : type == TurnType::kLeft   ? (in_dir + 1) % 4
                                                                    : (in_dir + 3) % 4;
                    auto out_it = road_of.find({c, r, out_dir});
                    if (out_it == road_of.end()) continue;
                    RoadLink link;
                    link.intersection = node_id;
                    link.index_in_intersection = static_cast<int32_t>(node.road_links.size());
                    link.type = type;
                    link.from_road = in_it->second;
                    link.to_road = out_it->second;
                    const RoadLinkId link_id = static_cast<RoadLinkId>(net.road_links.size());
                    const Road& in_road = net.roads[link.from_road];
                    const Road& out_road = net.roads[link.to_road];
                    for (int32_t from_k : LanesFor(type, in_road.num_lanes)) {
                        for (int32_t to_k = 0; to_k < out_road.num_lanes; ++to_k) {
                            LaneLink ll;
                            ll.road_link = link_id;
                            ll.from_lane = in_road.first_lane + from_k;
                            ll.to_lane = out_road.first_lane + to_k;
                            link.lane_links.push_back(static_cast<LaneLinkId>(net.lane_links.size()));
                            net.lane_links.push_back(ll);
                        }
                    }
                    local[{in_dir, type}] = link.index_in_intersection;
                    node.road_links.push_back(link_id);
                    net.road_links.push_back(std::move(link));
                }
            }
            auto add = [&](Phase& p, int dir, TurnType t) {
                auto it = local.find({dir, t});
                if (it != local.end()) p.road_links.push_back(it->second);
            };
            Phase clearance{spec.clearance_s, {}};
            for (int d = 0; d < 4; ++d) add(clearance, d, TurnType::kRight);
            node.phases.push_back(clearance);
            // dir 0 = heading east (coming from the west): WT_ET is dirs 0 and 2 through.
            const std::array<std::pair<std::array<int, 2>, TurnType>, 4> table = {{{{0, 2}, TurnType::kStraight},
                                                                                   {{1, 3}, TurnType::kStraight},
                                                                                   {{0, 2}, TurnType::kLeft},
                                                                                   {{1, 3}, TurnType::kLeft}}};
            for (const auto& [dirs, type] : table) {
                Phase p = clearance;
                p.duration_s = spec.green_s;
                for (int d : dirs) add(p, d, type);
                node.phases.push_back(p);
            }
        }
    }
    CB_TRY(net.Finalize());
    return net;
}

}  // namespace citybrain::core
