// SPDX-License-Identifier: Apache-2.0
#include "traffic/sim/simulator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace citybrain::traffic {

namespace {

constexpr int32_t kUnroutable = -2;  // planned link: the lane has no way to the next road of the route
constexpr double kWaitingSpeed = 0.1;
constexpr double kEps = 1e-9;

// Distance within which a vehicle starts obeying the intersection ahead: a comfortable stop from full speed plus
// two steps (CityFlow's "approaching intersection distance").
double ApproachDistance(const core::VehicleParams& p, double dt) {
    return p.max_speed_mps * p.max_speed_mps / (2 * p.usual_neg_acc) + 2 * p.max_speed_mps * dt;
}

// Largest speed for this step such that the follower, braking at bf after the step, stops at least `target_gap`
// behind a leader that brakes at bl from vl now (Gipps' safe speed with the step's own travel, and the step
// itself never overtaking the leader's shortest possible step).
double SafeSpeed(double vl, double bl, double vf, double bf, double gap, double target_gap, double dt) {
    const double a = 1.0 / (2 * bf);
    const double b = dt / 2;
    const double c = vf * dt / 2 + target_gap - vl * vl / (2 * bl) - gap;
    const double disc = b * b - 4 * a * c;
    if (disc < 0) return -100;
    const double v_quad = (-b + std::sqrt(disc)) / (2 * a);
    const double leader_step = vl >= bl * dt ? (vl - bl * dt / 2) * dt : vl * vl / (2 * bl);
    const double v_step = 2 * (gap - target_gap + leader_step) / dt - vf;
    return std::min(v_quad, v_step);
}

// Speed that stops a vehicle comfortably within `dist` (a stopped virtual leader at the line).
double StopSpeed(const core::VehicleParams& p, double speed, double dist, double dt) {
    return SafeSpeed(0, 1, speed, p.usual_neg_acc, std::max(dist, 0.0), 0, dt);
}

// Time to cover `dist` from `speed`, accelerating at `acc` up to `vmax`.
double ArriveTime(double dist, double speed, double vmax, double acc) {
    if (dist <= 0) return 0;
    if (speed >= vmax) return dist / std::max(speed, 0.1);
    const double t_acc = (vmax - speed) / acc;
    const double d_acc = (speed + vmax) / 2 * t_acc;
    if (dist <= d_acc) return (-speed + std::sqrt(speed * speed + 2 * acc * dist)) / acc;
    return t_acc + (dist - d_acc) / vmax;
}

}  // namespace

Status SimConfig::Validate() const {
    if (!(step_s > 0) || step_s > 5) return InvalidArgument("step_s", "must be in (0, 5] seconds");
    if (threads < 1 || threads > 256) return InvalidArgument("threads", "must be in 1..256");
    if (yellow_s < 0 || yellow_s > 60) return InvalidArgument("yellow_s", "must be in [0, 60] seconds");
    if (all_red_s < 0 || all_red_s > 60) return InvalidArgument("all_red_s", "must be in [0, 60] seconds");
    if (min_green_s < 0 || min_green_s > 600) return InvalidArgument("min_green_s", "must be in [0, 600] seconds");
    if (parallel_min_vehicles < 0) return InvalidArgument("parallel_min_vehicles", "must be >= 0");
    return {};
}

