// SPDX-License-Identifier: Apache-2.0
#include "dispatch/dispatcher.hpp"

#include <cmath>

namespace citybrain::dispatch {

Result<Dispatcher> Dispatcher::Create(RoadGraph drive, RoadGraph walk, Options options) {
    if (drive.nodes() == 0) return InvalidArgument("roads", "the road graph has no nodes");
    if (walk.nodes() != 0 && walk.nodes() != drive.nodes()) {
        return InvalidArgument("footways", "the walk graph must share the road graph's nodes");
    }
    for (size_t k = 0; k < kUnitKinds; ++k) {
        const double pace = options.walk_pace_mps[k];
        if (!std::isfinite(pace) || pace <= 0 || pace > 100) {
            return InvalidArgument(std::string("pace.") + UnitKindName(static_cast<UnitKind>(k)),
                                   "must be in (0, 100] m/s");
        }
    }
    Dispatcher d;
    d.drive_ = std::move(drive);
    d.walk_ = std::move(walk);
    d.options_ = options;
    d.drive_ch_ = ContractionHierarchy::Build(d.drive_);
    if (d.walk_.nodes() != 0) d.walk_ch_ = ContractionHierarchy::Build(d.walk_);
    return d;
}

void Dispatcher::UpdateRoadSpeeds(const std::vector<double>& speed_mps) {
    if (drive_.UpdateRoadSpeeds(speed_mps) > 0) drive_stale_ = true;
}

AssignmentResult Dispatcher::Assign(const std::vector<UnitState>& units, const std::vector<TaskSpec>& tasks) {
    std::vector<std::vector<TimeMs>> table(units.size());
    if (!tasks.empty()) {
        if (drive_stale_) {
            // A full rebuild: about a millisecond on a district; a city would re-customise (CCH) instead.
            drive_ch_ = ContractionHierarchy::Build(drive_);
            drive_stale_ = false;
            ++rebuilds_;
        }
        std::vector<NodeId> targets;
        targets.reserve(tasks.size());
        for (const TaskSpec& t : tasks) targets.push_back(t.node);
        std::optional<ContractionHierarchy::Table> road_table, walk_table;
        for (size_t u = 0; u < units.size(); ++u) {
            const UnitKind kind = units[u].kind;
            const bool roads = OnRoads(kind);
            auto& t = roads ? road_table : walk_table;
            if (!t) t = (roads ? drive_ch_ : walk_ch_).BuildTable(targets);
            table[u] = t->Row(units[u].node);
            const double pace = Pace(kind);
            if (pace == 1.0) continue;
            for (TimeMs& ms : table[u]) {
                if (ms != kUnreachable) ms = static_cast<TimeMs>(std::llround(static_cast<double>(ms) / pace));
            }
        }
    }
    return dispatch::Assign(units, tasks, table, options_.assignment);
}

std::optional<Route> Dispatcher::RouteOf(UnitKind kind, NodeId from, NodeId to) const {
    const RoadGraph& g = GraphOf(kind);
    const auto path = ShortestPath(g, from, to);
    if (!path) return std::nullopt;
    const double pace = Pace(kind);
    Route r;
    r.nodes = path->nodes;
    r.at_ms.reserve(r.nodes.size());
    r.at_ms.push_back(0);
    double t_ms = 0;
    for (size_t i = 1; i < r.nodes.size(); ++i) {
        TimeMs best = kUnreachable;
        for (uint32_t e = g.first_out[r.nodes[i - 1]]; e < g.first_out[r.nodes[i - 1] + 1]; ++e) {
            if (g.head[e] == r.nodes[i]) best = std::min<TimeMs>(best, g.time_ms[e]);
        }
        t_ms += static_cast<double>(best) / pace;
        r.at_ms.push_back(static_cast<TimeMs>(std::llround(t_ms)));
    }
    return r;
}

}  // namespace citybrain::dispatch
