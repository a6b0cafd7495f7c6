// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "dispatch/assignment.hpp"
#include "dispatch/road_graph.hpp"

namespace citybrain::dispatch {

/// The fleet protocol, one topic tree per unit (MQTT; see fleet/README in src/dispatch/README.md):
///   citybrain/units/{unit}/orders  brain → unit  {"seq","order_id","task","target","notice"?}
///   citybrain/units/{unit}/ack     unit → brain  {"seq","order_id","status":"accepted"|"rejected"}
///   citybrain/units/{unit}/state   unit → brain  {"seq","node","speed_mps","battery","status","task"?}
/// The state message is also the heartbeat. Orders are retried until acknowledged, because a broker under load
/// drops messages (mosquitto keeps at most max_queued_messages per client); a unit acknowledges a repeated order
/// again without acting on it twice.
inline constexpr std::string_view kTopicRoot = "citybrain/units/";

struct Outgoing {
    std::string topic;
    std::string payload;
};

/// What a unit reports and the brain knows of it.
struct FleetUnit {
    std::string id;
    UnitKind kind = UnitKind::kCrew;
    std::string node;  // last reported position (a road-graph node name)
    double speed_mps = 0;
    double battery = 1;           // 0..1
    std::string status = "idle";  // idle, enroute, onsite, charging
    std::string task;             // the task it reports working on, "" for none
    std::string assigned_task;    // the task the brain last sent it to, "" for none
    int64_t last_heartbeat_ms = 0;
    uint64_t last_state_seq = 0;
    uint64_t next_order_seq = 1;
    bool lost = false;
};

struct FleetOptions {
    /// A unit silent for this long is lost; its task goes back to be reassigned.
    int64_t heartbeat_timeout_ms = 5000;
    /// An order not acknowledged within this is sent again, the wait doubling each time up to `max_retry_ms`.
    int64_t retry_after_ms = 1000;
    int64_t max_retry_ms = 8000;
    /// At most this many orders are unacknowledged per unit; more wait in the brain. This bounds what sits in the
    /// broker's queue for a unit, so a burst does not overflow it and retries do not snowball.
    size_t window = 8;
};

struct FleetStats {
    uint64_t orders = 0, acked = 0, rejected = 0, retries = 0, duplicate_acks = 0, bad_messages = 0, states = 0;
    uint64_t units_lost = 0;
};

/// The brain's side of the protocol, without the transport: the unit registry, orders awaiting acknowledgement and
/// their retries, heartbeats. Single-threaded: feed it messages and ticks from one thread.
class Fleet {
public:
    explicit Fleet(FleetOptions options = {}) : options_(options) {}

    Status AddUnit(const std::string& id, UnitKind kind, const std::string& node, int64_t now_ms);

    /// Sends `unit` to `target` for `task`, with an optional notice to play on arrival; returns the order id. The
    /// message goes out from `Tick` when the unit's window has room, and is repeated until acknowledged.
    Result<std::string> IssueOrder(const std::string& unit,
                                   const std::string& task,
                                   const std::string& target,
                                   const std::string& notice,
                                   int64_t now_ms);

    /// One message from a unit (`.../ack` or `.../state`). A malformed one is refused with the field named and
    /// counted; it changes nothing, and other units are unaffected.
    Status Handle(std::string_view topic, std::string_view payload, int64_t now_ms);

    /// Messages to publish now: new orders the windows admit, and orders due for another try. Marks units lost
    /// whose heartbeats stopped (their tasks go to `TakeOrphanedTasks`).
    std::vector<Outgoing> Tick(int64_t now_ms);

    /// Tasks whose unit was lost or rejected the order, to be assigned again; clears the list.
    std::vector<std::string> TakeOrphanedTasks();

    const FleetUnit* Find(const std::string& id) const;
    const std::vector<FleetUnit>& units() const { return units_; }
    /// Orders not yet acknowledged, sent or waiting for room.
    size_t pending() const { return pending_.size(); }
    const FleetStats& stats() const { return stats_; }

private:
    struct Pending {
        std::string unit;
        std::string task;
        uint64_t seq = 0;
        Outgoing message;
        int64_t due_ms = 0;
        int64_t wait_ms = 0;
        bool sent = false;
    };
    Status HandleAck(FleetUnit& unit, std::string_view payload);
    Status HandleState(FleetUnit& unit, std::string_view payload, int64_t now_ms);

    FleetOptions options_;
    std::vector<FleetUnit> units_;
    std::unordered_map<std::string, size_t> by_id_;
    std::unordered_map<std::string, Pending> pending_;                  // by order id
    std::unordered_map<std::string, std::deque<std::string>> waiting_;  // per unit: order ids not yet sent
    std::unordered_map<std::string, size_t> in_flight_;                 // per unit: sent, not acknowledged
    std::vector<std::string> orphaned_;
    FleetStats stats_;
};

/// An order as a unit receives it.
struct UnitOrder {
    uint64_t seq = 0;
    std::string order_id, task, target, notice;
};
/// Parses an order payload; errors name the field.
Result<UnitOrder> ParseOrder(std::string_view payload);
std::string AckPayload(const UnitOrder& order, bool accepted);
std::string StatePayload(uint64_t seq, const FleetUnit& unit);

/// A simulated unit driving a route in simulated time: where it is at time t, and when it arrives. Built from a
/// Dijkstra path, so it follows the roads at their travel times.
class SimDrive {
public:
    SimDrive(const RoadGraph& graph, const Path& path, double start_s);
    /// The node last passed at simulated time `t_s`.
    NodeId NodeAt(double t_s) const;
    double arrival_s() const { return arrival_s_; }
    bool Arrived(double t_s) const { return t_s >= arrival_s_; }

private:
    std::vector<NodeId> nodes_;
    std::vector<double> at_s_;  // when each node is reached
    double arrival_s_ = 0;
};

}  // namespace citybrain::dispatch