Simulator::Simulator(const core::RoadNetwork& net, const core::Demand& demand, SimConfig config)
    : net_(net), demand_(demand), config_(config), rng_(config.seed) {
    CB_ASSERT(config_.Validate().ok(), "invalid SimConfig");
    team_ = std::make_unique<ThreadTeam>(config_.threads);
    num_lanes_ = static_cast<int32_t>(net_.lanes.size());
    const size_t num_drivables = net_.lanes.size() + net_.lane_links.size();
    drivable_len_.resize(num_drivables);
    drivable_speed_.resize(num_drivables);
    occupants_.resize(num_drivables);
    for (size_t l = 0; l < net_.lanes.size(); ++l) {
        drivable_len_[l] = net_.lanes[l].length_m;
        drivable_speed_[l] = net_.lanes[l].max_speed_mps;
    }
    for (size_t k = 0; k < net_.lane_links.size(); ++k) {
        const core::LaneLink& link = net_.lane_links[k];
        drivable_len_[num_lanes_ + k] = link.length_m;
        drivable_speed_[num_lanes_ + k] =
            std::min(net_.lanes[link.from_lane].max_speed_mps, net_.lanes[link.to_lane].max_speed_mps);
    }
    for (size_t d = 0; d < num_drivables; ++d)
        occupants_[d].reserve(static_cast<size_t>(std::min(drivable_len_[d], 1e5) / 7) + 2);
    // The roads each lane leads to, for PlanLink's "does this lane continue to the road after" test.
    lane_next_begin_.assign(net_.lanes.size() + 1, 0);
    for (size_t l = 0; l < net_.lanes.size(); ++l) {
        const size_t first = lane_next_roads_.size();
        for (LaneLinkId k : net_.lanes[l].out_links) {
            const core::RoadId r = net_.lanes[net_.lane_links[k].to_lane].road;
            if (std::find(lane_next_roads_.begin() + static_cast<std::ptrdiff_t>(first), lane_next_roads_.end(), r) ==
                lane_next_roads_.end()) {
                lane_next_roads_.push_back(r);
            }
        }
        lane_next_begin_[l + 1] = static_cast<uint32_t>(lane_next_roads_.size());
    }
    merge_partners_.resize(net_.lane_links.size());
    {
        std::vector<std::vector<LaneLinkId>> into(net_.lanes.size());
        for (size_t k = 0; k < net_.lane_links.size(); ++k)
            into[net_.lane_links[k].to_lane].push_back(static_cast<LaneLinkId>(k));
        for (const auto& links_in : into) {
            for (LaneLinkId a : links_in) {
                for (LaneLinkId b : links_in) {
                    if (a != b) merge_partners_[a].push_back(b);
                }
            }
        }
    }

    // Flows: parameters, free-flow time, candidate first lanes and the spawn schedule.
    const size_t num_flows = demand_.flows.size();
    flow_params_.reserve(num_flows);
    flow_free_time_.reserve(num_flows);
    flow_lane_begin_.reserve(num_flows + 1);
    std::vector<core::LaneLinkId> links;
    for (size_t f = 0; f < num_flows; ++f) {
        const core::Flow& flow = demand_.flows[f];
        flow_params_.push_back(flow.vehicle);
        double free_time = 0;
        for (size_t i = 0; i < flow.route.size(); ++i) {
            const core::Road& road = net_.roads[flow.route[i]];
            const core::Lane& lane = net_.lanes[road.first_lane];
            free_time += lane.length_m / std::min(flow.vehicle.max_speed_mps, lane.max_speed_mps);
            if (i + 1 < flow.route.size()) {
                for (int32_t k = 0; k < road.num_lanes; ++k) {
                    net_.LinksToRoad(road.first_lane + k, flow.route[i + 1], links);
                    if (links.empty()) continue;
                    const core::LaneLink& ll = net_.lane_links[links.front()];
                    double v = std::min(flow.vehicle.max_speed_mps, drivable_speed_[num_lanes_ + links.front()]);
                    if (net_.road_links[ll.road_link].type != core::TurnType::kStraight) {
                        v = std::min(v, flow.vehicle.turn_speed_mps);
                    }
                    free_time += ll.length_m / v;
                    break;
                }
            }
        }
        flow_free_time_.push_back(free_time);
        flow_lane_begin_.push_back(static_cast<uint32_t>(flow_lanes_.size()));
        const core::Road& first = net_.roads[flow.route.front()];
        for (int32_t k = 0; k < first.num_lanes; ++k) {
            const LaneId lane = first.first_lane + k;
            if (flow.route.size() > 1) {
                net_.LinksToRoad(lane, flow.route[1], links);
                if (links.empty()) continue;
            }
            flow_lanes_.push_back(lane);
        }
        if (flow_lanes_.size() == flow_lane_begin_.back()) flow_lanes_.push_back(first.first_lane);
        schedule_.emplace_back(flow.start_s, static_cast<uint32_t>(f));
    }
    flow_lane_begin_.push_back(static_cast<uint32_t>(flow_lanes_.size()));
    std::make_heap(schedule_.begin(), schedule_.end(), std::greater<>());

    waiting_.resize(net_.lanes.size());
    lane_waiting_.assign(net_.lanes.size(), 0);
    lane_entries_.assign(net_.lanes.size(), 0);
    lane_is_approach_.assign(net_.lanes.size(), 0);
    for (size_t l = 0; l < net_.lanes.size(); ++l) {
        const core::Intersection& end = net_.intersections[net_.roads[net_.lanes[l].road].to];
        if (!end.is_virtual && !end.phases.empty()) {
            lane_is_approach_[l] = 1;
            ++num_approach_lanes_;
        }
    }

    // Signals: one mask of permitted local road links per phase; uncontrolled nodes are always green.
    light_.assign(net_.road_links.size(), Light::kGreen);
    signals_.resize(net_.intersections.size());
    phase_begin_.reserve(net_.intersections.size() + 1);
    for (size_t n = 0; n < net_.intersections.size(); ++n) {
        const core::Intersection& node = net_.intersections[n];
        phase_begin_.push_back(static_cast<uint32_t>(phase_mask_.size()));
        CB_ASSERT(node.road_links.size() <= 64, "more than 64 movements at one intersection");
        for (const core::Phase& p : node.phases) {
            uint64_t mask = 0;
            for (int32_t k : p.road_links) mask |= uint64_t{1} << k;
            phase_mask_.push_back(mask);
        }
        if (!node.is_virtual && !node.phases.empty()) {
            signals_[n].controlled = true;
            ApplyGreen(static_cast<IntersectionId>(n));
            signals_[n].green_since = -1e9;
        }
    }
    transfers_.resize(static_cast<size_t>(team_->size()));
    finished_.resize(static_cast<size_t>(team_->size()));
}

Simulator::~Simulator() = default;

double Simulator::GreenElapsed(IntersectionId node) const {
    const SignalState& s = signals_[node];
    return s.stage == Stage::kGreen ? Now() - s.green_since : 0;
}

double Simulator::VehicleMaxSpeed(int32_t slot) const {
    return std::min(flow_params_[flow_[slot]].max_speed_mps, drivable_speed_[drivable_[slot]]);
}

int32_t Simulator::LaneApproaching(LaneId lane, double distance_m) const {
    int32_t n = 0;
    const double len = drivable_len_[lane];
    for (int32_t v : occupants_[lane]) {
        if (len - pos_[v] > distance_m) break;  // front first: the rest are further away
        ++n;
    }
    return n;
}

void Simulator::LaneApproach(LaneId lane, double distance_m, std::vector<Approach>& out) const {
    out.clear();
    const double len = drivable_len_[lane];
    for (int32_t v : occupants_[lane]) {
        const double dist = len - pos_[v];
        if (dist > distance_m) break;  // front first: the rest are further away
        out.push_back({dist, speed_[v]});
    }
}

