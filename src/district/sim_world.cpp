// SPDX-License-Identifier: Apache-2.0
#include "district/sim_world.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace citybrain::district {

namespace {

/// What is on a road now: the sum of its vehicles' speeds and lengths (with a 2.5 m gap each), and their number.
struct RoadLoad {
    double speed_sum = 0;
    double length_m = 0;
    int64_t vehicles = 0;
};

RoadLoad LoadOn(const traffic::Simulator& sim, const core::Road& road) {
    RoadLoad load;
    for (int32_t k = 0; k < road.num_lanes; ++k) {
        for (int32_t slot : sim.Occupants(road.first_lane + k)) {
            load.speed_sum += sim.VehicleSpeed(slot);
            load.length_m += sim.VehicleLength(slot) + 2.5;
            ++load.vehicles;
        }
    }
    return load;
}

}  // namespace

SimWorld::SimWorld(const District& district, const SimWorldOptions& options)
    : district_(district),
      options_(options),
      scenario_(district,
                options.seed,
                static_cast<double>(options.duration_ms) / 1000,
                /*synthetic_flood_cameras=*/!options.flood_cameras) {}

Result<std::unique_ptr<SimWorld>> SimWorld::Create(const District& district, const SimWorldOptions& options) {
    if (options.duration_ms <= 0) return InvalidArgument("duration_ms", "a simulated World runs for a set time");
    std::unique_ptr<SimWorld> w(new SimWorld(district, options));
    traffic::RunOptions run;
    run.controller = options.adaptive;
    run.sim.seed = options.seed;
    run.sim.threads = options.threads;
    district.signal_rules.ApplyTo(run);
    CB_TRY_ASSIGN(w->traffic_, traffic::SignalledSim::Create(district.net, district.demand, run));
    for (const UnitSpec& spec : district.units) {
        Unit u;
        u.node = static_cast<dispatch::NodeId>(spec.depot);
        w->units_.push_back(u);
    }
    w->road_speed_.assign(district.net.roads.size(), std::numeric_limits<double>::quiet_NaN());
    return w;
}

void SimWorld::Sense(incident::TimeMs now, std::vector<incident::Report>& out) {
    const size_t first = out.size();
    scenario_.Advance(Seconds(now), out);
    for (size_t i = first; i < out.size(); ++i) out[i].time_ms += options_.epoch_ms;
    if (options_.flood_cameras && now >= next_flood_look_ms_) {
        next_flood_look_ms_ = now + options_.flood_camera_every_ms;
        options_.flood_cameras(now, scenario_.FloodViews(), out);
    }
}

void SimWorld::Send(size_t unit, const Order& order, incident::TimeMs now) {
    Unit& u = units_[unit];
    u.order = order;
    u.mode = Mode::kEnRoute;
    u.depart_ms = now;
    u.handle = -1;
}

void SimWorld::CallOff(size_t unit, incident::TimeMs now) {
    Unit& u = units_[unit];
    if (u.mode == Mode::kEnRoute) {
        // It stops at the last node it passed.
        const dispatch::Route& route = u.order.route;
        if (!route.nodes.empty()) u.node = route.nodes[route.Passed(now - u.depart_ms)];
    }
    u.mode = Mode::kIdle;
    u.order = {};
}

void SimWorld::Poll(incident::TimeMs now, std::vector<UnitEvent>& out) {
    for (size_t i = 0; i < units_.size(); ++i) {
        Unit& u = units_[i];
        if (u.mode == Mode::kEnRoute && now - u.depart_ms >= static_cast<incident::TimeMs>(u.order.route.time_ms())) {
            if (!u.order.route.nodes.empty()) u.node = u.order.route.nodes.back();
            u.mode = Mode::kOnSite;
            // On site: a vendor is told to leave (the notice), a pump goes into the water, a repair starts.
            u.handle = scenario_.BeginHandling(u.order.category, u.order.at, Seconds(now));
            out.push_back({UnitEvent::What::kArrived, i, u.order.case_id});
        } else if (u.mode == Mode::kOnSite && scenario_.Done(u.handle, Seconds(now))) {
            out.push_back({UnitEvent::What::kDone, i, u.order.case_id});
            u.mode = Mode::kIdle;
            u.order = {};
        }
    }
}

dispatch::NodeId SimWorld::UnitNode(size_t unit, incident::TimeMs /*now*/) const { return units_[unit].node; }

core::Point SimWorld::UnitPosition(size_t unit, incident::TimeMs now) const {
    const Unit& u = units_[unit];
    const auto& nodes = u.order.route.nodes;
    const auto node_xy = [this](dispatch::NodeId n) { return district_.net.intersections[n].point; };
    if (u.mode == Mode::kOnSite) return u.order.at;
    if (u.mode != Mode::kEnRoute || nodes.size() < 2) return node_xy(u.node);
    const auto travelled = static_cast<dispatch::TimeMs>(now - u.depart_ms);
    const auto& at = u.order.route.at_ms;
    // The edge under way: from the last node passed to the next (the last edge once arrived).
    const size_t i = std::min(u.order.route.Passed(travelled) + 1, nodes.size() - 1);
    const double span = static_cast<double>(at[i] - at[i - 1]);
    const double f =
        span > 0 ? std::clamp((static_cast<double>(travelled) - static_cast<double>(at[i - 1])) / span, 0.0, 1.0) : 1.0;
    const core::Point a = node_xy(nodes[i - 1]), b = node_xy(nodes[i]);
    return {a.x + (b.x - a.x) * f, a.y + (b.y - a.y) * f};
}

