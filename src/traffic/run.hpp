// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/demand.hpp"
#include "core/road_network.hpp"
#include "traffic/metrics.hpp"
#include "traffic/signal/controller.hpp"
#include "traffic/sim/simulator.hpp"

namespace citybrain::traffic {

/// One simulation run: a controller on a scenario for a number of steps.
struct RunOptions {
    std::string controller = "maxpressure";
    ControllerOptions control;
    SimConfig sim;
    /// Engine yellow; unset = 5 s, or 0 for own-plan (the roadnet's plan carries its own clearance phase).
    std::optional<double> yellow_s;
    int64_t steps = 3600;
    bool progress = false;                          // a progress line on stderr for runs longer than 2 s
    std::function<void(const Simulator&)> on_step;  // optional observer, called after every step
    const std::atomic<bool>* cancel =
        nullptr;  // when set and true, the run stops with kUnavailable ("the run was stopped")
};

/// A network format's signal timing. CityFlow and SUMO: 5 s yellow, max-pressure every 15 s. CBEngine (KDD Cup 2021):
/// no yellow, 5 s all-red, every decision holds for 10 s. `traffic run` and the district's loop apply the same.
struct SignalRules {
    double yellow_s = 5;
    double all_red_s = 0;
    double interval_s = 15;     // max-pressure's decision interval
    double min_decision_s = 0;  // the shortest a decision may hold; the adaptive controllers keep to it

    static SignalRules Cbengine() { return {0, 5, 10, 10}; }
    /// Sets the run's clearance and decision timing to these rules.
    void ApplyTo(RunOptions& o) const {
        o.sim.all_red_s = all_red_s;
        if (yellow_s != 5) o.yellow_s = yellow_s;  // 5 s keeps RunOptions' own default (0 for own-plan)
        o.control.action_interval_s = interval_s;
        o.control.advanced_interval_s = std::max(o.control.advanced_interval_s, min_decision_s);
        o.control.min_decision_s = min_decision_s;
    }
};

struct RunResult {
    std::string controller;
    Metrics metrics;
    double wall_s = 0;  // simulation only (loading excluded)
    uint64_t state_hash = 0;
};

/// A simulator with its signal controller: one Step() asks every due intersection for its phase, then moves
/// traffic one tick. RunScenario and the district's run loop both step this, so the live run and a batch run of
/// the same seed are the same simulation.
class SignalledSim {
public:
    /// InvalidArgument for options that do not fit (unknown controller, missing phase, ...).
    static Result<std::unique_ptr<SignalledSim>> Create(const core::RoadNetwork& net,
                                                        const core::Demand& demand,
                                                        const RunOptions& options);
    void Step();
    const Simulator& sim() const { return sim_; }
    const SignalController& controller() const { return *controller_; }

private:
    SignalledSim(const core::RoadNetwork& net, const core::Demand& demand, const SimConfig& config);

    Simulator sim_;
    std::unique_ptr<SignalController> controller_;
    std::vector<IntersectionId> nodes_;
    std::vector<double> next_decision_;
    double step_s_ = 1;
};

/// Runs the scenario; InvalidArgument for options that do not fit (unknown controller, missing phase, ...).
/// Routes must have passed core::CheckRoutes.
Result<RunResult> RunScenario(const core::RoadNetwork& net, const core::Demand& demand, const RunOptions& options);

}  // namespace citybrain::traffic
