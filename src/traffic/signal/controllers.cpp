// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "traffic/signal/controller.hpp"

namespace citybrain::traffic {

using core::Intersection;

namespace {

uint64_t Mask(const core::Phase& p) {
    uint64_t m = 0;
    for (int32_t k : p.road_links) m |= uint64_t{1} << k;
    return m;
}

// The lanes that feed a phase's movements (excluding movements permitted in every phase).
std::vector<core::LaneId> FeedingLanes(const core::RoadNetwork& net,
                                       const Intersection& node,
                                       int32_t phase,
                                       int32_t clearance) {
    std::set<core::LaneId> lanes;
    const uint64_t always = clearance >= 0 ? Mask(node.phases[clearance]) : 0;
    for (int32_t k : node.phases[phase].road_links) {
        if ((always >> k) & 1) continue;
        for (core::LaneLinkId l : net.road_links[node.road_links[k]].lane_links)
            lanes.insert(net.lane_links[l].from_lane);
    }
    return {lanes.begin(), lanes.end()};
}

// Signalised intersections and, per intersection, the phases a controller cycles through or chooses from.
struct PhaseTable {
    std::vector<IntersectionId> nodes;
    std::vector<std::vector<int32_t>> phases;                     // indexed by intersection id (empty for others)
    std::vector<std::vector<std::vector<core::LaneId>>> feeding;  // [node][i]: lanes feeding phases[node][i]

    Status Build(const core::RoadNetwork& net, const std::vector<int32_t>& requested, bool covering) {
        phases.assign(net.intersections.size(), {});
        feeding.assign(net.intersections.size(), {});
        nodes.clear();
        for (size_t n = 0; n < net.intersections.size(); ++n) {
            const Intersection& node = net.intersections[n];
            if (node.is_virtual || node.phases.empty()) continue;
            for (int32_t p : requested) {
                if (p < 0 || p >= static_cast<int32_t>(node.phases.size())) {
                    return InvalidArgument("--phases",
                                           "phase " + std::to_string(p) + " does not exist at intersection '" +
                                               node.id + "' (it has " + std::to_string(node.phases.size()) + ")");
                }
            }
            phases[n] = covering ? CoveringCycle(node, requested) : ControlPhases(node, requested);
            if (phases[n].empty()) phases[n].push_back(0);
            const int32_t clearance = ClearancePhase(node);
            for (int32_t p : phases[n]) feeding[n].push_back(FeedingLanes(net, node, p, clearance));
            nodes.push_back(static_cast<IntersectionId>(n));
        }
        return {};
    }
};

// ---------------------------------------------------------------------------------------------------------------
// The roadnet's own plan: every phase in order with its own duration; the plan carries its own clearance
// phase, so it is run with the engine's yellow set to 0 by the runner.
class OwnPlanController final : public SignalController {
public:
    std::string_view Name() const override { return "own-plan"; }
    Status Init(const TrafficView& view) override {
        next_.assign(view.Network().intersections.size(), 0);
        return {};
    }
    Decision Decide(IntersectionId node, const TrafficView& view) override {
        const Intersection& n = view.Network().intersections[node];
        const int32_t phase = next_[node];
        next_[node] = (phase + 1) % static_cast<int32_t>(n.phases.size());
        return {phase, view.Now() + n.phases[phase].duration_s};
    }

private:
    std::vector<int32_t> next_;
};

// ---------------------------------------------------------------------------------------------------------------
// Fixed time: the covering cycle, the same green for every phase.
class FixedTimeController final : public SignalController {
public:
    explicit FixedTimeController(ControllerOptions o) : options_(std::move(o)) {}
    std::string_view Name() const override { return "fixed"; }
    Status Init(const TrafficView& view) override {
        CB_TRY(table_.Build(view.Network(), options_.phases, true));
        index_.assign(view.Network().intersections.size(), 0);
        return {};
    }
    Decision Decide(IntersectionId node, const TrafficView& view) override {
        const auto& cycle = table_.phases[node];
        const int32_t phase = cycle[index_[node]];
        index_[node] = (index_[node] + 1) % cycle.size();
        const double clearance = cycle.size() > 1 ? options_.clearance_s : 0;
        return {phase, view.Now() + options_.green_s + clearance};
    }

private:
    ControllerOptions options_;
    PhaseTable table_;
    std::vector<size_t> index_;
};

// ---------------------------------------------------------------------------------------------------------------
// Webster (1958): cycle C0 = (1.5 L + 5) / (1 - Y), greens split in proportion to the critical flow ratios
// y_i = max over the phase's lanes of q / s. Flows q are measured by the lane entry detectors over the last
// cycle (smoothed); the plan is recomputed at the start of every cycle.
class WebsterController final : public SignalController {
public:
    explicit WebsterController(ControllerOptions o) : options_(std::move(o)) {}
    std::string_view Name() const override { return "webster"; }
    Status Init(const TrafficView& view) override {
        const auto& net = view.Network();
        CB_TRY(table_.Build(net, options_.phases, true));
        state_.assign(net.intersections.size(), {});
        for (IntersectionId n : table_.nodes) {
            State& s = state_[n];
            s.lanes = table_.feeding[n];
            s.greens.assign(table_.phases[n].size(), options_.green_s);
            for (const auto& lanes : s.lanes) {
                for (core::LaneId l : lanes) s.flow_vps[l] = 0;
            }
        }
        return {};
    }
    Decision Decide(IntersectionId node, const TrafficView& view) override {
        State& s = state_[node];
        const auto& cycle = table_.phases[node];
        if (s.index == 0) Replan(s, view);
        const size_t i = s.index;
        s.index = (s.index + 1) % cycle.size();
        const double clearance = cycle.size() > 1 ? options_.clearance_s : 0;
        return {cycle[i], view.Now() + s.greens[i] + clearance};
    }

private:
    struct State {
        std::vector<std::vector<core::LaneId>> lanes;
        std::vector<double> greens;
        std::map<core::LaneId, double> flow_vps;
        std::map<core::LaneId, int64_t> last_count;
        double cycle_start = -1;
        size_t index = 0;
    };