int32_t Simulator::AllocSlot() {
    if (!free_slots_.empty()) {
        const int32_t slot = free_slots_.back();
        free_slots_.pop_back();
        return slot;
    }
    const auto slot = static_cast<int32_t>(pos_.size());
    for (auto* v : {&pos_, &speed_, &next_speed_, &enter_time_}) v->push_back(0);
    for (auto* v : {&drivable_, &flow_, &planned_link_, &came_from_}) v->push_back(core::kNone);
    hold_.push_back(0);
    route_pos_.push_back(0);
    serial_.push_back(0);
    alive_.push_back(0);
    return slot;
}

void Simulator::Spawn() {
    const double now = Now();
    while (!schedule_.empty() && schedule_.front().first <= now + kEps) {
        std::pop_heap(schedule_.begin(), schedule_.end(), std::greater<>());
        auto [time, f] = schedule_.back();
        schedule_.pop_back();
        const core::Flow& flow = demand_.flows[f];
        const int32_t v = AllocSlot();
        alive_[v] = 1;
        serial_[v] = next_serial_++;
        flow_[v] = static_cast<int32_t>(f);
        enter_time_[v] = now;
        pos_[v] = 0;
        speed_[v] = 0;
        next_speed_[v] = 0;
        route_pos_[v] = 0;
        came_from_[v] = core::kNone;
        const uint32_t begin = flow_lane_begin_[f];
        const uint32_t count = flow_lane_begin_[f + 1] - begin;
        const LaneId lane = flow_lanes_[begin + static_cast<uint32_t>(rng_() % count)];
        drivable_[v] = lane;
        if (waiting_[lane].empty()) lanes_with_waiting_.push_back(lane);
        waiting_[lane].push_back(v);
        ++spawned_;
        ++waiting_total_;
        const double next = time + flow.interval_s;
        if (flow.end_s < 0 || next <= flow.end_s + kEps) {
            schedule_.emplace_back(next, f);
            std::push_heap(schedule_.begin(), schedule_.end(), std::greater<>());
        }
    }
}

LaneLinkId Simulator::PlanLink(const core::Flow& flow, size_t route_pos, LaneId lane) const {
    if (route_pos + 1 >= flow.route.size()) return core::kNone;
    const core::RoadId next_road = flow.route[route_pos + 1];
    const bool has_after = route_pos + 2 < flow.route.size();
    const core::RoadId after = has_after ? flow.route[route_pos + 2] : core::kNone;
    const int32_t my_index = net_.lanes[lane].index_in_road;
    // Among the links into the next road, prefer those landing on a lane that continues to the road after;
    // then the one that keeps the lane index closest (drivers do not weave across the box).
    LaneLinkId best = kUnroutable;
    int best_rank = std::numeric_limits<int>::max();
    for (LaneLinkId l : net_.lanes[lane].out_links) {
        const core::LaneLink& link = net_.lane_links[l];
        const core::Lane& to = net_.lanes[link.to_lane];
        if (to.road != next_road) continue;
        bool continues = true;
        if (has_after) {
            const auto* first = lane_next_roads_.data() + lane_next_begin_[link.to_lane];
            const auto* last = lane_next_roads_.data() + lane_next_begin_[link.to_lane + 1];
            continues = std::find(first, last, after) != last;
        }
        const int rank = (continues ? 0 : 1000) + std::abs(to.index_in_road - my_index);
        if (rank < best_rank) {
            best_rank = rank;
            best = l;
        }
    }
    return best;
}

void Simulator::EnterLane(int32_t v, LaneId lane) {
    drivable_[v] = lane;
    planned_link_[v] = PlanLink(demand_.flows[flow_[v]], route_pos_[v], lane);
}

void Simulator::Admit() {
    size_t keep = 0;
    for (size_t i = 0; i < lanes_with_waiting_.size(); ++i) {
        const LaneId lane = lanes_with_waiting_[i];
        auto& queue = waiting_[lane];
        const int32_t v = queue.front();
        auto& occ = occupants_[lane];
        bool room = occ.empty();
        if (!room) {
            const int32_t tail = occ.back();
            room = pos_[tail] > flow_params_[flow_[tail]].length_m + flow_params_[flow_[v]].min_gap_m;
        }
        if (room) {
            queue.pop_front();
            pos_[v] = 0;
            speed_[v] = 0;
            occ.push_back(v);
            EnterLane(v, lane);
            ++lane_entries_[lane];
            --waiting_total_;
            ++running_;
        }
        if (!queue.empty()) lanes_with_waiting_[keep++] = lane;
    }
    lanes_with_waiting_.resize(keep);
}

void Simulator::ApplyGreen(IntersectionId node) {
    SignalState& s = signals_[node];
    s.current = s.target;
    s.stage = Stage::kGreen;
    s.green_since = Now();
    const uint64_t mask = phase_mask_[phase_begin_[node] + static_cast<uint32_t>(s.current)];
    const auto& links = net_.intersections[node].road_links;
    for (size_t k = 0; k < links.size(); ++k) light_[links[k]] = (mask >> k) & 1 ? Light::kGreen : Light::kRed;
}

