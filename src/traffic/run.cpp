// SPDX-License-Identifier: Apache-2.0
#include "traffic/run.hpp"

#include <chrono>
#include <cstdio>

namespace citybrain::traffic {

SignalledSim::SignalledSim(const core::RoadNetwork& net, const core::Demand& demand, const SimConfig& config)
    : sim_(net, demand, config), next_decision_(net.intersections.size(), 0), step_s_(config.step_s) {
    for (size_t n = 0; n < net.intersections.size(); ++n) {
        if (!net.intersections[n].is_virtual && !net.intersections[n].phases.empty()) {
            nodes_.push_back(static_cast<IntersectionId>(n));
        }
    }
}

Result<std::unique_ptr<SignalledSim>> SignalledSim::Create(const core::RoadNetwork& net,
                                                           const core::Demand& demand,
                                                           const RunOptions& options) {
    SimConfig sim_config = options.sim;
    sim_config.yellow_s = options.yellow_s.value_or(options.controller == "own-plan" ? 0.0 : 5.0);
    CB_TRY(sim_config.Validate());
    ControllerOptions control = options.control;
    control.clearance_s = sim_config.yellow_s + sim_config.all_red_s;
    control.yellow_s = sim_config.yellow_s;
    control.min_green_s = std::max(control.min_green_s, sim_config.min_green_s);
    if (!(control.green_s > 0)) return InvalidArgument("--green", "must be positive");
    CB_TRY_ASSIGN(auto controller, MakeController(options.controller, control));
    std::unique_ptr<SignalledSim> s(new SignalledSim(net, demand, sim_config));
    CB_TRY(controller->Init(s->sim_));
    s->controller_ = std::move(controller);
    return s;
}

void SignalledSim::Step() {
    const double now = sim_.Now();
    for (IntersectionId n : nodes_) {
        if (next_decision_[n] > now + 1e-9) continue;
        const Decision d = controller_->Decide(n, sim_);
        sim_.RequestPhase(n, d.phase);
        next_decision_[n] = std::max(d.next_decision_s, now + step_s_ * 0.5);
    }
    sim_.Step();
}

Result<RunResult> RunScenario(const core::RoadNetwork& net, const core::Demand& demand, const RunOptions& options) {
    if (options.steps < 0) return InvalidArgument("--steps", "must be >= 0");
    CB_TRY_ASSIGN(auto signalled, SignalledSim::Create(net, demand, options));
    const Simulator& sim = signalled->sim();

    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    auto last_report = start;
    bool reported = false;
    for (int64_t step = 0; step < options.steps; ++step) {
        if (options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed)) {
            return Error{ErrorCode::kUnavailable, "the run was stopped", "run"};
        }
        signalled->Step();
        if (options.on_step) options.on_step(sim);
        if (options.progress && (step & 63) == 0) {
            const auto t = Clock::now();
            if (t - start > std::chrono::seconds(2) && t - last_report > std::chrono::seconds(1)) {
                std::fprintf(stderr,
                             "\r[%s] step %lld/%lld  running %lld  waiting %lld  wall %.1f s   ",
                             options.controller.c_str(),
                             static_cast<long long>(step),
                             static_cast<long long>(options.steps),
                             static_cast<long long>(sim.Running()),
                             static_cast<long long>(sim.Waiting()),
                             std::chrono::duration<double>(t - start).count());
                last_report = t;
                reported = true;
            }
        }
    }
    if (reported) std::fprintf(stderr, "\n");
    RunResult result;
    result.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
    result.controller = options.controller;
    result.metrics = sim.GetMetrics();
    result.state_hash = sim.StateHash();
    return result;
}

}  // namespace citybrain::traffic