    void Replan(State& s, const TrafficView& view) {
        const double now = view.Now();
        const double elapsed = now - s.cycle_start;
        const bool measured = s.cycle_start >= 0 && elapsed > 0;
        for (auto& [lane, q] : s.flow_vps) {
            const int64_t count = view.LaneEntries(lane);
            if (measured) {
                const double fresh = static_cast<double>(count - s.last_count[lane]) / elapsed;
                q = s.cycle_start > 0 ? 0.5 * q + 0.5 * fresh : fresh;
            }
            s.last_count[lane] = count;
        }
        s.cycle_start = now;
        if (!measured) return;
        const size_t n = s.lanes.size();
        std::vector<double> y(n, 0);
        double total_y = 0;
        for (size_t i = 0; i < n; ++i) {
            for (core::LaneId l : s.lanes[i]) y[i] = std::max(y[i], s.flow_vps[l] / options_.saturation_vps);
            total_y += y[i];
        }
        constexpr double kStartupLoss = 2;  // seconds lost per phase to start-up
        const double lost = static_cast<double>(n) * (options_.clearance_s + kStartupLoss);
        constexpr double kMinCycle = 40;
        constexpr double kMaxCycle = 180;
        double cycle = total_y < 0.95 ? (1.5 * lost + 5) / (1 - total_y) : kMaxCycle;
        cycle = std::clamp(cycle, std::max(kMinCycle, lost + n * options_.min_green_s), kMaxCycle);
        const double effective = cycle - lost;
        for (size_t i = 0; i < n; ++i) {
            const double share = total_y > 0 ? y[i] / total_y : 1.0 / static_cast<double>(n);
            s.greens[i] = std::max(options_.min_green_s, std::round(effective * share));
        }
    }