void Simulator::StartTransition(IntersectionId node, int32_t phase) {
    SignalState& s = signals_[node];
    s.target = phase;
    s.pending = -1;
    const uint64_t old_mask = phase_mask_[phase_begin_[node] + static_cast<uint32_t>(s.current)];
    const uint64_t new_mask = phase_mask_[phase_begin_[node] + static_cast<uint32_t>(phase)];
    const auto& links = net_.intersections[node].road_links;
    // Movements green in both phases keep going; those losing right of way show yellow; those gaining it wait.
    for (size_t k = 0; k < links.size(); ++k) {
        const bool was = (old_mask >> k) & 1;
        const bool will = (new_mask >> k) & 1;
        light_[links[k]] = was && will ? Light::kGreen : (was && config_.yellow_s > 0 ? Light::kYellow : Light::kRed);
    }
    if (config_.yellow_s > 0) {
        s.stage = Stage::kYellow;
        s.stage_end = Now() + config_.yellow_s;
    } else if (config_.all_red_s > 0) {
        s.stage = Stage::kAllRed;
        s.stage_end = Now() + config_.all_red_s;
    } else {
        ApplyGreen(node);
    }
}

void Simulator::RequestPhase(IntersectionId node, int32_t phase) {
    SignalState& s = signals_[node];
    CB_ASSERT(s.controlled, "RequestPhase on an intersection without signals");
    CB_ASSERT(phase >= 0 && phase < static_cast<int32_t>(net_.intersections[node].phases.size()), "phase out of range");
    if (s.stage != Stage::kGreen) {
        s.pending = phase == s.target ? -1 : phase;
        return;
    }
    if (phase == s.current) {
        s.pending = -1;
        return;
    }
    if (Now() - s.green_since < config_.min_green_s - kEps) {
        s.pending = phase;
        return;
    }
    StartTransition(node, phase);
}

void Simulator::AdvanceSignals() {
    const double now = Now();
    for (size_t n = 0; n < signals_.size(); ++n) {
        SignalState& s = signals_[n];
        if (!s.controlled) continue;
        const auto node = static_cast<IntersectionId>(n);
        if (s.stage == Stage::kYellow && now >= s.stage_end - kEps) {
            if (config_.all_red_s > 0) {
                s.stage = Stage::kAllRed;
                s.stage_end += config_.all_red_s;
                for (RoadLinkId l : net_.intersections[n].road_links) {
                    if (light_[l] == Light::kYellow) light_[l] = Light::kRed;
                }
            } else {
                ApplyGreen(node);
            }
        }
        if (s.stage == Stage::kAllRed && now >= s.stage_end - kEps) ApplyGreen(node);
        if (s.stage == Stage::kGreen && s.pending >= 0 && now - s.green_since >= config_.min_green_s - kEps) {
            if (s.pending == s.current) {
                s.pending = -1;
            } else {
                StartTransition(node, s.pending);
            }
        }
    }
}

bool Simulator::CanEnter(LaneId lane, int32_t v) const {
    const auto& occ = occupants_[lane];
    if (occ.empty()) return true;
    const int32_t tail = occ.back();
    return pos_[tail] > flow_params_[flow_[tail]].length_m + flow_params_[flow_[v]].length_m || speed_[tail] >= 2;
}

double Simulator::YieldSpeed(int32_t v, LaneLinkId link_id, double front_from_start, double v_limit) const {
    const core::LaneLink& link = net_.lane_links[link_id];
    if (link.conflicts.empty()) return v_limit;
    const core::VehicleParams& p = flow_params_[flow_[v]];
    const double dt = config_.step_s;
    const double speed = speed_[v];
    const bool me_in_box = front_from_start >= 0;
    const core::TurnType my_type = net_.road_links[link.road_link].type;
    const double horizon = ApproachDistance(p, dt) + link.length_m;
    const double brake = speed * speed / (2 * p.max_neg_acc);
    auto arrive = [&](int32_t who, double dist, core::TurnType type) {
        const core::VehicleParams& q = flow_params_[flow_[who]];
        const double vmax = type == core::TurnType::kStraight ? q.max_speed_mps : q.turn_speed_mps;
        return ArriveTime(dist, speed_[who], vmax, q.usual_pos_acc);
    };
    for (const core::Conflict& c : link.conflicts) {
        const double d_me = c.along_self_m - front_from_start;
        if (d_me < 0) continue;     // my front is past this point; the foe waits for my tail
        if (d_me > horizon) break;  // sorted by distance
        // Committed: cannot stop before the point (CityFlow's canYield), so go and let the foe yield.
        if (!(brake < d_me - p.yield_distance_m)) continue;
        const core::LaneLink& other = net_.lane_links[c.other];
        const core::TurnType foe_type = net_.road_links[other.road_link].type;
        // Does foe f (its front d_f before the point, in the box or not) go before me?
        auto foe_first = [&](int32_t f, double d_f, bool foe_in_box) {
            const core::VehicleParams& q = flow_params_[flow_[f]];
            if (d_f < 0) return true;  // the foe is across the point now
            if (!(speed_[f] * speed_[f] / (2 * q.max_neg_acc) < d_f - q.yield_distance_m)) return true;
            if (foe_in_box != me_in_box) return foe_in_box;
            const double t_me = arrive(v, d_me, my_type);
            const double t_foe = arrive(f, d_f, foe_type);
            if (foe_type != my_type) {
                // The lower-ranked movement goes only if it is clearly there first.
                constexpr double kMargin = 1.0;
                if (foe_type > my_type) return !(t_me + kMargin < t_foe);
                return t_foe + kMargin < t_me;
            }
            if (std::abs(t_me - t_foe) > 1e-6) return t_foe < t_me;
            return serial_[f] < serial_[v];
        };
        bool yield = false;
        for (int32_t f : occupants_[num_lanes_ + c.other]) {
            const double d_f = c.along_other_m - pos_[f];
            if (d_f + flow_params_[flow_[f]].length_m < 0) continue;  // cleared the point
            if (foe_first(f, d_f, true)) {
                yield = true;
                break;
            }
        }
        if (!yield) {
            const auto& approach = occupants_[other.from_lane];
            if (!approach.empty()) {
                const int32_t f = approach.front();
                const Light light = light_[other.road_link];
                const double to_line = drivable_len_[other.from_lane] - pos_[f];
                if (planned_link_[f] == c.other && light != Light::kRed &&
                    to_line <= ApproachDistance(flow_params_[flow_[f]], dt)) {
                    yield = foe_first(f, to_line + c.along_other_m, false);
                }
            }
        }
        if (yield) return std::min(v_limit, StopSpeed(p, speed, d_me - p.yield_distance_m, dt));
    }
    return v_limit;
}