std::optional<bool> SimWorld::StillThere(const std::string& category, core::Point at, incident::TimeMs now) {
    return scenario_.StillThere(category, at, Seconds(now));
}

bool SimWorld::RoadSpeeds(std::vector<double>& speeds) {
    const traffic::Simulator& sim = traffic_->sim();
    const auto& net = district_.net;
    for (size_t r = 0; r < net.roads.size(); ++r) {
        const RoadLoad load = LoadOn(sim, net.roads[r]);
        road_speed_[r] = load.vehicles > 0 ? load.speed_sum / static_cast<double>(load.vehicles)
                                           : std::numeric_limits<double>::quiet_NaN();
    }
    speeds = road_speed_;
    return true;
}

Status SimWorld::Settle(incident::TimeMs /*now*/) {
    traffic_->Step();
    return {};
}

std::optional<TrafficSample> SimWorld::Sample() const {
    const auto& net = district_.net;
    double ratio_sum = 0;
    int n = 0;
    for (size_t r = 0; r < net.roads.size(); ++r) {
        if (std::isnan(road_speed_[r])) continue;
        const double limit = net.lanes[static_cast<size_t>(net.roads[r].first_lane)].max_speed_mps;
        ratio_sum += std::min(1.0, road_speed_[r] / limit);
        ++n;
    }
    return TrafficSample{
        static_cast<double>(Vehicles()), n > 0 ? ratio_sum / n : 1.0, traffic_->sim().GetMetrics().att_s};
}

int64_t SimWorld::Vehicles() const { return traffic_->sim().Running(); }

void SimWorld::Draw(nlohmann::json& frame, incident::TimeMs now) const {
    const traffic::Simulator& sim = traffic_->sim();
    const auto& net = district_.net;
    std::vector<int> speed(net.roads.size(), -1), occupancy(net.roads.size(), 0), light(net.roads.size(), -1),
        queue(net.roads.size(), 0);
    for (size_t r = 0; r < net.roads.size(); ++r) {
        const core::Road& road = net.roads[r];
        const RoadLoad load = LoadOn(sim, road);
        const double limit = net.lanes[static_cast<size_t>(road.first_lane)].max_speed_mps;
        if (load.vehicles > 0) {
            speed[r] = static_cast<int>(
                std::lround(100 * std::min(1.0, load.speed_sum / static_cast<double>(load.vehicles) / limit)));
        }
        occupancy[r] = static_cast<int>(
            std::lround(100 * std::min(1.0, load.length_m / std::max(1.0, road.length_m * road.num_lanes))));
        for (int32_t k = 0; k < road.num_lanes; ++k) queue[r] += sim.LaneWaiting(road.first_lane + k);
    }
    // Each signal's current phase and, where the controller keeps them, the reasons of its last decision.
    const traffic::SignalController& controller = traffic_->controller();
    nlohmann::json signals = nlohmann::json::array();
    for (size_t n = 0; n < net.intersections.size(); ++n) {
        const auto& node = net.intersections[n];
        if (node.is_virtual || node.phases.empty()) continue;
        const auto id = static_cast<core::IntersectionId>(n);
        nlohmann::json s = {{"node", n}, {"phase", sim.CurrentPhase(id)}};
        if (const traffic::Explanation* why = controller.Explain(id)) {
            s["decided_s"] = why->at_s;
            s["chose"] = why->phase;
            s["scores"] = why->scores;
        }
        signals.push_back(std::move(s));
    }
    frame["controller"] = std::string(controller.Name());
    frame["signals"] = std::move(signals);
    frame["queue"] = std::move(queue);
    for (size_t l = 0; l < net.road_links.size(); ++l) {
        const auto& link = net.road_links[l];
        if (link.type != core::TurnType::kStraight) continue;
        light[static_cast<size_t>(link.from_road)] =
            std::max(light[static_cast<size_t>(link.from_road)],
                     static_cast<int>(sim.RoadLinkLight(static_cast<core::RoadLinkId>(l))));
    }
    frame["vehicles"] = sim.Running();
    frame["waiting"] = sim.Waiting();
    frame["raining"] = scenario_.Raining(Seconds(now));
    frame["water_cm"] = scenario_.WaterLevels();
    frame["speed"] = std::move(speed);
    frame["occupancy"] = std::move(occupancy);
    frame["lights"] = std::move(light);
}

void SimWorld::Measure(nlohmann::json& results) const {
    const traffic::Metrics m = traffic_->sim().GetMetrics();
    results["att_adaptive_s"] = m.att_s;
    results["throughput_adaptive"] = m.throughput;
    results["vehicles"] = m.spawned;
    results["vendors_appeared"] = scenario_.VendorsAppeared();
}

const std::string* SimWorld::Truth(std::string_view id) const {
    const auto& truth = scenario_.MessageTruth();
    size_t n = truth.size();
    if (id.rfind("app-", 0) == 0) std::from_chars(id.data() + 4, id.data() + id.size(), n);
    return n < truth.size() ? &truth[n] : nullptr;
}

}  // namespace citybrain::district
