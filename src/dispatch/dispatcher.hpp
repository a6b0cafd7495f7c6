// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <optional>
#include <vector>

#include "dispatch/assignment.hpp"
#include "dispatch/contraction.hpp"
#include "dispatch/road_graph.hpp"

namespace citybrain::dispatch {

/// A route a unit follows: the nodes and the time (ms from departure) at which each is reached.
struct Route {
    std::vector<NodeId> nodes;
    std::vector<TimeMs> at_ms;
    TimeMs time_ms() const { return at_ms.empty() ? 0 : at_ms.back(); }
    /// The index of the last node reached `travelled_ms` after departure (0 before the first edge ends).
    size_t Passed(TimeMs travelled_ms) const {
        size_t i = 0;
        while (i + 1 < nodes.size() && at_ms[i + 1] <= travelled_ms) ++i;
        return i;
    }
};

/// The dispatch engine's facade: one routing graph per mode (roads for crews and drones; pavements and footways
/// for robots), a contraction hierarchy over each, live road speeds, travel-time tables and the exact assignment.
/// A unit kind travels on its mode's graph at its own pace: the walk graph's times are at 1 m/s, so a robot dog
/// at 2.5 m/s takes 1/2.5 of them. Both graphs share node ids (intersections), so a task has one node for all.
class Dispatcher {
public:
    struct Options {
        /// Metres per second on the walk graph, per unit kind (crews and drones use the road graph's times).
        std::array<double, kUnitKinds> walk_pace_mps = {2.5, 1.8, 1.0, 10.0};
        AssignmentOptions assignment;
    };

    /// `walk` may be empty (no footways known): every kind then uses the roads.
    static Result<Dispatcher> Create(RoadGraph drive, RoadGraph walk, Options options);

    /// Live traffic on the roads (mean speed per road, NaN where unknown). The road hierarchy is rebuilt when it
    /// is next needed, so minutes without a dispatch cost no rebuild.
    void UpdateRoadSpeeds(const std::vector<double>& speed_mps);

    /// Exact assignment of `units` to `tasks` on travel-time tables from the hierarchies (one bucket build per
    /// mode over the task nodes, one forward search per unit).
    AssignmentResult Assign(const std::vector<UnitState>& units, const std::vector<TaskSpec>& tasks);

    /// The route of a unit of `kind` from `from` to `to`; nullopt when unreachable.
    std::optional<Route> RouteOf(UnitKind kind, NodeId from, NodeId to) const;

    const RoadGraph& GraphOf(UnitKind kind) const { return OnRoads(kind) ? drive_ : walk_; }
    const RoadGraph& roads() const { return drive_; }
    size_t rebuilds() const { return rebuilds_; }

private:
    bool OnRoads(UnitKind kind) const {
        return kind == UnitKind::kCrew || kind == UnitKind::kDrone || walk_.nodes() == 0;
    }
    double Pace(UnitKind kind) const { return OnRoads(kind) ? 1.0 : options_.walk_pace_mps[static_cast<size_t>(kind)]; }

    RoadGraph drive_;
    RoadGraph walk_;
    ContractionHierarchy drive_ch_;
    ContractionHierarchy walk_ch_;
    Options options_;
    bool drive_stale_ = false;
    size_t rebuilds_ = 0;
};

}  // namespace citybrain::dispatch
