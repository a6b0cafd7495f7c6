// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

#include "core/road_network.hpp"

namespace citybrain::core {

/// Vehicle parameters of a flow (CityFlow's names; metres, seconds). turn_speed and yield_distance are
/// CityFlow's fixed defaults unless a flow file gives them.
struct VehicleParams {
    double length_m = 5;
    double width_m = 2;
    double max_pos_acc = 2;
    double max_neg_acc = 4.5;
    double usual_pos_acc = 2;
    double usual_neg_acc = 4.5;
    double min_gap_m = 2.5;
    double max_speed_mps = 11.111;
    double headway_s = 2;
    double turn_speed_mps = 8.3333;
    double yield_distance_m = 5;
};

/// A stream of identical vehicles on one route: one at start_s, then every interval_s until end_s.
struct Flow {
    std::string id;
    VehicleParams vehicle;
    std::vector<RoadId> route;
    double interval_s = 1;
    double start_s = 0;
    double end_s = 0;  // < 0: no end
};

/// A flow whose route cannot be followed: which flow, where in its route, and why.
struct RouteProblem {
    size_t flow_index = 0;
    size_t route_position = 0;
    std::string message;
};

struct Demand {
    std::vector<Flow> flows;
    /// What loading changed, as CityFlow changes it (reported, never silent): flows whose route names a single
    /// road (CityFlow drops them), and flows whose usualNegAcc exceeded maxNegAcc (clamped to maxNegAcc).
    size_t single_road_dropped = 0;
    size_t usual_neg_acc_clamped = 0;
};

/// Checks that every route can be driven: each road joins the next through a lane link, and some lane reached
/// from the previous road continues to the road after (vehicles keep the lane they were routed to).
std::vector<RouteProblem> CheckRoutes(const RoadNetwork& net, const Demand& demand);

/// One line per problem, at most `max_examples`, plus a count: for error messages.
std::string DescribeRouteProblems(const RoadNetwork& net,
                                  const Demand& demand,
                                  const std::vector<RouteProblem>& problems,
                                  size_t max_examples = 5);

}  // namespace citybrain::core
