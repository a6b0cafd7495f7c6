// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "core/demand.hpp"
#include "core/road_network.hpp"
#include "traffic/metrics.hpp"
#include "traffic/sim/parallel.hpp"

namespace citybrain::traffic {

using core::IntersectionId;
using core::LaneId;
using core::LaneLinkId;
using core::RoadLinkId;

struct SimConfig {
    double step_s = 1.0;
    uint64_t seed = 0;
    int threads = 1;
    double yellow_s = 5;  // green -> yellow -> (all-red) -> next green, for movements that lose right of way
    double all_red_s = 0;
    double min_green_s = 5;  // a phase stays green at least this long; earlier requests wait
    /// Below this many vehicles in the network a step runs on one thread (a second one costs more than it saves
    /// on a small network); the result is the same either way. Tests set 0 to exercise the split.
    int64_t parallel_min_vehicles = 3000;
    /// Checks the configuration; errors name the field.
    Status Validate() const;
};

enum class Light : uint8_t { kRed = 0, kYellow = 1, kGreen = 2 };

/// Read-only view of the traffic state that signal controllers use (detectors, not vehicle internals).
class TrafficView {
public:
    virtual ~TrafficView() = default;
    virtual const core::RoadNetwork& Network() const = 0;
    virtual double Now() const = 0;
    /// Vehicles on the lane with speed < 0.1 m/s (CityFlow's "waiting").
    virtual int32_t LaneWaiting(LaneId lane) const = 0;
    virtual int32_t LaneVehicles(LaneId lane) const = 0;
    /// Vehicles on the lane whose front is within `distance_m` of the stop line.
    virtual int32_t LaneApproaching(LaneId lane, double distance_m) const = 0;
    /// Vehicles that have entered the lane since the start (an upstream detector count).
    virtual int64_t LaneEntries(LaneId lane) const = 0;
    /// A vehicle on a lane as a detector along it sees it: its front's distance to the stop line and its speed.
    struct Approach {
        double distance_m;
        double speed_mps;
    };
    /// Replaces `out` with the vehicles whose front is within `distance_m` of the stop line, front first.
    virtual void LaneApproach(LaneId lane, double distance_m, std::vector<Approach>& out) const = 0;
    /// The phase currently green (or being switched to, during a transition).
    virtual int32_t CurrentPhase(IntersectionId node) const = 0;
    virtual bool InTransition(IntersectionId node) const = 0;
    /// Seconds since the current phase turned green (0 during a transition).
    virtual double GreenElapsed(IntersectionId node) const = 0;
};

/// Microscopic, deterministic traffic simulator on a CityFlow-style network.
///
/// Each tick runs fixed phases: spawn (flows) -> admit (waiting vehicles enter their first lane when there is
/// room) -> signals (yellow / all-red / green state machine) -> speeds (car following, signals, yielding at
/// crossings; parallel, each vehicle reads only the previous state) -> move (positions, transfers between lanes
/// and lane links in a canonical order) -> statistics. Results do not depend on the thread count.
class Simulator final : public TrafficView {
public:
    /// The network and demand must outlive the simulator. Routes must pass core::CheckRoutes.
    Simulator(const core::RoadNetwork& net, const core::Demand& demand, SimConfig config);
    ~Simulator() override;

    void Step();
    void Run(int64_t steps) {
        for (int64_t i = 0; i < steps; ++i) Step();
    }

    /// Asks for `phase` at `node`. Honoured after the minimum green of the current phase, through yellow and
    /// all-red for the movements that lose right of way. Out-of-range phases are a bug (CB_ASSERT).
    void RequestPhase(IntersectionId node, int32_t phase);
    /// The clearance yellow used when switching at `node` (seconds); default SimConfig::yellow_s.
    void SetYellow(double yellow_s) { config_.yellow_s = yellow_s; }

    Light RoadLinkLight(RoadLinkId link) const { return light_[link]; }
    int64_t StepCount() const { return step_; }
    const SimConfig& Config() const { return config_; }

    // TrafficView
    const core::RoadNetwork& Network() const override { return net_; }
    double Now() const override { return static_cast<double>(step_) * config_.step_s; }
    int32_t LaneWaiting(LaneId lane) const override { return lane_waiting_[lane]; }
    int32_t LaneVehicles(LaneId lane) const override { return static_cast<int32_t>(occupants_[lane].size()); }
    int32_t LaneApproaching(LaneId lane, double distance_m) const override;
    int64_t LaneEntries(LaneId lane) const override { return lane_entries_[lane]; }
    void LaneApproach(LaneId lane, double distance_m, std::vector<Approach>& out) const override;
    int32_t CurrentPhase(IntersectionId node) const override { return signals_[node].target; }
    bool InTransition(IntersectionId node) const override { return signals_[node].stage != Stage::kGreen; }
    double GreenElapsed(IntersectionId node) const override;

    /// Metrics so far (see metrics.hpp for definitions).
    Metrics GetMetrics() const;
    /// A hash of every vehicle's state (id, place, position, speed), signal states and time: equal hashes mean
    /// identical runs.
    uint64_t StateHash() const;