double Simulator::IntersectionSpeed(int32_t v, int32_t lane, double v_limit) const {
    const core::VehicleParams& p = flow_params_[flow_[v]];
    const double dt = config_.step_s;
    const LaneLinkId link_id = planned_link_[v];
    const core::LaneLink& link = net_.lane_links[link_id];
    const double dist = drivable_len_[lane] - pos_[v];
    const double speed = speed_[v];
    const Light light = light_[link.road_link];
    // A vehicle that has been braking for the line sits on the boundary of "can stop"; the slack keeps that
    // decision stable (Move holds a stopping vehicle at the line, so the slack never puts it into the box).
    constexpr double kStopSlack = 1.0;
    const double can_stop = dist + kStopSlack;
    bool stop = false;
    if (light == Light::kRed) {
        stop = speed * speed / (2 * p.max_neg_acc) <= can_stop;  // stop if physically possible
    } else if (light == Light::kYellow) {
        stop = speed * speed / (2 * p.usual_neg_acc) <= can_stop;  // stop if comfortable, else clear the box
    }
    if (!stop && !CanEnter(link.to_lane, v)) stop = speed * speed / (2 * p.max_neg_acc) <= can_stop;
    if (stop) {
        hold_[v] = 1;
        return std::min(v_limit, StopSpeed(p, speed, dist, dt));
    }
    if (net_.road_links[link.road_link].type != core::TurnType::kStraight)
        v_limit = std::min(v_limit, p.turn_speed_mps);
    return YieldSpeed(v, link_id, -dist, v_limit);
}

double Simulator::NextSpeed(int32_t v, int32_t d, size_t index) const {
    hold_[v] = 0;
    const core::VehicleParams& p = flow_params_[flow_[v]];
    const double dt = config_.step_s;
    const double speed = speed_[v];
    double limit = std::min({p.max_speed_mps, speed + p.max_pos_acc * dt, drivable_speed_[d]});

    // Leader: the vehicle ahead on this drivable, or the last one on the drivables ahead along the plan.
    int32_t leader = core::kNone;
    double gap = 0;
    const auto& occ = occupants_[d];
    if (index > 0) {
        leader = occ[index - 1];
        gap = pos_[leader] - flow_params_[flow_[leader]].length_m - pos_[v];
    } else {
        const double lookahead = ApproachDistance(p, dt);
        double dist = drivable_len_[d] - pos_[v];
        int32_t cur = d;
        size_t route_pos = route_pos_[v];
        LaneLinkId plan = d < num_lanes_ ? planned_link_[v] : core::kNone;
        const core::Flow& flow = demand_.flows[flow_[v]];
        for (int hop = 0; hop < 6 && dist <= lookahead; ++hop) {
            int32_t next;
            if (cur < num_lanes_) {
                if (plan < 0) break;
                next = num_lanes_ + plan;
                // Links from one lane overlap at their start: anyone on them is ahead of me.
                for (LaneLinkId l : net_.lanes[cur].out_links) {
                    const auto& lo = occupants_[num_lanes_ + l];
                    if (lo.empty()) continue;
                    const int32_t t = lo.back();
                    const double g = dist + pos_[t] - flow_params_[flow_[t]].length_m;
                    if (leader == core::kNone || g < gap) {
                        leader = t;
                        gap = g;
                    }
                }
            } else {
                next = net_.lane_links[cur - num_lanes_].to_lane;
                const auto& lo = occupants_[next];
                if (!lo.empty()) {
                    leader = lo.back();
                    gap = dist + pos_[leader] - flow_params_[flow_[leader]].length_m;
                }
                ++route_pos;
                plan = PlanLink(flow, route_pos, next);
            }
            if (leader != core::kNone) break;
            dist += drivable_len_[next];
            cur = next;
        }
    }
    // Merging: a vehicle on another lane link into the same lane that is nearer the merge point is a leader too
    // (SUMO's "foe leader"); without it two vehicles could arrive on one spot of the lane.
    const bool on_link = d >= num_lanes_;
    const LaneLinkId my_link = on_link ? d - num_lanes_ : (index == 0 ? planned_link_[v] : core::kNone);
    if (my_link >= 0 && !merge_partners_[my_link].empty()) {
        const double to_merge =
            on_link ? drivable_len_[d] - pos_[v] : drivable_len_[d] - pos_[v] + drivable_len_[num_lanes_ + my_link];
        if (to_merge <= ApproachDistance(p, dt) + drivable_len_[num_lanes_ + my_link]) {
            auto consider = [&](int32_t f, double d_f) {
                if (f == v || d_f > to_merge || (d_f == to_merge && serial_[f] > serial_[v])) return;
                const double g = to_merge - d_f - flow_params_[flow_[f]].length_m;
                if (leader == core::kNone || g < gap) {
                    leader = f;
                    gap = g;
                }
            };
            for (LaneLinkId m : merge_partners_[my_link]) {
                const double link_len = drivable_len_[num_lanes_ + m];
                for (int32_t f : occupants_[num_lanes_ + m]) consider(f, link_len - pos_[f]);
                // ... and the first vehicle about to enter that link, so the order is settled before the box.
                const LaneId from = net_.lane_links[m].from_lane;
                if (!occupants_[from].empty()) {
                    const int32_t f = occupants_[from].front();
                    if (planned_link_[f] == m && light_[net_.lane_links[m].road_link] == Light::kGreen) {
                        consider(f, drivable_len_[from] - pos_[f] + link_len);
                    }
                }
            }
        }
    }
    if (leader != core::kNone) {
        const core::VehicleParams& lp = flow_params_[flow_[leader]];
        const double vl = speed_[leader];
        limit = std::min(limit, SafeSpeed(vl, lp.max_neg_acc, speed, p.max_neg_acc, gap, 0, dt));
        limit = std::min(limit, SafeSpeed(vl, lp.usual_neg_acc, speed, p.usual_neg_acc, gap, p.min_gap_m, dt));
        // Time headway: after this step the gap should be at least headway x speed.
        limit = std::min(limit, (gap + vl * dt - speed * dt / 2) / (p.headway_s + dt / 2));
    }

    if (d < num_lanes_) {
        const LaneLinkId plan = planned_link_[v];
        if (plan >= 0 && drivable_len_[d] - pos_[v] <= ApproachDistance(p, dt)) {
            limit = std::min(limit, IntersectionSpeed(v, d, limit));
        }
    } else {
        const LaneLinkId link = d - num_lanes_;
        if (net_.road_links[net_.lane_links[link].road_link].type != core::TurnType::kStraight) {
            limit = std::min(limit, p.turn_speed_mps);
        }
        limit = YieldSpeed(v, link, pos_[v], limit);
    }
    return std::max(limit, speed - p.max_neg_acc * dt);
}