    ControllerOptions options_;
    PhaseTable table_;
    std::vector<State> state_;
};

// ---------------------------------------------------------------------------------------------------------------
// Self-organising traffic lights (Gershenson 2005; Cools et al. 2013): every second, accumulate the vehicles
// approaching red (kappa); after the minimum green, switch when kappa exceeds theta unless a platoon is about to
// cross on green; switch anyway at the maximum green if anyone waits.
class SotlController final : public SignalController {
public:
    explicit SotlController(ControllerOptions o) : options_(std::move(o)) {}
    std::string_view Name() const override { return "sotl"; }
    Status Init(const TrafficView& view) override {
        const auto& net = view.Network();
        CB_TRY(table_.Build(net, options_.phases, true));
        state_.assign(net.intersections.size(), {});
        for (IntersectionId n : table_.nodes) state_[n].lanes = table_.feeding[n];
        return {};
    }
    Decision Decide(IntersectionId node, const TrafficView& view) override {
        constexpr double kOmega = 80;    // m: detection range for approaching vehicles
        constexpr double kMu = 25;       // m: a platoon this close to the line keeps the green
        constexpr int32_t kPlatoon = 5;  // ... unless it is this long or longer
        constexpr double kTheta = 40;    // vehicle-seconds of demand on red before a switch
        State& s = state_[node];
        const auto& cycle = table_.phases[node];
        const double now = view.Now();
        if (!s.started) {
            s.started = true;
            return {cycle[s.index], now + 1};
        }
        if (view.InTransition(node)) return {cycle[s.index], now + 1};
        auto demand = [&](size_t i, double range) {
            int32_t n = 0;
            for (core::LaneId l : s.lanes[i]) n += view.LaneApproaching(l, range);
            return n;
        };
        int32_t red_demand = 0;
        for (size_t i = 0; i < cycle.size(); ++i) {
            if (i != s.index) red_demand += demand(i, kOmega);
        }
        s.kappa += red_demand;
        const double green = view.GreenElapsed(node);
        if (green >= options_.min_green_s && red_demand > 0) {
            const int32_t near = demand(s.index, kMu);
            const bool platoon = near > 0 && near < kPlatoon;
            if ((s.kappa >= kTheta && !platoon) || green >= options_.max_green_s) {
                // next phase in the cycle that has demand
                for (size_t step = 1; step < cycle.size(); ++step) {
                    const size_t j = (s.index + step) % cycle.size();
                    if (demand(j, kOmega) > 0) {
                        s.index = j;
                        break;
                    }
                }
                s.kappa = 0;
            }
        }
        return {cycle[s.index], now + 1};
    }

private:
    struct State {
        std::vector<std::vector<core::LaneId>> lanes;
        size_t index = 0;
        double kappa = 0;
        bool started = false;
    };
    ControllerOptions options_;
    PhaseTable table_;
    std::vector<State> state_;
};

// A movement as the pressure controllers see it: the lanes feeding it and the lanes of the road it enters.
struct Movement {
    std::vector<core::LaneId> entry;
    std::vector<core::LaneId> exit;
};
using MovementTable = std::vector<std::vector<std::vector<Movement>>>;  // [node][phase slot][movement]

// The movements of each control phase. `skip_always`: leave out movements green in every control phase.
MovementTable PhaseMovements(const core::RoadNetwork& net, const PhaseTable& table, bool skip_always) {
    MovementTable out(net.intersections.size());
    for (IntersectionId n : table.nodes) {
        const Intersection& node = net.intersections[n];
        uint64_t always = 0;
        if (skip_always) {
            always = ~uint64_t{0};
            for (int32_t p : table.phases[n]) always &= Mask(node.phases[p]);
        }
        for (int32_t p : table.phases[n]) {
            std::vector<Movement> moves;
            for (int32_t k : node.phases[p].road_links) {
                if ((always >> k) & 1) continue;
                const core::RoadLink& rl = net.road_links[node.road_links[k]];
                Movement m;
                std::set<core::LaneId> entry;
                for (core::LaneLinkId l : rl.lane_links) entry.insert(net.lane_links[l].from_lane);
                m.entry.assign(entry.begin(), entry.end());
                const core::Road& to = net.roads[rl.to_road];
                for (int32_t i = 0; i < to.num_lanes; ++i) m.exit.push_back(to.first_lane + i);
                moves.push_back(std::move(m));
            }
            out[n].push_back(std::move(moves));
        }
    }
    return out;
}

// The last decision's reasons at `node`, or null before the first.
const Explanation* LastExplanation(const std::vector<Explanation>& explained, IntersectionId node) {
    const auto i = static_cast<size_t>(node);
    return node >= 0 && i < explained.size() && explained[i].at_s >= 0 ? &explained[i] : nullptr;
}

// ---------------------------------------------------------------------------------------------------------------
// Max-pressure (Varaiya 2013), in the protocol of the Advanced-XLight papers: every action interval pick the
// phase with the largest sum over its movements of (waiting on the entry lanes - waiting on the exit road).
class MaxPressureController final : public SignalController {
public:
    explicit MaxPressureController(ControllerOptions o) : options_(std::move(o)) {}
    std::string_view Name() const override { return "maxpressure"; }
    Status Init(const TrafficView& view) override {
        const auto& net = view.Network();
        CB_TRY(table_.Build(net, options_.phases, false));
        movements_ = PhaseMovements(net, table_, false);
        explained_.assign(net.intersections.size(), {});
        for (IntersectionId n : table_.nodes) {
            explained_[n].scores.reserve(table_.phases[n].size());  // no allocation per decision
        }
        return {};
    }
    Decision Decide(IntersectionId node, const TrafficView& view) override {
        const auto& phases = table_.phases[node];
        const int32_t current = view.CurrentPhase(node);
        int32_t best = phases.front();
        int64_t best_pressure = std::numeric_limits<int64_t>::min();
        Explanation& why = explained_[static_cast<size_t>(node)];
        why.scores.clear();
        for (size_t i = 0; i < phases.size(); ++i) {
            int64_t pressure = 0;
            for (const Movement& m : movements_[node][i]) {
                for (core::LaneId l : m.entry) pressure += view.LaneWaiting(l);
                for (core::LaneId l : m.exit) pressure -= view.LaneWaiting(l);
            }
            why.scores.emplace_back(phases[i], pressure);
            // Ties keep the current phase (no needless yellow), else the lowest index.
            if (pressure > best_pressure || (pressure == best_pressure && phases[i] == current)) {
                best_pressure = pressure;
                best = phases[i];
            }
        }
        why.at_s = view.Now();
        why.phase = best;
        return {best, view.Now() + options_.action_interval_s};
    }
    const Explanation* Explain(IntersectionId node) const override { return LastExplanation(explained_, node); }

private:
    ControllerOptions options_;
    PhaseTable table_;
    MovementTable movements_;
    std::vector<Explanation> explained_;  // [node]: the last decision's reasons
};

// ---------------------------------------------------------------------------------------------------------------
// Advanced max-pressure (after Zhang et al., "Expression might be enough", 2022), decided every 5 s:
// - a movement's demand is its queue plus twice its moving vehicles within 10 s of travel of the line (they
//   will be queued or served before the next decision could help them), averaged over its entry lanes; its
//   pressure is that minus the mean queue on its exit road (efficient pressure);
// - the current phase keeps the green while its moving vehicles within reach outnumber the best other phase's
//   pressure: a platoon is not cut off for a yellow;
// - movements green in every phase (right turns) are left out: they press on no choice.
// The weights (2, 10 s, 5 s) were chosen on the training flows only (jinan anon_3_4_jinan_real, hangzhou
// anon_4_4_hangzhou_real, shenzhen fuhua_real_1775); docs/BENCHMARKS.md reports the others.
class AdvancedPressureController final : public SignalController {
public:
    explicit AdvancedPressureController(ControllerOptions o) : options_(std::move(o)) {}
    std::string_view Name() const override { return "advanced-mp"; }
    Status Init(const TrafficView& view) override {
        const auto& net = view.Network();
        CB_TRY(table_.Build(net, options_.phases, false));
        movements_ = PhaseMovements(net, table_, true);  // right turns press on no choice
        explained_.assign(net.intersections.size(), {});
        for (IntersectionId n : table_.nodes) explained_[n].scores.reserve(table_.phases[n].size());
        return {};
    }
    Decision Decide(IntersectionId node, const TrafficView& view) override {
        const auto& net = view.Network();
        const auto& phases = table_.phases[node];
        const int32_t current = view.CurrentPhase(node);
        Explanation& why = explained_[static_cast<size_t>(node)];
        why.scores.clear();
        int32_t best = phases.front();
        double best_pressure = -std::numeric_limits<double>::infinity();
        double best_other = -std::numeric_limits<double>::infinity();
        double running_current = -1;
        for (size_t i = 0; i < phases.size(); ++i) {
            double pressure = 0;
            double running = 0;
            for (const Movement& m : movements_[node][i]) {
                double in = 0;
                double out = 0;
                for (core::LaneId l : m.entry) {
                    const int32_t waiting = view.LaneWaiting(l);
                    const double reach = net.lanes[l].max_speed_mps * kReachS;
                    const int32_t moving = std::max(0, view.LaneApproaching(l, reach) - waiting);
                    in += waiting + kMovingWeight * moving;
                    running += moving;
                }
                for (core::LaneId l : m.exit) out += view.LaneWaiting(l);
                pressure += in / static_cast<double>(m.entry.size()) - out / static_cast<double>(m.exit.size());
            }
            why.scores.emplace_back(phases[i], static_cast<int64_t>(std::lround(pressure)));
            if (phases[i] == current) {
                running_current = running;
            } else {
                best_other = std::max(best_other, pressure);
            }
            if (pressure > best_pressure || (pressure == best_pressure && phases[i] == current)) {
                best_pressure = pressure;
                best = phases[i];
            }
        }
        // Keep a green that still has vehicles coming through it, unless a queue elsewhere presses harder.
        if (running_current >= 0 && !view.InTransition(node) && running_current > best_other) best = current;
        why.at_s = view.Now();
        why.phase = best;
        return {best, view.Now() + options_.advanced_interval_s};
    }
    const Explanation* Explain(IntersectionId node) const override { return LastExplanation(explained_, node); }

private:
    static constexpr double kMovingWeight = 2;
    static constexpr double kReachS = 10;
    ControllerOptions options_;
    PhaseTable table_;
    MovementTable movements_;
    std::vector<Explanation> explained_;
};

// ---------------------------------------------------------------------------------------------------------------
// A learned linear policy (signal/policy.hpp): every interval, each candidate phase is scored by the weighted sum
// of its features and the best turns green. The weights come from `citybrain traffic train` (evolution strategies
// in this simulator, signal/train.hpp); the features are those the pressure controllers use, plus the exit
// road's fill, how long the phase has been green or red, what one interval can serve and the longest queue, so
// that training can find what the hand-set rules cannot.
class LearnedController final : public SignalController {
public:
    explicit LearnedController(ControllerOptions o) : options_(std::move(o)) {}
    std::string_view Name() const override { return "learned"; }
    Status Init(const TrafficView& view) override {
        const auto& net = view.Network();
        policy_ = options_.policy ? *options_.policy : EmbeddedPolicy();
        if (policy_.weights.size() != kPolicyFeatures.size()) {
            return InvalidArgument("--policy", "the policy has the wrong number of weights");
        }
        CB_TRY(table_.Build(net, options_.phases, false));
        movements_ = PhaseMovements(net, table_, true);
        explained_.assign(net.intersections.size(), {});
        for (IntersectionId n : table_.nodes) explained_[n].scores.reserve(table_.phases[n].size());
        interval_s_ = std::max(policy_.interval_s, options_.min_decision_s);
        last_green_.assign(net.intersections.size(), {});
        for (IntersectionId n : table_.nodes) last_green_[n].assign(table_.phases[n].size(), 0.0);
        return {};
    }
    Decision Decide(IntersectionId node, const TrafficView& view) override {
        const auto& phases = table_.phases[node];
        const int32_t current = view.CurrentPhase(node);
        const double green_min = std::min(view.GreenElapsed(node) / 60.0, 2.0);
        Explanation& why = explained_[static_cast<size_t>(node)];
        why.scores.clear();
        int32_t best = phases.front();
        double best_score = -std::numeric_limits<double>::infinity();
        PhaseFeatures f{};
        auto& last_green = last_green_[static_cast<size_t>(node)];
        for (size_t i = 0; i < phases.size(); ++i) {
            if (phases[i] == current && !view.InTransition(node)) last_green[i] = view.Now();
        }
        for (size_t i = 0; i < phases.size(); ++i) {
            const bool is_current = phases[i] == current;
            const double red_min = is_current ? 0.0 : std::min((view.Now() - last_green[i]) / 60.0, 2.0);
            Features(view, movements_[node][i], is_current, green_min, red_min, f);
            double score = 0;
            for (size_t k = 0; k < f.size(); ++k) score += policy_.weights[k] * f[k];
            why.scores.emplace_back(phases[i], static_cast<int64_t>(std::lround(score)));
            if (score > best_score || (score == best_score && phases[i] == current)) {
                best_score = score;
                best = phases[i];
            }
        }
        why.at_s = view.Now();
        why.phase = best;
        return {best, view.Now() + interval_s_};
    }
    const Explanation* Explain(IntersectionId node) const override { return LastExplanation(explained_, node); }

private:
    using PhaseFeatures = std::array<double, kPolicyFeatures.size()>;
    static constexpr double kNearS = 10;
    static constexpr double kFarS = 30;
    static constexpr double kVehicleSpacingM = 7.5;
    static constexpr double kServedPerLane = 3;  // about what a lane discharges in one 5 s interval

