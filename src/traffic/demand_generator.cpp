// SPDX-License-Identifier: Apache-2.0
#include "traffic/demand_generator.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <random>

namespace citybrain::traffic {

Status DemandSpec::Validate() const {
    if (!(vehicles_per_hour >= 0) || vehicles_per_hour > 1e6)
        return InvalidArgument("demand.vehicles_per_hour", "must be in [0, 1e6]");
    if (!(duration_s > 0)) return InvalidArgument("demand.duration_s", "must be positive");
    if (!(peak_width_s > 0)) return InvalidArgument("demand.peak_width_s", "must be positive");
    if (!(peak_ratio >= 1)) return InvalidArgument("demand.peak_ratio", "must be >= 1");
    return {};
}

namespace {

// Fastest free-flow routes from one road to every road (roads are the graph's nodes; road links its edges).
void RoutesFrom(const core::RoadNetwork& net,
                core::RoadId origin,
                const std::vector<std::vector<core::RoadId>>& next,
                std::vector<double>& cost,
                std::vector<core::RoadId>& parent) {
    cost.assign(net.roads.size(), std::numeric_limits<double>::infinity());
    parent.assign(net.roads.size(), core::kNone);
    using Item = std::pair<double, core::RoadId>;
    std::priority_queue<Item, std::vector<Item>, std::greater<>> queue;
    cost[origin] = 0;
    queue.emplace(0, origin);
    while (!queue.empty()) {
        auto [c, r] = queue.top();
        queue.pop();
        if (c > cost[r]) continue;
        for (core::RoadId s : next[r]) {
            const core::Lane& lane = net.lanes[net.roads[s].first_lane];
            const double nc = c + lane.length_m / lane.max_speed_mps;
            if (nc < cost[s]) {
                cost[s] = nc;
                parent[s] = r;
                queue.emplace(nc, s);
            }
        }
    }
}

}  // namespace

Result<core::Demand> GenerateDemand(const core::RoadNetwork& net, const DemandSpec& spec) {
    CB_TRY(spec.Validate());
    std::vector<core::RoadId> entries;
    std::vector<core::RoadId> exits;
    for (size_t r = 0; r < net.roads.size(); ++r) {
        if (net.intersections[net.roads[r].from].is_virtual) entries.push_back(static_cast<core::RoadId>(r));
        if (net.intersections[net.roads[r].to].is_virtual) exits.push_back(static_cast<core::RoadId>(r));
    }
    if (entries.empty() || exits.empty()) return InvalidArgument("roadnet", "no boundary roads to generate demand on");
    std::vector<std::vector<core::RoadId>> next(net.roads.size());
    for (const core::RoadLink& rl : net.road_links) {
        if (std::find(next[rl.from_road].begin(), next[rl.from_road].end(), rl.to_road) == next[rl.from_road].end()) {
            next[rl.from_road].push_back(rl.to_road);
        }
    }
    // Reachable exits per entry, with routes.
    std::vector<std::vector<std::vector<core::RoadId>>> routes(entries.size());
    std::vector<double> cost;
    std::vector<core::RoadId> parent;
    for (size_t e = 0; e < entries.size(); ++e) {
        RoutesFrom(net, entries[e], next, cost, parent);
        for (core::RoadId x : exits) {
            if (!std::isfinite(cost[x]) || x == entries[e]) continue;
            if (net.roads[x].to == net.roads[entries[e]].from) continue;  // straight back out where it came in
            std::vector<core::RoadId> route;
            for (core::RoadId r = x; r != core::kNone; r = parent[r]) route.push_back(r);
            std::reverse(route.begin(), route.end());
            if (route.size() >= 2) routes[e].push_back(std::move(route));
        }
    }
    std::vector<size_t> usable;
    for (size_t e = 0; e < entries.size(); ++e) {
        if (!routes[e].empty()) usable.push_back(e);
    }
    if (usable.empty()) return InvalidArgument("roadnet", "no entry road reaches an exit road");

    // Thinning (Lewis-Shedler) against the peak rate; the base rate is scaled so the mean is vehicles_per_hour.
    const double t0 = 0;
    const double t1 = spec.duration_s;
    const double sd = spec.peak_width_s;
    const double bump =
        (spec.peak_ratio - 1) * sd * std::sqrt(2 * M_PI) * 0.5 *
        (std::erf((t1 - spec.peak_at_s) / (sd * std::sqrt(2))) - std::erf((t0 - spec.peak_at_s) / (sd * std::sqrt(2))));
    const double expected = spec.vehicles_per_hour * spec.duration_s / 3600.0;
    const double base = expected / (spec.duration_s + bump);  // vehicles per second outside the peak
    const double max_rate = base * spec.peak_ratio;
    std::mt19937_64 rng(spec.seed);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    core::Demand demand;
    if (max_rate <= 0) return demand;
    double t = 0;
    while (true) {
        t += -std::log(1.0 - unit(rng)) / max_rate;
        if (t >= spec.duration_s) break;
        const double z = (t - spec.peak_at_s) / sd;
        const double rate = base * (1 + (spec.peak_ratio - 1) * std::exp(-0.5 * z * z));
        if (unit(rng) * max_rate > rate) continue;
        const size_t e = usable[rng() % usable.size()];
        const auto& options = routes[e];
        core::Flow flow;
        flow.id = "gen_" + std::to_string(demand.flows.size());
        flow.vehicle = spec.vehicle;
        flow.route = options[rng() % options.size()];
        flow.start_s = std::floor(t);
        flow.end_s = flow.start_s;
        flow.interval_s = 1;
        demand.flows.push_back(std::move(flow));
    }
    return demand;
}

}  // namespace citybrain::traffic