void Simulator::ComputeSpeeds(size_t begin, size_t end) {
    for (size_t d = begin; d < end; ++d) {
        const auto& occ = occupants_[d];
        for (size_t i = 0; i < occ.size(); ++i) next_speed_[occ[i]] = NextSpeed(occ[i], static_cast<int32_t>(d), i);
    }
}

void Simulator::Move(int part, size_t begin, size_t end) {
    const double dt = config_.step_s;
    auto& transfers = transfers_[static_cast<size_t>(part)];
    auto& finished = finished_[static_cast<size_t>(part)];
    for (size_t d = begin; d < end; ++d) {
        auto& occ = occupants_[d];
        size_t keep = 0;
        for (size_t i = 0; i < occ.size(); ++i) {
            const int32_t v = occ[i];
            const core::VehicleParams& p = flow_params_[flow_[v]];
            double next = next_speed_[v];
            const double speed = speed_[v];
            double delta;
            if (next < 0) {  // cannot keep the safe distance at full braking: stop as short as possible
                delta = speed * speed / (2 * p.max_neg_acc);
                next = 0;
            } else {
                delta = (speed + next) / 2 * dt;
            }
            speed_[v] = next;
            double pos = pos_[v] + delta;
            int32_t cur = static_cast<int32_t>(d);
            if (hold_[v] && pos > drivable_len_[cur]) {  // decided to stop for the line: stop at it
                pos = drivable_len_[cur];
                speed_[v] = 0;
            }
            if (pos <= drivable_len_[cur]) {
                pos_[v] = pos;
                occ[keep++] = v;
                continue;
            }
            bool done = false;
            while (pos > drivable_len_[cur]) {
                pos -= drivable_len_[cur];
                if (cur < num_lanes_) {
                    const LaneLinkId plan = planned_link_[v];
                    if (plan < 0) {
                        if (plan == kUnroutable) came_from_[v] = kUnroutable;
                        done = true;
                        break;
                    }
                    came_from_[v] = plan;
                    cur = num_lanes_ + plan;
                } else {
                    cur = net_.lane_links[cur - num_lanes_].to_lane;
                    ++route_pos_[v];
                    planned_link_[v] = PlanLink(demand_.flows[flow_[v]], route_pos_[v], cur);
                }
            }
            if (done) {
                finished.push_back(v);
                continue;
            }
            drivable_[v] = cur;
            pos_[v] = pos;
            transfers.push_back({cur, v, pos, serial_[v]});
        }
        occ.resize(keep);
    }
}

void Simulator::Finish(int32_t v) {
    const double tt = Now() + config_.step_s - enter_time_[v];
    ++finished_count_;
    if (came_from_[v] == kUnroutable) ++unroutable_;
    finished_tt_sum_ += tt;
    finished_delay_sum_ += std::max(0.0, tt - flow_free_time_[flow_[v]]);
    alive_[v] = 0;
    free_slots_.push_back(v);
    --running_;
}

