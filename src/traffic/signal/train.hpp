// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/demand.hpp"
#include "core/road_network.hpp"
#include "traffic/run.hpp"
#include "traffic/signal/policy.hpp"

namespace citybrain::traffic {

/// One training scenario: a network, its demand, and the run options (steps, yellow, ...) it is judged with.
struct TrainScenario {
    std::string name;
    const core::RoadNetwork* net = nullptr;
    const core::Demand* demand = nullptr;
    RunOptions options;  // controller and policy are set by the trainer
};

/// Evolution strategies (Salimans et al. 2017): each iteration perturbs the weights in `pairs` random directions,
/// both ways (antithetic), runs every training scenario under each, and steps along the rank-weighted directions.
/// The score of a policy is the mean over the scenarios of its ATT divided by max-pressure's; lower is better.
struct TrainOptions {
    int32_t iterations = 60;
    int32_t pairs = 8;
    double sigma = 0.15;  // perturbation, relative to each weight's scale
    double step = 0.3;    // learning rate, same scale
    uint64_t seed = 1;
    int threads = 1;     // scenarios run in parallel; the result does not depend on it
    SignalPolicy start;  // the weights to start from (also sets interval_s)
};

struct TrainIteration {
    int32_t iteration = 0;
    double center_score = 0;  // the current weights' score
    double best_score = 0;    // the best centre so far
    SignalPolicy best;        // its weights (a checkpoint)
};

struct TrainResult {
    SignalPolicy policy;               // the best centre weights seen
    std::vector<double> baseline_att;  // max-pressure's ATT per scenario
    std::vector<double> policy_att;    // the policy's ATT per scenario
};

/// Trains a policy; the same seed gives the same policy whatever `threads` is. InvalidArgument for bad options.
Result<TrainResult> TrainPolicy(const std::vector<TrainScenario>& scenarios,
                                const TrainOptions& options,
                                const std::function<void(const TrainIteration&)>& on_iteration = {});

}  // namespace citybrain::traffic
