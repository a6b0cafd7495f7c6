// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "traffic/signal/policy.hpp"
#include "traffic/sim/simulator.hpp"

namespace citybrain::traffic {

/// What a controller wants at one intersection, and when it wants to be asked again (SUMO's trySwitch style:
/// controllers return their next decision time instead of being polled every tick).
struct Decision {
    int32_t phase = 0;
    double next_decision_s = 0;
};

/// Why a controller chose what it last chose at one intersection, for an operator: when, which phase, and each
/// candidate phase's score (max-pressure: its pressure, waiting vehicles in minus waiting vehicles out).
struct Explanation {
    double at_s = -1;  // < 0: no decision yet
    int32_t phase = -1;
    std::vector<std::pair<int32_t, int64_t>> scores;
};

/// A signal controller for all signalised intersections of a network. The engine enforces minimum green,
/// yellow and all-red; a controller only names phases. A learned controller implements the same interface.
class SignalController {
public:
    virtual ~SignalController() = default;
    virtual std::string_view Name() const = 0;
    /// Called once before the first step; InvalidArgument when the options do not fit the network.
    virtual Status Init(const TrafficView& view) = 0;
    /// Called at or after the intersection's next decision time.
    virtual Decision Decide(IntersectionId node, const TrafficView& view) = 0;
    /// The reasons of the last decision at `node`; null for a controller that keeps none (a fixed plan).
    virtual const Explanation* Explain(IntersectionId /*node*/) const { return nullptr; }
};

/// Options shared by the controller factory (the CLI's flags).
struct ControllerOptions {
    double green_s = 25;             // fixed-time green per phase; Webster's first cycle
    double clearance_s = 5;          // yellow + all-red the engine inserts at a switch (to plan fixed cycles)
    double yellow_s = 5;             // of which yellow: a vehicle too close to stop still crosses
    double action_interval_s = 15;   // max-pressure decision interval
    double advanced_interval_s = 5;  // advanced-mp decision interval
    double min_decision_s = 0;       // the format's shortest decision (CBEngine: 10 s); learned, predictive keep to it
    double min_green_s = 5;
    double max_green_s = 60;                     // SOTL
    double saturation_vps = 0.4;                 // Webster: saturation flow per lane, vehicles per second
    std::vector<int32_t> phases;                 // phase indices to use; empty = the controller's default set
    std::shared_ptr<const SignalPolicy> policy;  // "learned": its weights; null = the embedded policy
};

/// Names accepted by MakeController.
const std::vector<std::string>& ControllerNames();

/// Creates "own-plan", "fixed", "webster", "sotl", "maxpressure", "advanced-mp", "learned" (a trained linear
/// policy, signal/policy.hpp), "predictive" (least predicted delay over a rolling horizon) or "auto" (the best
/// measured, docs/BENCHMARKS.md: predictive); InvalidArgument for other names.
Result<std::unique_ptr<SignalController>> MakeController(const std::string& name, const ControllerOptions& options);

// Phase-set helpers, shared by the controllers.

/// The roadnet's clearance phase: a phase whose movements are permitted in every other phase too (CityFlow's
/// phase 0, right turns only). -1 when there is none.
int32_t ClearancePhase(const core::Intersection& node);
/// The phases a controller may choose: all but the clearance phase and phases dominated by another (every movement
/// they permit, beyond the clearance phase's, another phase permits too; of equal phases the first stays).
/// `requested` (if non-empty) replaces them.
std::vector<int32_t> ControlPhases(const core::Intersection& node, const std::vector<int32_t>& requested);
/// A cycle serving every movement once: control phases in order, each kept if it permits a movement the ones
/// before did not (CityFlow's 8-phase layouts reduce to phases 1-4).
std::vector<int32_t> CoveringCycle(const core::Intersection& node, const std::vector<int32_t>& requested);

}  // namespace citybrain::traffic
