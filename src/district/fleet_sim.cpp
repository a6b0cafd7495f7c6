// SPDX-License-Identifier: Apache-2.0
#include "district/fleet_sim.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "dispatch/fleet.hpp"
#include "district/brain.hpp"

namespace citybrain::district {

namespace {

/// Battery used per kilometre driven and per second of work on site (a robot dog runs about 20 km or 4 h on a
/// charge; a drone a few kilometres); crews carry none.
struct BatteryUse {
    double per_km;
    double per_s_on_site;
};
BatteryUse UseOf(dispatch::UnitKind kind) {
    switch (kind) {
        case dispatch::UnitKind::kRobotDog:
            return {0.05, 0.0002};
        case dispatch::UnitKind::kSanitationRobot:
            return {0.04, 0.0003};
        case dispatch::UnitKind::kDrone:
            return {0.15, 0.0008};
        case dispatch::UnitKind::kCrew:
            break;
    }
    return {0, 0};
}

constexpr double kFullChargeS = 3600;

int64_t SteadyMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

FleetSim::FleetSim(const District& district, const FleetSimOptions& options, dispatch::Dispatcher dispatcher)
    : district_(district), options_(options), dispatcher_(std::move(dispatcher)) {}

FleetSim::~FleetSim() { Stop(); }

Result<std::unique_ptr<FleetSim>> FleetSim::Start(const District& district, const FleetSimOptions& options) {
    if (!(options.speedup > 0) || options.speedup > 1e4) return InvalidArgument("--speedup", "must be in (0, 10000]");
    if (!(options.handle_s >= 0) || options.handle_s > 86400) {
        return InvalidArgument("--handle-s", "must be in [0, 86400]");
    }
    if (options.heartbeat_ms <= 0) return InvalidArgument("heartbeat_ms", "must be positive");
    if (!(options.battery_drain >= 0) || options.battery_drain > 1e4) {
        return InvalidArgument("--battery-drain", "must be in [0, 10000]");
    }
    if (!(options.charge_below >= 0) || options.charge_below > 1) {
        return InvalidArgument("charge_below", "must be in [0, 1]");
    }
    CB_TRY_ASSIGN(auto dispatcher, DispatcherOf(district));
    std::unique_ptr<FleetSim> f(new FleetSim(district, options, std::move(dispatcher)));
    for (const UnitSpec& spec : district.units) {
        Unit u;
        u.name = spec.name;
        u.kind = spec.kind;
        u.node = static_cast<dispatch::NodeId>(spec.depot);
        f->unit_of_.emplace(spec.name, f->units_.size());
        f->units_.push_back(std::move(u));
    }
    if (!options.log_path.empty()) {
        f->log_ = std::fopen(options.log_path.c_str(), "w");
        if (f->log_ == nullptr) return InvalidArgument("--log", "cannot write '" + options.log_path + "'");
    }
    FleetSim* self = f.get();
    CB_TRY_ASSIGN(f->mqtt_,
                  dispatch::MqttClient::Connect(options.host,
                                                options.port,
                                                options.client_id,
                                                [self](const std::string& topic, const std::string& payload) {
                                                    std::lock_guard lock(self->mu_);
                                                    self->inbox_.emplace_back(topic, payload);
                                                }));
    CB_TRY(f->mqtt_->Subscribe(std::string(dispatch::kTopicRoot) + "+/orders", 1));
    f->thread_ = std::thread([self] { self->Loop(); });
    return f;
}

void FleetSim::Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    mqtt_.reset();
    if (log_ != nullptr) std::fclose(log_);
    log_ = nullptr;
}

void FleetSim::Log(const char* what, const Unit& u, const std::string& task, uint64_t seq) {
    if (log_ == nullptr) return;
    const int64_t wall =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    std::fprintf(log_,
                 "{\"t_ms\":%lld,\"event\":\"%s\",\"unit\":\"%s\",\"task\":\"%s\",\"seq\":%llu}\n",
                 static_cast<long long>(wall),
                 what,
                 u.name.c_str(),
                 task.c_str(),
                 static_cast<unsigned long long>(seq));
}

FleetSimStats FleetSim::stats() const {
    std::lock_guard lock(mu_);
    return stats_;
}

double FleetSim::MetresAlong(const Unit& u, size_t upto) const {
    double metres = 0;
    for (size_t k = 1; k <= upto && k < u.route.nodes.size(); ++k) {
        const core::Point a = district_.net.intersections[u.route.nodes[k - 1]].point;
        const core::Point b = district_.net.intersections[u.route.nodes[k]].point;
        metres += std::hypot(b.x - a.x, b.y - a.y);
    }
    return metres;
}

void FleetSim::Use(Unit& u, double km, double on_site_s) const {
    const BatteryUse use = UseOf(u.kind);
    u.battery = std::max(0.0, u.battery - options_.battery_drain * (use.per_km * km + use.per_s_on_site * on_site_s));
}

dispatch::NodeId FleetSim::NodeAlong(const Unit& u, double now_s) const {
    if (u.route.nodes.empty()) return u.node;
    return u.route.nodes[u.route.Passed(static_cast<dispatch::TimeMs>((now_s - u.depart_s) * 1000))];
}

void FleetSim::OnOrder(Unit& u, const std::string& payload, double now_s) {
    auto order = dispatch::ParseOrder(payload);
    if (!order.ok()) return;  // not ours to answer: the brain retries a well-formed order
    const std::string ack_topic = std::string(dispatch::kTopicRoot) + u.name + "/ack";
    if (order->seq <= u.acted_seq) {
        // A repeat (the brain did not get our ack): acknowledged again, not acted on twice.
        Log("repeat", u, order->task, order->seq);
        std::lock_guard lock(mu_);
        ++stats_.repeats;
    } else if (order->task.empty()) {
        // Stand down: stop where it is.
        if (u.status == "enroute") {
            u.node = NodeAlong(u, now_s);
            Use(u,
                MetresAlong(u, u.route.Passed(static_cast<dispatch::TimeMs>((now_s - u.depart_s) * 1000))) / 1000,
                0);
        }
        u.status = "idle";
        u.task.clear();
        u.route = {};
        u.acted_seq = order->seq;
        u.changed = true;
        std::lock_guard lock(mu_);
        ++stats_.stand_downs;
    } else {
        // The drive graph's node names are the district's intersection ids (the order's target).
        const auto target = dispatcher_.roads().Find(order->target);
        std::optional<dispatch::Route> route;
        if (target.ok() && u.status != "charging") {  // a charging robot refuses: the task goes to another
            const dispatch::NodeId from = u.status == "enroute" ? NodeAlong(u, now_s) : u.node;
            route = dispatcher_.RouteOf(u.kind, from, *target);
        }
        if (!route) {
            (void)mqtt_->Publish(ack_topic, dispatch::AckPayload(*order, false), 1);
            std::lock_guard lock(mu_);
            ++stats_.refused;
            u.acted_seq = order->seq;
            return;
        }
        Log("order", u, order->task, order->seq);
        u.node = route->nodes.empty() ? u.node : route->nodes.front();
        u.route = std::move(*route);
        u.depart_s = now_s;
        u.status = "enroute";
        u.task = order->task;
        u.acted_seq = order->seq;
        u.changed = true;
        std::lock_guard lock(mu_);
        ++stats_.orders;
    }
    (void)mqtt_->Publish(ack_topic, dispatch::AckPayload(*order, true), 1);
}

void FleetSim::Loop() {
    const int64_t start_ms = SteadyMs();
    std::vector<std::pair<std::string, std::string>> taken;
    const size_t root = dispatch::kTopicRoot.size();
    while (!stop_.load()) {
        const int64_t wall_ms = SteadyMs();
        const double now_s = static_cast<double>(wall_ms - start_ms) / 1000 * options_.speedup;
        {
            std::lock_guard lock(mu_);
            taken.swap(inbox_);
        }
        for (const auto& [topic, payload] : taken) {
            const size_t slash = topic.rfind('/');
            if (slash == std::string::npos || slash <= root) continue;
            const auto it = unit_of_.find(topic.substr(root, slash - root));
            if (it != unit_of_.end()) OnOrder(units_[it->second], payload, now_s);
        }
        taken.clear();
        uint64_t arrivals = 0, done = 0, states = 0, charges = 0;
        for (Unit& u : units_) {
            if (u.status == "enroute" && now_s - u.depart_s >= static_cast<double>(u.route.time_ms()) / 1000) {
                if (!u.route.nodes.empty()) u.node = u.route.nodes.back();
                Use(u, MetresAlong(u, u.route.nodes.size()) / 1000, 0);
                u.status = "onsite";
                u.until_s = now_s + options_.handle_s;
                u.changed = true;
                Log("arrived", u, u.task, u.acted_seq);
                ++arrivals;
            } else if (u.status == "onsite" && now_s >= u.until_s) {
                Log("done", u, u.task, u.acted_seq);
                Use(u, 0, options_.handle_s);
                u.task.clear();
                u.route = {};
                u.changed = true;
                ++done;
                if (UseOf(u.kind).per_km > 0 && u.battery < options_.charge_below) {
                    // Too low for another task: it charges before it takes one (the brain sends none meanwhile).
                    u.status = "charging";
                    u.until_s = now_s + kFullChargeS * (1 - u.battery);
                    ++charges;
                } else {
                    u.status = "idle";
                }
            } else if (u.status == "charging" && now_s >= u.until_s) {
                u.battery = 1;
                u.status = "idle";
                u.changed = true;
            }
            if (!u.changed && wall_ms - u.sent_ms < options_.heartbeat_ms) continue;
            dispatch::FleetUnit state;
            state.id = u.name;
            state.node = district_.net.intersections[u.status == "enroute" ? NodeAlong(u, now_s) : u.node].id;
            state.status = u.status;
            state.task = u.task;
            state.battery = u.battery;
            if (u.status == "enroute" && u.route.time_ms() > 0) {
                const double metres = MetresAlong(u, u.route.nodes.size());
                state.speed_mps = std::min(99.0, metres / (static_cast<double>(u.route.time_ms()) / 1000));
            }
            (void)mqtt_->Publish(
                std::string(dispatch::kTopicRoot) + u.name + "/state", dispatch::StatePayload(++u.state_seq, state), 1);
            u.sent_ms = wall_ms;
            u.changed = false;
            ++states;
        }
        {
            std::lock_guard lock(mu_);
            stats_.arrivals += arrivals;
            stats_.done += done;
            stats_.states += states;
            stats_.charges += charges;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace citybrain::district
