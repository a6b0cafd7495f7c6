// SPDX-License-Identifier: Apache-2.0
#include "dispatch/fleet.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace citybrain::dispatch {

namespace {

using Json = nlohmann::json;

Result<Json> ParseObject(std::string_view payload) {
    Json j = Json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return InvalidArgument("payload", "not valid JSON");
    if (!j.is_object()) return InvalidArgument("payload", "must be a JSON object");
    return j;
}

Result<std::string> String(const Json& j, const char* field, bool required = true) {
    const auto it = j.find(field);
    if (it == j.end() || it->is_null()) {
        if (required) return InvalidArgument(field, "is required");
        return std::string();
    }
    if (!it->is_string()) return InvalidArgument(field, "must be a string");
    if (it->get_ref<const std::string&>().size() > 4000) return InvalidArgument(field, "is over 4000 bytes");
    return it->get<std::string>();
}

Result<uint64_t> Seq(const Json& j) {
    const auto it = j.find("seq");
    if (it == j.end()) return InvalidArgument("seq", "is required");
    if (!it->is_number_unsigned() || it->get<uint64_t>() == 0) {
        return InvalidArgument("seq", "must be a whole number from 1");
    }
    return it->get<uint64_t>();
}

Result<double> Number(const Json& j, const char* field, double lo, double hi) {
    const auto it = j.find(field);
    if (it == j.end()) return InvalidArgument(field, "is required");
    if (!it->is_number()) return InvalidArgument(field, "must be a number");
    const double v = it->get<double>();
    if (!(v >= lo && v <= hi)) {
        return InvalidArgument(field, "must be from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    return v;
}

/// "citybrain/units/{unit}/{leaf}" → unit and leaf.
bool SplitTopic(std::string_view topic, std::string_view& unit, std::string_view& leaf) {
    if (topic.substr(0, kTopicRoot.size()) != kTopicRoot) return false;
    topic.remove_prefix(kTopicRoot.size());
    const size_t slash = topic.find('/');
    if (slash == std::string_view::npos || slash == 0) return false;
    unit = topic.substr(0, slash);
    leaf = topic.substr(slash + 1);
    return true;
}

}  // namespace

Status Fleet::AddUnit(const std::string& id, UnitKind kind, const std::string& node, int64_t now_ms) {
    if (id.empty() || id.find_first_of("/+#") != std::string::npos) {
        return InvalidArgument("unit", "id '" + id + "' must be non-empty without '/', '+' or '#'");
    }
    if (by_id_.count(id) != 0) return InvalidArgument("unit", "'" + id + "' already exists");
    FleetUnit u;
    u.id = id;
    u.kind = kind;
    u.node = node;
    u.last_heartbeat_ms = now_ms;
    by_id_.emplace(id, units_.size());
    units_.push_back(std::move(u));
    return {};
}

const FleetUnit* Fleet::Find(const std::string& id) const {
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &units_[it->second];
}

Result<std::string> Fleet::IssueOrder(const std::string& unit_id,
                                      const std::string& task,
                                      const std::string& target,
                                      const std::string& notice,
                                      int64_t now_ms) {
    const auto it = by_id_.find(unit_id);
    if (it == by_id_.end()) return NotFound("unit", "no unit '" + unit_id + "'");
    FleetUnit& unit = units_[it->second];
    if (unit.lost) return InvalidArgument("unit", "'" + unit_id + "' is lost");
    const uint64_t seq = unit.next_order_seq++;
    const std::string order_id = unit_id + "-" + std::to_string(seq);
    Json j{{"seq", seq}, {"order_id", order_id}, {"task", task}, {"target", target}};
    if (!notice.empty()) j["notice"] = notice;
    Outgoing out{std::string(kTopicRoot) + unit_id + "/orders", j.dump()};
    unit.assigned_task = task;
    pending_[order_id] = Pending{unit_id, task, seq, std::move(out), now_ms, options_.retry_after_ms, false};
    waiting_[unit_id].push_back(order_id);
    ++stats_.orders;
    return order_id;
}

Status Fleet::Handle(std::string_view topic, std::string_view payload, int64_t now_ms) {
    std::string_view unit_id, leaf;
    Status st;
    if (!SplitTopic(topic, unit_id, leaf)) {
        st = InvalidArgument("topic", "'" + std::string(topic) + "' is not citybrain/units/{unit}/{ack|state}");
    } else if (const auto it = by_id_.find(std::string(unit_id)); it == by_id_.end()) {
        st = NotFound("topic", "unknown unit '" + std::string(unit_id) + "'");
    } else if (leaf == "ack") {
        st = HandleAck(units_[it->second], payload);
    } else if (leaf == "state") {
        st = HandleState(units_[it->second], payload, now_ms);
    } else {
        st = InvalidArgument("topic", "unknown message '" + std::string(leaf) + "' (ack or state)");
    }
    if (!st.ok()) ++stats_.bad_messages;
    return st;
}

Status Fleet::HandleAck(FleetUnit& unit, std::string_view payload) {
    CB_TRY_ASSIGN(const Json j, ParseObject(payload));
    CB_TRY_ASSIGN(const uint64_t seq, Seq(j));
    CB_TRY_ASSIGN(const std::string order_id, String(j, "order_id"));
    CB_TRY_ASSIGN(const std::string status, String(j, "status"));
    if (status != "accepted" && status != "rejected") {
        return InvalidArgument("status", "must be 'accepted' or 'rejected', got '" + status + "'");
    }
    const auto it = pending_.find(order_id);
    if (it == pending_.end() || !it->second.sent) {
        // The answer to a retry of an order already acknowledged.
        ++stats_.duplicate_acks;
        return {};
    }
    if (it->second.unit != unit.id || it->second.seq != seq) {
        return InvalidArgument(
            "order_id",
            "'" + order_id + "' with seq " + std::to_string(seq) + " is not an order sent to '" + unit.id + "'");
    }
    if (status == "rejected") {
        ++stats_.rejected;
        orphaned_.push_back(it->second.task);
        if (unit.assigned_task == it->second.task) unit.assigned_task.clear();
    } else {
        ++stats_.acked;
    }
    --in_flight_[unit.id];
    pending_.erase(it);
    return {};
}

Status Fleet::HandleState(FleetUnit& unit, std::string_view payload, int64_t now_ms) {
    CB_TRY_ASSIGN(const Json j, ParseObject(payload));
    CB_TRY_ASSIGN(const uint64_t seq, Seq(j));
    CB_TRY_ASSIGN(const std::string node, String(j, "node"));
    CB_TRY_ASSIGN(const double speed, Number(j, "speed_mps", 0, 100));
    CB_TRY_ASSIGN(const double battery, Number(j, "battery", 0, 1));
    CB_TRY_ASSIGN(const std::string status, String(j, "status"));
    if (status != "idle" && status != "enroute" && status != "onsite" && status != "charging") {
        return InvalidArgument("status", "must be idle, enroute, onsite or charging, got '" + status + "'");
    }
    CB_TRY_ASSIGN(const std::string task, String(j, "task", false));
    ++stats_.states;
    // An old message overtaken by a newer one still proves the unit alive, but says nothing new.
    unit.last_heartbeat_ms = std::max(unit.last_heartbeat_ms, now_ms);
    if (seq <= unit.last_state_seq) return {};
    unit.last_state_seq = seq;
    unit.node = node;
    unit.speed_mps = speed;
    unit.battery = battery;
    unit.status = status;
    unit.task = task;
    if (unit.lost) unit.lost = false;  // back from the dead: available again, its old task already reassigned
    return {};
}

std::vector<Outgoing> Fleet::Tick(int64_t now_ms) {
    std::vector<Outgoing> out;
    for (auto& unit : units_) {
        if (!unit.lost && now_ms - unit.last_heartbeat_ms > options_.heartbeat_timeout_ms) {
            unit.lost = true;
            ++stats_.units_lost;
            if (!unit.assigned_task.empty()) orphaned_.push_back(unit.assigned_task);
        }
    }
    for (auto it = pending_.begin(); it != pending_.end();) {
        Pending& p = it->second;
        const FleetUnit& unit = units_[by_id_.at(p.unit)];
        if (unit.lost) {
            // Stop trying a unit that is gone; what it was sent to do goes back to be assigned.
            if (p.task != unit.assigned_task) orphaned_.push_back(p.task);
            if (p.sent) --in_flight_[p.unit];
            it = pending_.erase(it);
            continue;
        }
        if (p.sent && now_ms >= p.due_ms) {
            out.push_back(p.message);
            ++stats_.retries;
            p.wait_ms = std::min(p.wait_ms * 2, options_.max_retry_ms);
            p.due_ms = now_ms + p.wait_ms;
        }
        ++it;
    }
    for (auto& unit : units_) {
        if (unit.lost) unit.assigned_task.clear();
    }
    // New orders, oldest first, as far as each unit's window allows.
    for (auto& [unit_id, queue] : waiting_) {
        size_t& flying = in_flight_[unit_id];
        while (!queue.empty() && flying < options_.window) {
            const auto it = pending_.find(queue.front());
            queue.pop_front();
            if (it == pending_.end()) continue;  // dropped with a lost unit
            it->second.sent = true;
            it->second.due_ms = now_ms + it->second.wait_ms;
            ++flying;
            out.push_back(it->second.message);
        }
    }
    return out;
}

std::vector<std::string> Fleet::TakeOrphanedTasks() {
    std::vector<std::string> out;
    out.swap(orphaned_);
    return out;
}

Result<UnitOrder> ParseOrder(std::string_view payload) {
    CB_TRY_ASSIGN(const Json j, ParseObject(payload));
    UnitOrder o;
    CB_TRY_ASSIGN(o.seq, Seq(j));
    CB_TRY_ASSIGN(o.order_id, String(j, "order_id"));
    CB_TRY_ASSIGN(o.task, String(j, "task"));
    CB_TRY_ASSIGN(o.target, String(j, "target"));
    CB_TRY_ASSIGN(o.notice, String(j, "notice", false));
    return o;
}

std::string AckPayload(const UnitOrder& order, bool accepted) {
    return Json{{"seq", order.seq}, {"order_id", order.order_id}, {"status", accepted ? "accepted" : "rejected"}}
        .dump();
}

std::string StatePayload(uint64_t seq, const FleetUnit& unit) {
    Json j{{"seq", seq},
           {"node", unit.node},
           {"speed_mps", unit.speed_mps},
           {"battery", unit.battery},
           {"status", unit.status}};
    if (!unit.task.empty()) j["task"] = unit.task;
    return j.dump();
}

SimDrive::SimDrive(const RoadGraph& graph, const Path& path, double start_s) {
    double t = start_s;
    for (size_t k = 0; k < path.nodes.size(); ++k) {
        if (k > 0) {
            const NodeId u = path.nodes[k - 1], v = path.nodes[k];
            uint32_t best = std::numeric_limits<uint32_t>::max();
            for (uint32_t e = graph.first_out[u]; e < graph.first_out[u + 1]; ++e) {
                if (graph.head[e] == v) best = std::min(best, graph.time_ms[e]);
            }
            t += static_cast<double>(best) / 1000.0;
        }
        nodes_.push_back(path.nodes[k]);
        at_s_.push_back(t);
    }
    arrival_s_ = t;
}

NodeId SimDrive::NodeAt(double t_s) const {
    const auto it = std::upper_bound(at_s_.begin(), at_s_.end(), t_s);
    const size_t k = it == at_s_.begin() ? 0 : static_cast<size_t>(it - at_s_.begin()) - 1;
    return nodes_[k];
}

}  // namespace citybrain::dispatch
