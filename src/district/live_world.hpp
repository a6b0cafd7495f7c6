// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dispatch/fleet.hpp"
#include "dispatch/mqtt.hpp"
#include "district/default_district.hpp"
#include "district/world.hpp"

namespace citybrain::district {

struct LiveWorldOptions {
    std::string mqtt_host = "127.0.0.1";
    int mqtt_port = 1883;
    std::string client_id = "citybrain-brain";
    dispatch::FleetOptions fleet;
    /// A unit below this battery level takes no new order.
    double min_battery = 0.15;
};

/// The live city behind the World interface. Units are real (or `citybrain fleet-sim`) robots and crews that speak
/// the fleet protocol over MQTT (`dispatch::Fleet`: orders retried until acknowledged, state as heartbeat, lost units
/// detected); devices publish events on `citybrain/devices/{device}/events` (`incident::ParseDeviceEvent`). Reports
/// over HTTP do not pass through here: the server's API hands them to the incident engine directly, and the brain
/// follows the engine. There are no eyes for a second look: an inspector closes a handled case through the API.
///
/// MQTT messages arrive on libmosquitto's thread and wait in an inbox; everything else runs on the brain's thread.
class LiveWorld final : public World {
public:
    static Result<std::unique_ptr<LiveWorld>> Connect(const District& district,
                                                      const LiveWorldOptions& options,
                                                      incident::TimeMs now);
    ~LiveWorld() override;

    void Sense(incident::TimeMs now, std::vector<incident::Report>& out) override;
    void Send(size_t unit, const Order& order, incident::TimeMs now) override;
    void CallOff(size_t unit, incident::TimeMs now) override;
    void Poll(incident::TimeMs now, std::vector<UnitEvent>& out) override;
    dispatch::NodeId UnitNode(size_t unit, incident::TimeMs now) const override;
    core::Point UnitPosition(size_t unit, incident::TimeMs now) const override;
    bool Available(size_t unit) const override;
    std::optional<bool> StillThere(const std::string&, core::Point, incident::TimeMs) override { return std::nullopt; }
    bool RoadSpeeds(std::vector<double>& /*speeds*/) override { return false; }
    Status Settle(incident::TimeMs now) override;
    void Draw(nlohmann::json& frame, incident::TimeMs now) const override;
    void Measure(nlohmann::json& results) const override;

    const dispatch::Fleet& fleet() const { return fleet_; }

private:
    enum class Phase : uint8_t { kIdle, kOrdered, kOnSite };
    struct Unit {
        Phase phase = Phase::kIdle;
        std::string task;  // "case-<id>" while on an order
        incident::CaseId case_id = 0;
        core::Point at;
        dispatch::NodeId depot = 0;
    };
    LiveWorld(const District& district, const LiveWorldOptions& options);
    /// Handles what came in over MQTT, in order, turning unit state into events.
    void Drain(incident::TimeMs now);
    void FollowUnit(size_t unit);
    void TakeOrphans();

    const District& district_;
    LiveWorldOptions options_;
    dispatch::Fleet fleet_;
    std::unique_ptr<dispatch::MqttClient> mqtt_;
    std::vector<Unit> units_;
    std::unordered_map<std::string, size_t> unit_of_;
    std::unordered_map<std::string, dispatch::NodeId> node_of_;
    std::vector<UnitEvent> events_;          // waiting for Poll
    std::vector<incident::Report> reports_;  // waiting for Sense
    /// A message as it came in, with the wall-clock time it arrived: a unit's heartbeat counts from then, not from
    /// when the brain got round to it (after a stall the brain catches up in a burst of steps).
    struct Incoming {
        std::string topic, payload;
        incident::TimeMs arrived_ms = 0;
    };
    std::vector<Incoming> taken_;  // reused
    int64_t device_events_ = 0, bad_device_events_ = 0, bad_fleet_messages_ = 0;

    std::mutex inbox_mu_;
    std::vector<Incoming> inbox_;  // filled on libmosquitto's thread
};

}  // namespace citybrain::district