void Simulator::ApplyTransfers() {
    auto& all = transfers_[0];
    for (size_t t = 1; t < transfers_.size(); ++t) {
        all.insert(all.end(), transfers_[t].begin(), transfers_[t].end());
        transfers_[t].clear();
    }
    // Canonical order: by target, then front first; ties by vehicle serial. Independent of the thread split.
    std::sort(all.begin(), all.end(), [](const Transfer& a, const Transfer& b) {
        if (a.target != b.target) return a.target < b.target;
        if (a.pos != b.pos) return a.pos > b.pos;
        return a.serial < b.serial;
    });
    for (const Transfer& tr : all) {
        auto& occ = occupants_[tr.target];
        size_t at = occ.size();
        while (at > 0 && pos_[occ[at - 1]] < tr.pos) --at;
        occ.insert(occ.begin() + static_cast<std::ptrdiff_t>(at), tr.slot);
        if (tr.target < num_lanes_) ++lane_entries_[tr.target];
    }
    all.clear();
    // Finish in serial order so sums and slot reuse are the same whatever the thread split.
    auto& done = finished_[0];
    for (size_t t = 1; t < finished_.size(); ++t) {
        done.insert(done.end(), finished_[t].begin(), finished_[t].end());
        finished_[t].clear();
    }
    std::sort(done.begin(), done.end(), [this](int32_t a, int32_t b) { return serial_[a] < serial_[b]; });
    for (int32_t v : done) Finish(v);
    done.clear();
}

int64_t Simulator::CountWaiting(size_t begin, size_t end) {
    int64_t queued = 0;
    for (size_t l = begin; l < end; ++l) {
        int32_t w = 0;
        for (int32_t v : occupants_[l]) w += speed_[v] < kWaitingSpeed ? 1 : 0;
        lane_waiting_[l] = w;
        if (lane_is_approach_[l]) queued += w;
    }
    return queued;
}

void Simulator::UpdateStats() {
    const int parts = parts_;
    queued_parts_.assign(static_cast<size_t>(parts), 0);
    RunParts([&](int t) {
        auto [b, e] = Chunk(static_cast<size_t>(num_lanes_), parts, t);
        queued_parts_[static_cast<size_t>(t)] = CountWaiting(b, e);
    });
    int64_t queued = 0;
    for (int64_t q : queued_parts_) queued += q;  // integer sum: order does not matter
    if (num_approach_lanes_ > 0) queue_sum_ += static_cast<double>(queued) / num_approach_lanes_;
}

namespace {

// a[i] = a[order[i]] for the first order.size() slots; the rest keep `blank`.
template <typename T>
void Permute(std::vector<T>& a, const std::vector<int32_t>& order, std::vector<T>& scratch, T blank) {
    scratch.assign(a.size(), blank);
    for (size_t i = 0; i < order.size(); ++i) scratch[i] = a[static_cast<size_t>(order[i])];
    a.swap(scratch);
}

}  // namespace

void Simulator::CompactSlots() {
    // Vehicles renumbered in the order they are visited (drivable by drivable, front first, then the queues to
    // enter), so the per-vehicle arrays are read nearly in sequence and each thread writes its own stretch.
    // Slots are not identities (serials are), and the new numbering depends only on the state.
    auto& order = compact_order_;
    order.clear();
    for (const auto& occ : occupants_) order.insert(order.end(), occ.begin(), occ.end());
    for (const auto& q : waiting_) order.insert(order.end(), q.begin(), q.end());
    CB_ASSERT(static_cast<int64_t>(order.size()) == running_ + waiting_total_, "a live vehicle is nowhere");
    const size_t n = pos_.size();
    auto& remap = compact_remap_;
    remap.assign(n, core::kNone);
    for (size_t i = 0; i < order.size(); ++i) remap[static_cast<size_t>(order[i])] = static_cast<int32_t>(i);
    Permute(pos_, order, scratch_f64_, 0.0);
    Permute(speed_, order, scratch_f64_, 0.0);
    Permute(next_speed_, order, scratch_f64_, 0.0);
    Permute(enter_time_, order, scratch_f64_, 0.0);
    Permute(drivable_, order, scratch_i32_, core::kNone);
    Permute(flow_, order, scratch_i32_, core::kNone);
    Permute(planned_link_, order, scratch_i32_, core::kNone);
    Permute(came_from_, order, scratch_i32_, core::kNone);
    Permute(route_pos_, order, scratch_u32_, 0u);
    Permute(serial_, order, scratch_u64_, uint64_t{0});
    Permute(alive_, order, scratch_u8_, uint8_t{0});
    Permute(hold_, order, scratch_u8_, uint8_t{0});
    for (auto& occ : occupants_) {
        for (int32_t& v : occ) v = remap[static_cast<size_t>(v)];
    }
    for (auto& q : waiting_) {
        for (int32_t& v : q) v = remap[static_cast<size_t>(v)];
    }
    free_slots_.clear();
    for (size_t i = n; i > order.size(); --i) free_slots_.push_back(static_cast<int32_t>(i - 1));
}