    static void Features(const TrafficView& view,
                         const std::vector<Movement>& moves,
                         bool is_current,
                         double green_min,
                         double red_min,
                         PhaseFeatures& f) {
        const auto& net = view.Network();
        f.fill(0);
        for (const Movement& m : moves) {
            double queue = 0;
            double near = 0;
            double far = 0;
            double served = 0;
            for (core::LaneId l : m.entry) {
                const int32_t waiting = view.LaneWaiting(l);
                const double speed = net.lanes[l].max_speed_mps;
                const int32_t within_near = view.LaneApproaching(l, speed * kNearS);
                const int32_t within_far = view.LaneApproaching(l, speed * kFarS);
                queue += waiting;
                near += std::max(0, within_near - waiting);
                far += std::max(0, within_far - std::max(within_near, waiting));
                served += std::min(static_cast<double>(std::max(within_near, waiting)), kServedPerLane);
                f[10] = std::max(f[10], static_cast<double>(waiting));
            }
            const double n_in = static_cast<double>(m.entry.size());
            double out_queue = 0;
            double fill = 0;
            for (core::LaneId l : m.exit) {
                out_queue += view.LaneWaiting(l);
                fill += view.LaneVehicles(l) * kVehicleSpacingM / std::max(net.lanes[l].length_m, kVehicleSpacingM);
            }
            const double n_out = static_cast<double>(m.exit.size());
            f[0] += queue / n_in;
            f[1] += near / n_in;
            f[2] += far / n_in;
            f[3] += out_queue / n_out;
            f[4] += fill / n_out;
            f[8] += 1;
            f[9] += served / n_in;
        }
        f[11] = red_min;
        if (is_current) {
            f[5] = 1;
            f[6] = green_min;
            f[7] = f[1];
        }
    }