    // Introspection for tests and the dashboard.
    struct VehicleState {
        uint64_t serial;
        int32_t drivable;  // < num lanes: a lane; else num lanes + lane link id
        double pos_m;
        double speed_mps;
        double length_m;
    };
    void Vehicles(std::vector<VehicleState>& out) const;
    int32_t NumLanes() const { return num_lanes_; }
    /// Vehicles on a drivable, front first.
    const std::vector<int32_t>& Occupants(int32_t drivable) const { return occupants_[drivable]; }
    double DrivableLength(int32_t drivable) const { return drivable_len_[drivable]; }
    double VehiclePos(int32_t slot) const { return pos_[slot]; }
    double VehicleSpeed(int32_t slot) const { return speed_[slot]; }
    double VehicleLength(int32_t slot) const { return flow_params_[flow_[slot]].length_m; }
    double VehicleMaxSpeed(int32_t slot) const;
    int64_t Waiting() const { return waiting_total_; }
    int64_t Running() const { return running_; }

private:
    enum class Stage : uint8_t { kGreen, kYellow, kAllRed };
    struct SignalState {
        int32_t current = 0;  // phase whose movements are green (or were, during a transition)
        int32_t target = 0;
        int32_t pending = -1;  // a request waiting for the minimum green
        Stage stage = Stage::kGreen;
        double stage_end = 0;
        double green_since = -1e9;
        bool controlled = false;
    };

    void Spawn();
    void Admit();
    void AdvanceSignals();
    void StartTransition(IntersectionId node, int32_t phase);
    void ApplyGreen(IntersectionId node);
    void ComputeSpeeds(size_t begin, size_t end);
    double NextSpeed(int32_t v, int32_t drivable, size_t index) const;
    double IntersectionSpeed(int32_t v, int32_t lane, double v_limit) const;
    double YieldSpeed(int32_t v, LaneLinkId link, double dist_to_link_start, double v_limit) const;
    void Move(int part, size_t begin, size_t end);
    void BalanceParts(int parts);
    void CompactSlots();
    void RunParts(const std::function<void(int)>& fn);
    static constexpr int64_t kCompactEvery = 32;
    void ApplyTransfers();
    void UpdateStats();
    int64_t CountWaiting(size_t begin, size_t end);
    void EnterLane(int32_t v, LaneId lane);
    LaneLinkId PlanLink(const core::Flow& flow, size_t route_pos, LaneId lane) const;
    int32_t NextDrivableAfter(int32_t v, int32_t drivable, size_t& route_pos, LaneLinkId& planned) const;
    bool CanEnter(LaneId lane, int32_t v) const;
    void Finish(int32_t v);
    int32_t AllocSlot();

    const core::RoadNetwork& net_;
    const core::Demand& demand_;
    SimConfig config_;
    std::mt19937_64 rng_;
    std::unique_ptr<ThreadTeam> team_;
    int64_t step_ = 0;
    int32_t num_lanes_ = 0;

    // Drivables: lanes [0, L) then lane links [L, L + K).
    std::vector<double> drivable_len_;
    std::vector<double> drivable_speed_;
    std::vector<std::vector<int32_t>> occupants_;          // front first
    std::vector<std::vector<LaneLinkId>> merge_partners_;  // other lane links into the same lane
    std::vector<uint32_t> lane_next_begin_;                // per lane, its range in lane_next_roads_
    std::vector<core::RoadId> lane_next_roads_;            // distinct roads a lane's links lead to

    // Flows.
    std::vector<core::VehicleParams> flow_params_;
    std::vector<double> flow_free_time_;     // free-flow travel time of the route, s
    std::vector<uint32_t> flow_lane_begin_;  // candidate first lanes, flat
    std::vector<LaneId> flow_lanes_;
    std::vector<std::pair<double, uint32_t>> schedule_;  // min-heap of (next spawn time, flow)

    // Vehicles, structure of arrays indexed by slot.
    std::vector<double> pos_, speed_, next_speed_, enter_time_;
    std::vector<int32_t> drivable_, flow_, planned_link_, came_from_;
    std::vector<uint32_t> route_pos_;
    std::vector<uint64_t> serial_;
    std::vector<uint8_t> alive_;
    mutable std::vector<uint8_t> hold_;  // set while computing speeds: this vehicle stops at its stop line
    std::vector<int32_t> free_slots_;
    uint64_t next_serial_ = 0;

    // Waiting to enter, per lane.
    std::vector<std::deque<int32_t>> waiting_;
    std::vector<LaneId> lanes_with_waiting_;

    // Signals.
    std::vector<SignalState> signals_;
    std::vector<uint64_t> phase_mask_;  // [node][phase] flattened via phase_begin_
    std::vector<uint32_t> phase_begin_;
    std::vector<Light> light_;  // per road link

    // Moves: per part, transfers (vehicle slot, target drivable, pos) and leavers per drivable.
    struct Transfer {
        int32_t target;
        int32_t slot;
        double pos;
        uint64_t serial;
    };
    std::vector<std::vector<Transfer>> transfers_;
    std::vector<std::vector<int32_t>> finished_;
    std::vector<uint32_t> leave_count_;
    int parts_ = 1;                                                              // threads sharing this step's work
    std::vector<size_t> part_bounds_;                                            // drivable ranges of the threads
    std::vector<double> part_time_s_, part_weight_, part_rate_, drivable_cost_;  // for BalanceParts
    std::vector<int32_t> compact_order_, compact_remap_, scratch_i32_;
    std::vector<double> scratch_f64_;
    std::vector<uint32_t> scratch_u32_;
    std::vector<uint64_t> scratch_u64_;
    std::vector<uint8_t> scratch_u8_;

    // Statistics.
    std::vector<int32_t> lane_waiting_;
    std::vector<int64_t> lane_entries_;
    std::vector<uint8_t> lane_is_approach_;
    int32_t num_approach_lanes_ = 0;
    std::vector<int64_t> queued_parts_;
    int64_t running_ = 0;
    int64_t waiting_total_ = 0;
    int64_t spawned_ = 0;
    int64_t finished_count_ = 0;
    int64_t unroutable_ = 0;
    double finished_tt_sum_ = 0;
    double finished_delay_sum_ = 0;
    double queue_sum_ = 0;
    int64_t vehicle_updates_ = 0;
};

}  // namespace citybrain::traffic
