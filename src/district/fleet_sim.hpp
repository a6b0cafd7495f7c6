// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "dispatch/dispatcher.hpp"
#include "dispatch/mqtt.hpp"
#include "district/default_district.hpp"

namespace citybrain::district {

struct FleetSimOptions {
    std::string host = "127.0.0.1";
    int port = 1883;
    std::string client_id = "citybrain-fleet-sim";
    /// Simulated seconds per wall second, for driving and for the work on site.
    double speedup = 1;
    /// How long a unit works on site (simulated seconds) before it reports done.
    double handle_s = 120;
    /// A state message (the heartbeat) at least this often, in wall milliseconds; also at every change.
    int64_t heartbeat_ms = 1000;
    /// If set, one JSON line per order received, arrival and completion, with the wall-clock time in ms since the
    /// epoch: what a load test measures report-to-order latency and lost orders from.
    std::string log_path;
    /// Scales every robot's battery use (driving and work on site; crews carry none): 0 keeps batteries full, a
    /// large value shows low batteries and charging within a short test.
    double battery_drain = 1;
    /// A robot that ends a task below this charges (at its spot, one hour from empty to full) before the next.
    double charge_below = 0.2;
};

struct FleetSimStats {
    uint64_t orders = 0, repeats = 0, stand_downs = 0, refused = 0, arrivals = 0, done = 0, states = 0, charges = 0;
};

/// The district's units as robots on the far side of MQTT (`citybrain fleet-sim`): one client, like a vendor's
/// fleet gateway, that acknowledges orders (again for a repeat, acting once), drives each unit along the
/// district's roads or pavements at its kind's pace, works on site, and reports its state as the fleet protocol
/// says. A live brain can so be shown, and load-tested, without hardware. Time is the wall clock × `speedup`.
class FleetSim {
public:
    static Result<std::unique_ptr<FleetSim>> Start(const District& district, const FleetSimOptions& options);
    ~FleetSim();
    FleetSim(const FleetSim&) = delete;
    FleetSim& operator=(const FleetSim&) = delete;

    void Stop();
    FleetSimStats stats() const;

private:
    struct Unit {
        std::string name;
        dispatch::UnitKind kind = dispatch::UnitKind::kCrew;
        dispatch::NodeId node = 0;
        std::string status = "idle";
        std::string task;
        dispatch::Route route;
        double depart_s = 0;
        double until_s = 0;  // on site, or charging, until
        double battery = 1;  // 0..1
        uint64_t acted_seq = 0;
        uint64_t state_seq = 0;
        int64_t sent_ms = -1'000'000;
        bool changed = true;
    };
    FleetSim(const District& district, const FleetSimOptions& options, dispatch::Dispatcher dispatcher);
    void Loop();
    void OnOrder(Unit& u, const std::string& payload, double now_s);
    dispatch::NodeId NodeAlong(const Unit& u, double now_s) const;
    /// Metres of the unit's route up to node `upto`.
    double MetresAlong(const Unit& u, size_t upto) const;
    /// Takes what driving `km` and working `on_site_s` cost from the unit's battery.
    void Use(Unit& u, double km, double on_site_s) const;
    void Log(const char* what, const Unit& u, const std::string& task, uint64_t seq);

    const District& district_;
    FleetSimOptions options_;
    dispatch::Dispatcher dispatcher_;
    std::vector<Unit> units_;
    std::unordered_map<std::string, size_t> unit_of_;
    std::unique_ptr<dispatch::MqttClient> mqtt_;
    std::FILE* log_ = nullptr;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mu_;  // inbox_ and stats_
    std::vector<std::pair<std::string, std::string>> inbox_;
    FleetSimStats stats_;
};

}  // namespace citybrain::district