    ControllerOptions options_;
    SignalPolicy policy_;
    double interval_s_ = 5;
    PhaseTable table_;
    MovementTable movements_;
    std::vector<Explanation> explained_;
    std::vector<std::vector<double>> last_green_;  // [node][phase slot]: when it was last seen green
};

// ---------------------------------------------------------------------------------------------------------------
// Predictive control (after the arrival-based optimisers OPAC and PRODYN): every interval, an intersection predicts
// from what detectors along its entry lanes see (each vehicle's distance to the line and speed) when each vehicle
// within the horizon reaches the line. It scores the plans "keep the current phase until s, then p for g seconds,
// then q" (q = p: one switch; or keep throughout) by the delay a point queue gives them: saturation headway, the
// start-up loss of a stopped queue, the clearance a switch costs, a vehicle close enough to cross on yellow, and the
// exit road's room. The least-delay plan names this interval's phase, its p if it switches now; the plan is made
// again at the next decision (a rolling horizon). The second switch keeps the scores honest: with one switch
// only, a plan that turns p green is charged nothing for what waits on the other phases after p's queue is gone.
class PredictiveController final : public SignalController {
public:
    explicit PredictiveController(ControllerOptions o) : options_(std::move(o)) {}
    std::string_view Name() const override { return "predictive"; }
    Status Init(const TrafficView& view) override {
        const auto& net = view.Network();
        CB_TRY(table_.Build(net, options_.phases, false));
        const MovementTable movements = PhaseMovements(net, table_, true);
        lanes_.assign(net.intersections.size(), {});
        explained_.assign(net.intersections.size(), {});
        for (IntersectionId n : table_.nodes) {
            if (table_.phases[n].size() > 64) {
                return InvalidArgument(
                    "--controller",
                    "predictive: intersection '" + net.intersections[n].id + "' has more than 64 control phases");
            }
            auto& lanes = lanes_[n];
            for (size_t i = 0; i < movements[n].size(); ++i) {
                for (const Movement& m : movements[n][i]) {
                    for (core::LaneId l : m.entry) {
                        auto it = std::find_if(lanes.begin(), lanes.end(), [l](const Lane& x) { return x.id == l; });
                        if (it == lanes.end()) {
                            lanes.push_back({l, 0, {}});
                            it = lanes.end() - 1;
                        }
                        it->green |= uint64_t{1} << i;
                        for (core::LaneId e : m.exit) {
                            if (std::find(it->exits.begin(), it->exits.end(), e) == it->exits.end())
                                it->exits.push_back(e);
                        }
                    }
                }
            }
            explained_[n].scores.reserve(table_.phases[n].size());
        }
        interval_s_ = std::max(kIntervalS, options_.min_decision_s);
        // A switch can only happen at a decision; the grid thins out further ahead, where a second's precision
        // no longer changes what is done now.
        first_.clear();
        for (double t : {0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 13.0, 16.0, 20.0, 25.0}) {
            if (t < kHorizonS && std::fmod(t, interval_s_) < 1e-9) first_.push_back(t);
        }
        holds_.clear();
        for (double g = std::max(options_.min_green_s, 1.0); g + options_.clearance_s < kHorizonS; g += kHoldStepS)
            holds_.push_back(g);
        if (holds_.empty()) holds_.push_back(kHorizonS);
        return {};
    }
    Decision Decide(IntersectionId node, const TrafficView& view) override {
        const auto& net = view.Network();
        const auto& phases = table_.phases[node];
        const int32_t current = view.CurrentPhase(node);
        if (view.InTransition(node)) return {current, view.Now() + 1};
        size_t ci = phases.size();
        for (size_t i = 0; i < phases.size(); ++i) {
            if (phases[i] == current) ci = i;
        }
        const auto& lanes = lanes_[node];
        const size_t nf = first_.size();
        const size_t nh = holds_.size();
        // Each lane's delay under every plan, which depends only on whether the lane is green in p and in q: [active
        // lane][green in p][green in q][first switch][hold]. Plans then sum these, lane by lane.
        const double clearance = options_.clearance_s;
        const double yellow_cross = options_.yellow_s > 0 ? kYellowCrossS : 0.0;
        double keep = 0;
        active_.clear();  // lanes with a vehicle within the horizon: an empty lane costs nothing under any plan
        for (size_t k = 0; k < lanes.size(); ++k) {
            const Lane& lane = lanes[k];
            const double v_max = net.lanes[lane.id].max_speed_mps;
            view.LaneApproach(lane.id, v_max * kHorizonS, approach_);
            etas_.clear();
            for (const TrafficView::Approach& a : approach_) etas_.push_back(Eta(a, v_max));
            if (etas_.empty() || etas_.front() >= kHorizonS) continue;
            const size_t slot = active_.size();
            active_.push_back(lane.green);
            delays_.resize(active_.size() * 4 * nf * nh);
            double room = kExitDrainPerS * kHorizonS * static_cast<double>(lane.exits.size());
            for (core::LaneId e : lane.exits) {
                room +=
                    std::max(0.0, net.lanes[e].length_m / kVehicleSpacingM - static_cast<double>(view.LaneVehicles(e)));
            }
            const bool now_green = ci < phases.size() && ((lane.green >> ci) & 1);
            keep += LaneDelay(Windows(now_green, now_green, now_green, 0, 0, clearance, yellow_cross), room);
            for (int a = 0; a < 2; ++a) {
                for (int b = 0; b < 2; ++b) {
                    for (size_t i = 0; i < nf; ++i) {
                        for (size_t j = 0; j < nh; ++j) {
                            const double second = first_[i] + clearance + holds_[j];
                            delays_[Index(slot, a, b, i, j)] = LaneDelay(
                                Windows(now_green, a != 0, b != 0, first_[i], second, clearance, yellow_cross), room);
                        }
                    }
                }
            }
        }
        const auto plan_delay = [&](size_t p, size_t q, size_t i, size_t j) {
            double d = 0;
            for (size_t k = 0; k < active_.size(); ++k) {
                const uint64_t g = active_[k];
                d += delays_[Index(k, static_cast<int>((g >> p) & 1), static_cast<int>((g >> q) & 1), i, j)];
            }
            return d;
        };
        double best_delay = keep;
        int32_t best = ci < phases.size() ? current : phases.front();
        Explanation& why = explained_[static_cast<size_t>(node)];
        why.scores.clear();
        for (size_t p = 0; p < phases.size(); ++p) {
            double phase_best = p == ci ? keep : std::numeric_limits<double>::infinity();
            for (size_t i = 0; i < nf && p != ci; ++i) {
                double d = plan_delay(p, p, i, 0);  // one switch: p to the horizon
                for (size_t j = 0; j < nh; ++j) {
                    for (size_t q = 0; q < phases.size(); ++q) {
                        if (q != p) d = std::min(d, plan_delay(p, q, i, j));
                    }
                }
                phase_best = std::min(phase_best, d);
                if (d < best_delay - kEpsS) {
                    best_delay = d;
                    // Switching later: keep the current phase for now, unless it is not one to keep (CityFlow's
                    // clearance phase at the start), when p turns green at once.
                    best = i == 0 || ci == phases.size() ? phases[p] : current;
                }
            }
            why.scores.emplace_back(phases[p], -static_cast<int64_t>(std::lround(phase_best)));
        }
        why.at_s = view.Now();
        why.phase = best;
        return {best, view.Now() + interval_s_};
    }
    const Explanation* Explain(IntersectionId node) const override { return LastExplanation(explained_, node); }

private:
    struct Lane {
        core::LaneId id;
        uint64_t green;  // bit i: green in phase slot i
        std::vector<core::LaneId> exits;
    };
    // Up to three green windows [from, until) within the horizon; `from` > 0 after a red: a stopped queue starts.
    struct Windows {
        std::array<std::pair<double, double>, 3> w{};
        size_t n = 0;
        // A lane green (or not) in the current phase, in p from `first` and in q from `second` (second > first;
        // q = p when the plan does not switch twice). A switch holds a lane gaining the green for `clearance`; one
        // losing it still lets through who is `yellow_cross` seconds from the line.
        Windows(bool now, bool in_p, bool in_q, double first, double second, double clearance, double yellow_cross) {
            const bool green[3] = {now, in_p, in_q};
            const double start[3] = {0, first, second};
            const double end[3] = {first, second, kHorizonS};
            for (size_t s = 0; s < 3; ++s) {
                if (!green[s]) continue;
                const bool from_before = s > 0 && green[s - 1];
                const bool into_next = s < 2 && green[s + 1];
                const double until = into_next ? end[s] : (s < 2 ? end[s] + yellow_cross : kHorizonS);
                if (from_before && n > 0) {
                    w[n - 1].second = until;
                } else {
                    w[n++] = {s == 0 ? 0.0 : start[s] + clearance, until};
                }
            }
        }
    };

