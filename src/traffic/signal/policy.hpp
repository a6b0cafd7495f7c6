// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace citybrain::traffic {

/// The features a learned signal policy scores each candidate phase by, in the order of its weights. Each sums, over
/// the phase's movements (right turns left out), a mean over the movement's lanes:
/// - queue_in: vehicles waiting on the entry lanes;
/// - near_in: vehicles moving within 10 s of travel of the stop line;
/// - far_in: vehicles moving 10-30 s of travel away;
/// - queue_out: vehicles waiting on the exit road's lanes;
/// - fill_out: the exit lanes' fill (vehicles x 7.5 m / lane length, 1 = full: a green into it spills back);
/// - current: 1 for the phase that is green now (a switch costs a yellow);
/// - current_green: for the green phase, minutes it has been green (capped at 2);
/// - current_near: for the green phase, its near_in (a platoon still crossing);
/// - movements: the number of movements the phase serves;
/// - served_in: waiting or near vehicles, at most 3 a lane (what one interval of green can serve);
/// - queue_max: the longest queue on any of the phase's entry lanes (not a mean);
/// - red_age: for a phase not green now, minutes since it was last green (capped at 2).
inline constexpr std::array<std::string_view, 12> kPolicyFeatures = {"queue_in",
                                                                     "near_in",
                                                                     "far_in",
                                                                     "queue_out",
                                                                     "fill_out",
                                                                     "current",
                                                                     "current_green",
                                                                     "current_near",
                                                                     "movements",
                                                                     "served_in",
                                                                     "queue_max",
                                                                     "red_age"};

/// A linear phase-scoring policy: every `interval_s` an intersection turns green the phase whose weighted features
/// score highest. Produced by `citybrain traffic train` (traffic/signal/train.hpp).
struct SignalPolicy {
    std::vector<double> weights;  // one per kPolicyFeatures entry
    double interval_s = 5;
    std::string trained_on;  // what it was trained on, for the record
    uint64_t seed = 0;
    int32_t iterations = 0;
    double train_score = 0;  // mean ATT ratio to max-pressure over the training scenarios
};

/// Parses a policy file's text; errors name `where` and the field.
Result<SignalPolicy> ParsePolicy(std::string_view text, const std::string& where);
/// Reads and parses a policy file (NotFound when it cannot be read).
Result<SignalPolicy> LoadPolicy(const std::string& path);
/// The policy file's JSON text.
std::string PolicyToJson(const SignalPolicy& policy);
/// The policy shipped with the engine (config/traffic/signal_policy.json, embedded at build time).
const SignalPolicy& EmbeddedPolicy();

}  // namespace citybrain::traffic
