// SPDX-License-Identifier: Apache-2.0
#include "district/live_world.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/time.hpp"
#include "incident/device_event.hpp"

namespace citybrain::district {

namespace {

constexpr std::string_view kDevices = "citybrain/devices/";

std::string TaskOf(incident::CaseId id) { return "case-" + std::to_string(id); }

}  // namespace

LiveWorld::LiveWorld(const District& district, const LiveWorldOptions& options)
    : district_(district), options_(options), fleet_(options.fleet) {}

LiveWorld::~LiveWorld() {
    // The client's thread may still call the handler until it is gone.
    mqtt_.reset();
}

Result<std::unique_ptr<LiveWorld>> LiveWorld::Connect(const District& district,
                                                      const LiveWorldOptions& options,
                                                      incident::TimeMs now) {
    std::unique_ptr<LiveWorld> w(new LiveWorld(district, options));
    for (size_t n = 0; n < district.net.intersections.size(); ++n) {
        w->node_of_.emplace(district.net.intersections[n].id, static_cast<dispatch::NodeId>(n));
    }
    for (size_t i = 0; i < district.units.size(); ++i) {
        const UnitSpec& spec = district.units[i];
        const auto depot = static_cast<size_t>(spec.depot);
        CB_TRY(w->fleet_.AddUnit(spec.name, spec.kind, district.net.intersections[depot].id, now));
        Unit u;
        u.depot = static_cast<dispatch::NodeId>(depot);
        w->units_.push_back(u);
        w->unit_of_.emplace(spec.name, i);
    }
    LiveWorld* self = w.get();
    CB_TRY_ASSIGN(w->mqtt_,
                  dispatch::MqttClient::Connect(options.mqtt_host,
                                                options.mqtt_port,
                                                options.client_id,
                                                [self](const std::string& topic, const std::string& payload) {
                                                    const incident::TimeMs arrived = core::NowMs();
                                                    std::lock_guard lock(self->inbox_mu_);
                                                    self->inbox_.push_back({topic, payload, arrived});
                                                }));
    const std::string root(dispatch::kTopicRoot);
    CB_TRY(w->mqtt_->Subscribe(root + "+/ack", 1));
    CB_TRY(w->mqtt_->Subscribe(root + "+/state", 1));
    CB_TRY(w->mqtt_->Subscribe(std::string(kDevices) + "+/events", 1));
    return w;
}

void LiveWorld::Drain(incident::TimeMs now) {
    {
        std::lock_guard lock(inbox_mu_);
        taken_.swap(inbox_);
    }
    for (const auto& [topic, payload, arrived_ms] : taken_) {
        if (topic.rfind(kDevices, 0) == 0) {
            const size_t end = topic.rfind('/');
            const std::string device = topic.substr(kDevices.size(), end - kDevices.size());
            auto report = incident::ParseDeviceEvent(payload, device, now);
            if (!report.ok()) {
                // A device cannot be answered over MQTT: the refusal is counted and logged, with the field.
                if (bad_device_events_++ < 20) {
                    std::fprintf(stderr,
                                 "citybrain: event from '%s' refused: %s\n",
                                 device.substr(0, 64).c_str(),
                                 report.error().ToString().c_str());
                }
                continue;
            }
            ++device_events_;
            reports_.push_back(std::move(report).value());
            continue;
        }
        // The brain's clock is the wall clock's frame (epoch = start), but it may lag behind it: stamped with the
        // brain's time, heartbeats that waited out a stall would look older than they are, and a burst of catch-up
        // steps would find live units silent and declare them lost.
        if (!fleet_.Handle(topic, payload, std::max(now, arrived_ms)).ok()) {
            ++bad_fleet_messages_;
            continue;
        }
        // The unit's state may have moved its order on (on site, done): looked at message by message, so that a
        // fast unit's "onsite" is not lost behind its "idle".
        const size_t slash = topic.rfind('/');
        const size_t first = dispatch::kTopicRoot.size();
        if (slash == std::string::npos || slash <= first) continue;
        if (auto it = unit_of_.find(topic.substr(first, slash - first)); it != unit_of_.end()) FollowUnit(it->second);
    }
    taken_.clear();
    TakeOrphans();
}

void LiveWorld::FollowUnit(size_t i) {
    Unit& u = units_[i];
    const dispatch::FleetUnit& f = fleet_.units()[i];
    if (u.phase == Phase::kOrdered && f.status == "onsite" && f.task == u.task) {
        u.phase = Phase::kOnSite;
        events_.push_back({UnitEvent::What::kArrived, i, u.case_id});
    } else if (u.phase == Phase::kOnSite && f.task != u.task) {
        // It reports no task, or another: the work on this one is finished.
        u.phase = Phase::kIdle;
        events_.push_back({UnitEvent::What::kDone, i, u.case_id});
    }
}

void LiveWorld::TakeOrphans() {
    for (const std::string& task : fleet_.TakeOrphanedTasks()) {
        for (size_t i = 0; i < units_.size(); ++i) {
            Unit& u = units_[i];
            if (u.phase == Phase::kIdle || u.task != task) continue;
            // Out of contact on site is still on site: the work goes on, and the case (handling, which only a
            // unit's feedback ends) waits for the unit to report it done when it is heard again. One never heard
            // again leaves its case to the handling deadline, which escalates it to the operators.
            if (u.phase == Phase::kOnSite) continue;
            u.phase = Phase::kIdle;
            events_.push_back({UnitEvent::What::kDropped, i, u.case_id});
        }
    }
}

void LiveWorld::Sense(incident::TimeMs now, std::vector<incident::Report>& out) {
    Drain(now);
    for (incident::Report& r : reports_) out.push_back(std::move(r));
    reports_.clear();
}

void LiveWorld::Send(size_t i, const Order& order, incident::TimeMs now) {
    Unit& u = units_[i];
    u.phase = Phase::kOrdered;
    u.task = TaskOf(order.case_id);
    u.case_id = order.case_id;
    u.at = order.at;
    const auto sent = fleet_.IssueOrder(
        district_.units[i].name, u.task, district_.net.intersections[order.target].id, order.notice, now);
    if (!sent.ok()) {
        u.phase = Phase::kIdle;
        events_.push_back({UnitEvent::What::kDropped, i, order.case_id});
    }
}

void LiveWorld::CallOff(size_t i, incident::TimeMs now) {
    Unit& u = units_[i];
    u.phase = Phase::kIdle;
    u.task.clear();
    // A stand-down order: no task, stay where you are.
    const dispatch::FleetUnit& f = fleet_.units()[i];
    (void)fleet_.IssueOrder(f.id, "", f.node, "", now);
}

void LiveWorld::Poll(incident::TimeMs now, std::vector<UnitEvent>& out) {
    Drain(now);
    for (const UnitEvent& e : events_) out.push_back(e);
    events_.clear();
}

dispatch::NodeId LiveWorld::UnitNode(size_t i, incident::TimeMs /*now*/) const {
    const auto it = node_of_.find(fleet_.units()[i].node);
    return it == node_of_.end() ? units_[i].depot : it->second;
}

core::Point LiveWorld::UnitPosition(size_t i, incident::TimeMs now) const {
    if (units_[i].phase == Phase::kOnSite) return units_[i].at;
    return district_.net.intersections[UnitNode(i, now)].point;
}

bool LiveWorld::Available(size_t i) const {
    const dispatch::FleetUnit& f = fleet_.units()[i];
    return !f.lost && f.battery >= options_.min_battery && f.status != "charging";
}

Status LiveWorld::Settle(incident::TimeMs now) {
    for (dispatch::Outgoing& out : fleet_.Tick(now)) CB_TRY(mqtt_->Publish(out.topic, out.payload, 1));
    TakeOrphans();
    return {};
}

void LiveWorld::Draw(nlohmann::json& frame, incident::TimeMs /*now*/) const {
    // No traffic detectors yet: the console draws the roads without speeds or lights.
    const size_t roads = district_.net.roads.size();
    frame["vehicles"] = nullptr;
    frame["waiting"] = nullptr;
    frame["raining"] = false;
    frame["water_cm"] = std::vector<double>(district_.low_points.size(), 0.0);
    frame["speed"] = std::vector<int>(roads, -1);
    frame["occupancy"] = std::vector<int>(roads, 0);
    frame["lights"] = std::vector<int>(roads, -1);
    // What the units say of themselves, for the console's needs-attention list: battery (%, -1 for a crew, which
    // carries none), lost (silent past the heartbeat timeout), charging.
    nlohmann::json fleet = nlohmann::json::array();
    const auto& units = fleet_.units();
    for (size_t i = 0; i < units.size(); ++i) {
        const bool robot = district_.units[i].kind != dispatch::UnitKind::kCrew;
        fleet.push_back({robot ? static_cast<int>(std::lround(100 * units[i].battery)) : -1,
                         units[i].lost ? 1 : 0,
                         units[i].status == "charging" ? 1 : 0});
    }
    frame["fleet"] = std::move(fleet);
    frame["min_battery"] = static_cast<int>(std::lround(100 * options_.min_battery));
}

void LiveWorld::Measure(nlohmann::json& results) const {
    const dispatch::FleetStats& s = fleet_.stats();
    size_t lost = 0;
    for (const auto& u : fleet_.units()) lost += u.lost ? 1 : 0;
    results["fleet"] = {{"orders", s.orders},
                        {"acknowledged", s.acked},
                        {"rejected", s.rejected},
                        {"retries", s.retries},
                        {"pending", fleet_.pending()},
                        {"states", s.states},
                        {"bad_messages", s.bad_messages},
                        {"units_lost_now", lost}};
    results["device_events"] = device_events_;
    results["device_events_refused"] = bad_device_events_;
}

}  // namespace citybrain::district