    size_t Index(size_t lane, int a, int b, size_t i, size_t j) const {
        return (((lane * 4 + static_cast<size_t>(a * 2 + b)) * first_.size() + i) * holds_.size()) + j;
    }

    // When a vehicle seen at `a` reaches the line if nothing stops it: at the lane's speed, plus half the time it
    // needs to reach that speed. (Exact kinematics, which leave out car following and slowing for turns, scored
    // 1-4 s of ATT worse on the training flows.)
    static double Eta(const TrafficView::Approach& a, double v_max) {
        if (a.speed_mps < kStoppedMps) return 0;  // in the queue: it leaves in queue order
        return a.distance_m / v_max + std::max(0.0, v_max - a.speed_mps) / (2 * kAccel);
    }

    // Vehicle-seconds of delay within the horizon on the lane whose arrivals are etas_ (in order), green in
    // `windows`, at most `room` of its vehicles let into the exit road. A vehicle not served within the horizon
    // counts its wait to the horizon's end.
    double LaneDelay(const Windows& windows, double room) const {
        double delay = 0;
        double last = -kHeadwayS;
        double served = 0;
        size_t w = 0;
        for (size_t i = 0; i < etas_.size(); ++i) {
            const double eta = etas_[i];
            if (eta >= kHorizonS) break;
            double depart = std::max(eta, last + kHeadwayS);
            bool crosses = false;
            for (; w < windows.n && served < room; ++w) {
                const auto [from, until] = windows.w[w];
                const double t = eta < from && from > 0 ? std::max(depart, from + kStartLossS) : std::max(depart, from);
                if (t < until && t < kHorizonS) {
                    depart = t;
                    crosses = true;
                    break;
                }
            }
            if (!crosses) {
                for (size_t j = i; j < etas_.size() && etas_[j] < kHorizonS; ++j) delay += kHorizonS - etas_[j];
                break;
            }
            delay += depart - eta;
            last = depart;
            served += 1;
        }
        return delay;
    }