void Simulator::BalanceParts(int parts) {
    // Contiguous ranges of drivables with about equal work. Lanes come first and hold most vehicles, so equal
    // counts of drivables would leave one thread idle. The work of a drivable is estimated from its vehicles and,
    // once the threads have run a while, scaled by the time per unit of estimate each thread measured on its
    // range (a vehicle on a lane link, yielding, costs more than one cruising). Timing only moves the split, and
    // any split gives the same result.
    const size_t n = occupants_.size();
    if (parts == 1) {  // nothing to split, and nothing to measure: a later split starts from equal rates
        part_bounds_.assign({0, n});
        part_time_s_.assign(1, 0.0);
        part_weight_.assign(1, 0.0);
        return;
    }
    const size_t old_parts = part_bounds_.size() > 1 ? part_bounds_.size() - 1 : 0;
    std::vector<double>& rate = part_rate_;
    rate.assign(old_parts, 1.0);
    double mean_rate = 0;
    int measured = 0;
    for (size_t p = 0; p < old_parts; ++p) {
        if (part_time_s_[p] > 0 && part_weight_[p] > 0) {
            rate[p] = part_time_s_[p] / part_weight_[p];
            mean_rate += rate[p];
            ++measured;
        }
    }
    for (size_t p = 0; p < old_parts; ++p) {
        rate[p] = measured == static_cast<int>(old_parts) ? rate[p] / (mean_rate / measured) : 1.0;
    }
    auto weight = [&](size_t d) { return 16.0 * static_cast<double>(occupants_[d].size()) + 1.0; };
    auto& cost = drivable_cost_;
    cost.resize(n);
    double total = 0;
    size_t p = 0;
    for (size_t d = 0; d < n; ++d) {
        while (p + 1 < old_parts && d >= part_bounds_[p + 1]) ++p;
        cost[d] = weight(d) * (old_parts > 0 ? rate[p] : 1.0);
        total += cost[d];
    }
    part_bounds_.assign(static_cast<size_t>(parts) + 1, n);
    part_bounds_[0] = 0;
    part_time_s_.assign(static_cast<size_t>(parts), 0.0);
    part_weight_.assign(static_cast<size_t>(parts), 0.0);
    double acc = 0;
    size_t part = 1;
    for (size_t d = 0; d < n && part < static_cast<size_t>(parts); ++d) {
        acc += cost[d];
        while (part < static_cast<size_t>(parts) && acc * parts >= total * static_cast<double>(part)) {
            part_bounds_[part++] = d + 1;
        }
    }
    for (size_t q = 0; q < static_cast<size_t>(parts); ++q) {
        for (size_t d = part_bounds_[q]; d < part_bounds_[q + 1]; ++d) part_weight_[q] += weight(d);
    }
}

void Simulator::RunParts(const std::function<void(int)>& fn) {
    if (parts_ == 1) {
        fn(0);
    } else {
        team_->Run(fn);
    }
}

void Simulator::Step() {
    Spawn();
    Admit();
    AdvanceSignals();
    vehicle_updates_ += running_;
    if (step_ % kCompactEvery == 0) {
        CompactSlots();
        // A second thread pays for itself only with enough vehicles to share (on a 12-intersection network it
        // made the run slower). The choice changes nothing in the result.
        parts_ = running_ >= config_.parallel_min_vehicles ? team_->size() : 1;
        BalanceParts(parts_);
    }
    RunParts([&](int t) {
        const auto u = static_cast<size_t>(t);
        const auto start = std::chrono::steady_clock::now();
        ComputeSpeeds(part_bounds_[u], part_bounds_[u + 1]);
        part_time_s_[u] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    });
    RunParts([&](int t) {
        const auto u = static_cast<size_t>(t);
        Move(t, part_bounds_[u], part_bounds_[u + 1]);
    });
    ApplyTransfers();
    UpdateStats();
    ++step_;
}

Metrics Simulator::GetMetrics() const {
    Metrics m;
    const double now = Now();
    double in_network_sum = 0;
    int64_t in_network = 0;
    for (size_t v = 0; v < alive_.size(); ++v) {
        if (!alive_[v]) continue;
        in_network_sum += now - enter_time_[v];
        ++in_network;
    }
    m.throughput = finished_count_;
    m.spawned = spawned_;
    m.in_network_end = in_network;
    m.waiting_to_enter = waiting_total_;
    const int64_t total = finished_count_ + in_network;
    m.att_s = total > 0 ? (finished_tt_sum_ + in_network_sum) / static_cast<double>(total) : 0;
    m.att_finished_s = finished_count_ > 0 ? finished_tt_sum_ / static_cast<double>(finished_count_) : 0;
    m.avg_delay_s = finished_count_ > 0 ? finished_delay_sum_ / static_cast<double>(finished_count_) : 0;
    m.avg_queue_veh = step_ > 0 ? queue_sum_ / static_cast<double>(step_) : 0;
    m.vehicle_updates = vehicle_updates_;
    m.steps = step_;
    m.sim_time_s = now;
    m.unroutable = unroutable_;
    return m;
}

uint64_t Simulator::StateHash() const {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&h](uint64_t x) {
        for (int i = 0; i < 8; ++i) {
            h ^= (x >> (8 * i)) & 0xff;
            h *= 1099511628211ull;
        }
    };
    auto bits = [](double d) {
        uint64_t u;
        std::memcpy(&u, &d, sizeof u);
        return u;
    };
    mix(static_cast<uint64_t>(step_));
    for (size_t d = 0; d < occupants_.size(); ++d) {
        for (int32_t v : occupants_[d]) {
            mix(serial_[v]);
            mix(d);
            mix(bits(pos_[v]));
            mix(bits(speed_[v]));
        }
    }
    for (const auto& q : waiting_) {
        for (int32_t v : q) mix(serial_[v]);
    }
    for (Light l : light_) mix(static_cast<uint64_t>(l));
    mix(static_cast<uint64_t>(finished_count_));
    mix(bits(finished_tt_sum_));
    return h;
}

void Simulator::Vehicles(std::vector<VehicleState>& out) const {
    out.clear();
    for (size_t d = 0; d < occupants_.size(); ++d) {
        for (int32_t v : occupants_[d]) {
            out.push_back({serial_[v], static_cast<int32_t>(d), pos_[v], speed_[v], flow_params_[flow_[v]].length_m});
        }
    }
}

}  // namespace citybrain::traffic
