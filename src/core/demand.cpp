// SPDX-License-Identifier: Apache-2.0
#include "core/demand.hpp"

namespace citybrain::core {

namespace {

// Lanes of `road` reachable from `from_lanes` (or all lanes when from_lanes is empty) that have a link into `next`.
bool AnyLaneContinues(const RoadNetwork& net, RoadId road, RoadId next) {
    const Road& r = net.roads[road];
    std::vector<LaneLinkId> links;
    for (int32_t k = 0; k < r.num_lanes; ++k) {
        net.LinksToRoad(r.first_lane + k, next, links);
        if (!links.empty()) return true;
    }
    return false;
}

}  // namespace

std::vector<RouteProblem> CheckRoutes(const RoadNetwork& net, const Demand& demand) {
    std::vector<RouteProblem> problems;
    std::vector<LaneLinkId> links;
    std::vector<LaneLinkId> onward;
    for (size_t f = 0; f < demand.flows.size(); ++f) {
        const auto& route = demand.flows[f].route;
        if (route.empty()) {
            problems.push_back({f, 0, "route is empty"});
            continue;
        }
        for (size_t i = 0; i + 1 < route.size(); ++i) {
            if (!AnyLaneContinues(net, route[i], route[i + 1])) {
                problems.push_back(
                    {f,
                     i + 1,
                     "road '" + net.roads[route[i]].id + "' does not connect to '" + net.roads[route[i + 1]].id + "'"});
                break;
            }
            if (i + 2 < route.size()) {
                // Some link into route[i+1] must land on a lane that continues to route[i+2].
                bool ok = false;
                const Road& road = net.roads[route[i]];
                for (int32_t k = 0; k < road.num_lanes && !ok; ++k) {
                    net.LinksToRoad(road.first_lane + k, route[i + 1], links);
                    for (LaneLinkId l : links) {
                        net.LinksToRoad(net.lane_links[l].to_lane, route[i + 2], onward);
                        if (!onward.empty()) {
                            ok = true;
                            break;
                        }
                    }
                }
                if (!ok) {
                    problems.push_back({f,
                                        i + 2,
                                        "no lane of '" + net.roads[route[i + 1]].id + "' entered from '" +
                                            net.roads[route[i]].id + "' leads to '" + net.roads[route[i + 2]].id +
                                            "'"});
                    break;
                }
            }
        }
    }
    return problems;
}

std::string DescribeRouteProblems(const RoadNetwork& net,
                                  const Demand& demand,
                                  const std::vector<RouteProblem>& problems,
                                  size_t max_examples) {
    (void)net;
    std::string out = std::to_string(problems.size()) + " flow(s) have a route that cannot be followed";
    for (size_t i = 0; i < problems.size() && i < max_examples; ++i) {
        const RouteProblem& p = problems[i];
        out += "\n  flows[" + std::to_string(p.flow_index) + "].route[" + std::to_string(p.route_position) + "] (" +
               demand.flows[p.flow_index].id + "): " + p.message;
    }
    if (problems.size() > max_examples) out += "\n  ...";
    return out;
}

}  // namespace citybrain::core