    // Chosen on the three training flows only (scripts/train_signals.sh names them), one at a time: deciding every
    // 1 s beats every 2 or 5 s; a 30 s horizon beats 15 (the best with one switch only), 25, 35 and 40; headway and
    // start-up loss move nothing by more than 0.5 s. docs/BENCHMARKS.md has the figures.
    static constexpr double kIntervalS = 1;  // the format may ask for more (CBEngine: 10 s)
    static constexpr double kHorizonS = 30;
    static constexpr double kHoldStepS = 5;  // the second switch after the minimum green, then every 5 s
    static constexpr double kHeadwayS = 2;
    static constexpr double kStartLossS = 2;
    static constexpr double kAccel = 2;
    static constexpr double kYellowCrossS = 1;  // a vehicle about a second from the line crosses on yellow
    static constexpr double kStoppedMps = 0.1;
    static constexpr double kVehicleSpacingM = 7.5;
    static constexpr double kExitDrainPerS = 0.3;  // an exit lane's own discharge frees room as we fill it
    static constexpr double kEpsS = 1e-9;

    ControllerOptions options_;
    double interval_s_ = 1;
    PhaseTable table_;
    std::vector<std::vector<Lane>> lanes_;  // [node]: the entry lanes of its control phases
    std::vector<Explanation> explained_;
    std::vector<double> first_;  // when the first switch may come, s from now
    std::vector<double> holds_;  // how long p may hold before the second switch, s
    // Scratch, reused by every decision (no allocation per decision once grown).
    std::vector<TrafficView::Approach> approach_;
    std::vector<double> etas_;
    std::vector<double> delays_;
    std::vector<uint64_t> active_;  // the green masks of the lanes with vehicles, in the order of delays_
};

}  // namespace

int32_t ClearancePhase(const Intersection& node) {
    for (size_t p = 0; p < node.phases.size(); ++p) {
        const uint64_t m = Mask(node.phases[p]);
        bool in_all = node.phases.size() > 1;
        for (size_t q = 0; q < node.phases.size() && in_all; ++q) {
            if (q != p && (Mask(node.phases[q]) & m) != m) in_all = false;
        }
        if (in_all) return static_cast<int32_t>(p);
    }
    return -1;
}

namespace {

/// Every phase but the clearance phase and empty ones, in the roadnet's order.
std::vector<int32_t> NonClearancePhases(const Intersection& node, int32_t clearance) {
    std::vector<int32_t> out;
    for (size_t p = 0; p < node.phases.size(); ++p) {
        if (static_cast<int32_t>(p) != clearance && !node.phases[p].road_links.empty())
            out.push_back(static_cast<int32_t>(p));
    }
    return out;
}

}  // namespace

std::vector<int32_t> ControlPhases(const Intersection& node, const std::vector<int32_t>& requested) {
    if (!requested.empty()) return requested;
    const int32_t clearance = ClearancePhase(node);
    const uint64_t always = clearance >= 0 ? Mask(node.phases[clearance]) : 0;
    const std::vector<int32_t> candidates = NonClearancePhases(node, clearance);
    // A phase that permits only movements another phase permits too is dominated: it serves less, and choosing
    // it can only leave a queue waiting that the other would serve. Of two equal phases the first is kept.
    std::vector<int32_t> out;
    for (size_t i = 0; i < candidates.size(); ++i) {
        const uint64_t m = Mask(node.phases[candidates[i]]) & ~always;
        bool dominated = false;
        for (size_t j = 0; j < candidates.size() && !dominated; ++j) {
            if (j == i) continue;
            const uint64_t other = Mask(node.phases[candidates[j]]) & ~always;
            dominated = (m & other) == m && (other != m || j < i);
        }
        if (!dominated) out.push_back(candidates[i]);
    }
    return out;
}

std::vector<int32_t> CoveringCycle(const Intersection& node, const std::vector<int32_t>& requested) {
    if (!requested.empty()) return requested;
    const int32_t clearance = ClearancePhase(node);
    uint64_t covered = clearance >= 0 ? Mask(node.phases[clearance]) : 0;
    std::vector<int32_t> out;
    for (int32_t p : NonClearancePhases(node, clearance)) {
        const uint64_t m = Mask(node.phases[p]);
        if ((m & ~covered) != 0) {
            out.push_back(p);
            covered |= m;
        }
    }
    return out;
}

const std::vector<std::string>& ControllerNames() {
    static const std::vector<std::string> kNames = {
        "own-plan", "fixed", "webster", "sotl", "maxpressure", "advanced-mp", "learned", "predictive", "auto"};
    return kNames;
}

Result<std::unique_ptr<SignalController>> MakeController(const std::string& name, const ControllerOptions& options) {
    std::unique_ptr<SignalController> c;
    if (name == "own-plan")
        c = std::make_unique<OwnPlanController>();
    else if (name == "fixed")
        c = std::make_unique<FixedTimeController>(options);
    else if (name == "webster")
        c = std::make_unique<WebsterController>(options);
    else if (name == "sotl")
        c = std::make_unique<SotlController>(options);
    else if (name == "maxpressure")
        c = std::make_unique<MaxPressureController>(options);
    else if (name == "advanced-mp")
        c = std::make_unique<AdvancedPressureController>(options);
    else if (name == "predictive" || name == "auto")  // auto: the best measured (docs/BENCHMARKS.md)
        c = std::make_unique<PredictiveController>(options);
    else if (name == "learned")
        c = std::make_unique<LearnedController>(options);
    else
        return InvalidArgument(
            "--controller",
            "unknown controller '" + name +
                "' (own-plan, fixed, webster, sotl, maxpressure, advanced-mp, learned, predictive, auto)");
    return c;
}

}  // namespace citybrain::traffic
