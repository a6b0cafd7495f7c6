// SPDX-License-Identifier: Apache-2.0
#include "dispatch/fleet.hpp"

#include <gtest/gtest.h>

#include "core/network_generator.hpp"

namespace citybrain::dispatch {
namespace {

std::string State(uint64_t seq, const std::string& node, double battery = 0.9, const std::string& status = "idle") {
    return R"({"seq":)" + std::to_string(seq) + R"(,"node":")" + node + R"(","speed_mps":1.5,"battery":)" +
           std::to_string(battery) + R"(,"status":")" + status + R"("})";
}

TEST(Fleet, OrderIsRetriedUntilAcknowledgedWithBackoff) {
    Fleet fleet({100'000, 1000, 4000});
    ASSERT_TRUE(fleet.AddUnit("dog1", UnitKind::kRobotDog, "n1", 0).ok());
    ASSERT_TRUE(fleet.IssueOrder("dog1", "case-7", "n9", "请不要占道经营，谢谢配合", 0).ok());
    const auto sent = fleet.Tick(0);
    ASSERT_EQ(sent.size(), 1u);
    const Outgoing* order = &sent[0];
    EXPECT_EQ(order->topic, "citybrain/units/dog1/orders");
    const auto parsed = ParseOrder(order->payload);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->seq, 1u);
    EXPECT_EQ(parsed->notice, "请不要占道经营，谢谢配合");
    EXPECT_TRUE(fleet.Tick(999).empty());
    auto again = fleet.Tick(1000);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].payload, order->payload) << "a retry is the same message";
    EXPECT_TRUE(fleet.Tick(2999).empty()) << "the wait doubles";
    EXPECT_EQ(fleet.Tick(3000).size(), 1u);
    EXPECT_TRUE(fleet.Tick(6999).empty());
    EXPECT_EQ(fleet.Tick(7000).size(), 1u);
    EXPECT_EQ(fleet.Tick(11000).size(), 1u) << "capped at 4 s";
    // Heartbeats keep it alive meanwhile.
    ASSERT_TRUE(fleet.Handle("citybrain/units/dog1/state", State(1, "n1"), 11000).ok());
    ASSERT_TRUE(fleet.Handle("citybrain/units/dog1/ack", AckPayload(*parsed, true), 11100).ok());
    EXPECT_EQ(fleet.pending(), 0u);
    EXPECT_TRUE(fleet.Tick(20000).empty());
    // The answer to an earlier retry arrives late: counted, harmless.
    ASSERT_TRUE(fleet.Handle("citybrain/units/dog1/ack", AckPayload(*parsed, true), 11200).ok());
    EXPECT_EQ(fleet.stats().acked, 1u);
    EXPECT_EQ(fleet.stats().duplicate_acks, 1u);
    EXPECT_EQ(fleet.stats().retries, 4u);
}

TEST(Fleet, BadMessagesAreNamedAndChangeNothing) {
    Fleet fleet;
    ASSERT_TRUE(fleet.AddUnit("dog1", UnitKind::kRobotDog, "n1", 0).ok());
    ASSERT_TRUE(fleet.AddUnit("crew1", UnitKind::kCrew, "n2", 0).ok());
    ASSERT_TRUE(fleet.Handle("citybrain/units/dog1/state", State(5, "n3"), 10).ok());
    const auto err = [&](std::string_view topic, std::string_view payload) {
        const auto st = fleet.Handle(topic, payload, 20);
        return st.ok() ? std::string("ok") : st.error().ToString();
    };
    EXPECT_EQ(err("citybrain/units/dog1/state", "{not json"), "payload: not valid JSON");
    EXPECT_EQ(err("citybrain/units/dog1/state", "[1]"), "payload: must be a JSON object");
    EXPECT_EQ(err("citybrain/units/dog1/state", R"({"node":"n4"})"), "seq: is required");
    EXPECT_EQ(err("citybrain/units/dog1/state", R"({"seq":-1,"node":"n4"})"), "seq: must be a whole number from 1");
    EXPECT_EQ(err("citybrain/units/dog1/state", State(6, "n4", 1.5)).substr(0, 23), "battery: must be from 0");
    EXPECT_EQ(err("citybrain/units/dog1/state", State(6, "n4", 0.5, "dancing")),
              "status: must be idle, enroute, onsite or charging, got 'dancing'");
    EXPECT_EQ(err("citybrain/units/dog1/ack", R"({"seq":1,"order_id":"dog1-1","status":"maybe"})"),
              "status: must be 'accepted' or 'rejected', got 'maybe'");
    EXPECT_EQ(err("citybrain/units/ghost/state", State(1, "n1")), "topic: unknown unit 'ghost'");
    EXPECT_EQ(err("citybrain/units/dog1/selfie", "{}"), "topic: unknown message 'selfie' (ack or state)");
    EXPECT_EQ(err("elsewhere/x", "{}"), "topic: 'elsewhere/x' is not citybrain/units/{unit}/{ack|state}");
    EXPECT_EQ(fleet.stats().bad_messages, 10u);
    // Nothing changed, and the other unit still works.
    EXPECT_EQ(fleet.Find("dog1")->node, "n3");
    EXPECT_EQ(fleet.Find("dog1")->last_state_seq, 5u);
    EXPECT_TRUE(fleet.Handle("citybrain/units/crew1/state", State(1, "n7"), 30).ok());
    EXPECT_EQ(fleet.Find("crew1")->node, "n7");
    // An old state (overtaken) is ignored.
    EXPECT_TRUE(fleet.Handle("citybrain/units/dog1/state", State(4, "n0"), 40).ok());
    EXPECT_EQ(fleet.Find("dog1")->node, "n3");
    EXPECT_FALSE(fleet.AddUnit("a/b", UnitKind::kCrew, "n1", 0).ok());
    EXPECT_FALSE(fleet.AddUnit("dog1", UnitKind::kCrew, "n1", 0).ok());
}

TEST(Fleet, SilentUnitIsLostAndItsTaskReassigned) {
    Fleet fleet({3000, 1000, 8000});
    ASSERT_TRUE(fleet.AddUnit("dog1", UnitKind::kRobotDog, "n1", 0).ok());
    ASSERT_TRUE(fleet.AddUnit("dog2", UnitKind::kRobotDog, "n2", 0).ok());
    ASSERT_TRUE(fleet.IssueOrder("dog1", "case-1", "n5", "", 0).ok());
    const auto order = fleet.Tick(0).at(0);
    ASSERT_TRUE(fleet.Handle("citybrain/units/dog1/ack", AckPayload(ParseOrder(order.payload).value(), true), 10).ok());
    // dog2 keeps reporting; dog1 falls silent.
    for (int64_t t = 500; t <= 4000; t += 500) {
        ASSERT_TRUE(fleet.Handle("citybrain/units/dog2/state", State(static_cast<uint64_t>(t), "n2"), t).ok());
        fleet.Tick(t);
    }
    EXPECT_TRUE(fleet.Find("dog1")->lost);
    EXPECT_FALSE(fleet.Find("dog2")->lost);
    EXPECT_EQ(fleet.TakeOrphanedTasks(), std::vector<std::string>{"case-1"});
    EXPECT_TRUE(fleet.TakeOrphanedTasks().empty());
    EXPECT_FALSE(fleet.IssueOrder("dog1", "case-2", "n5", "", 4000).ok());

    // Re-plan: the lost unit is unavailable, so the assignment sends dog2.
    std::vector<UnitState> units(2);
    units[0].available = !fleet.Find("dog1")->lost;
    units[1].available = !fleet.Find("dog2")->lost;
    const auto plan = Assign(units, {TaskSpec{}}, {{10'000}, {90'000}});
    ASSERT_EQ(plan.unit_of_task[0], 1);
    EXPECT_TRUE(fleet.IssueOrder("dog2", "case-1", "n5", "", 4000).ok());
    EXPECT_EQ(fleet.Find("dog2")->assigned_task, "case-1");
    // dog1 reports again: it is back, free for new work.
    ASSERT_TRUE(fleet.Handle("citybrain/units/dog1/state", State(1, "n1"), 5000).ok());
    EXPECT_FALSE(fleet.Find("dog1")->lost);
}

TEST(Fleet, RejectedOrderOrphansItsTask) {
    Fleet fleet;
    ASSERT_TRUE(fleet.AddUnit("s1", UnitKind::kSanitationRobot, "n1", 0).ok());
    ASSERT_TRUE(fleet.IssueOrder("s1", "case-9", "n4", "", 0).ok());
    const auto order = fleet.Tick(0).at(0);
    ASSERT_TRUE(fleet.Handle("citybrain/units/s1/ack", AckPayload(ParseOrder(order.payload).value(), false), 5).ok());
    EXPECT_EQ(fleet.TakeOrphanedTasks(), std::vector<std::string>{"case-9"});
    EXPECT_EQ(fleet.Find("s1")->assigned_task, "");
    // An ack naming an order of another unit is refused.
    ASSERT_TRUE(fleet.IssueOrder("s1", "case-10", "n4", "", 10).ok());
    ASSERT_EQ(fleet.Tick(10).size(), 1u);
    EXPECT_EQ(
        fleet.Handle("citybrain/units/s1/ack", R"({"seq":7,"order_id":"s1-2","status":"accepted"})", 20).error().where,
        "order_id");
}

TEST(Fleet, WindowLimitsOrdersInFlightPerUnit) {
    FleetOptions opt;
    opt.window = 3;
    Fleet fleet(opt);
    ASSERT_TRUE(fleet.AddUnit("a", UnitKind::kCrew, "n1", 0).ok());
    ASSERT_TRUE(fleet.AddUnit("b", UnitKind::kCrew, "n1", 0).ok());
    for (int k = 0; k < 5; ++k) ASSERT_TRUE(fleet.IssueOrder("a", "t" + std::to_string(k), "n2", "", 0).ok());
    ASSERT_TRUE(fleet.IssueOrder("b", "tb", "n2", "", 0).ok());
    auto sent = fleet.Tick(0);
    ASSERT_EQ(sent.size(), 4u) << "3 for a, 1 for b";
    EXPECT_TRUE(fleet.Tick(10).empty());
    // One acknowledgement frees one slot; the next order in line goes.
    const auto first = ParseOrder(sent[0].topic.find("/a/") != std::string::npos ? sent[0].payload : sent[1].payload);
    ASSERT_TRUE(fleet.Handle("citybrain/units/a/ack", AckPayload(first.value(), true), 20).ok());
    sent = fleet.Tick(30);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(ParseOrder(sent[0].payload)->seq, 4u);
    EXPECT_EQ(fleet.pending(), 5u);
}

TEST(Fleet, OrderParserNamesFields) {
    EXPECT_EQ(ParseOrder(R"({"seq":1,"task":"t","target":"n"})").error().ToString(), "order_id: is required");
    EXPECT_EQ(ParseOrder(R"({"seq":1,"order_id":5,"task":"t","target":"n"})").error().ToString(),
              "order_id: must be a string");
    EXPECT_TRUE(ParseOrder(R"({"seq":1,"order_id":"a","task":"t","target":"n"})").ok());
}

TEST(SimDrive, FollowsTheRoadsInSimulatedTime) {
    core::GridSpec spec;
    spec.rows = 3;
    spec.cols = 3;
    auto graph = RoadGraph::FromRoadNetwork(core::GenerateGrid(spec).value()).value();
    const auto path = ShortestPath(graph, 0, static_cast<NodeId>(graph.nodes() - 1));
    ASSERT_TRUE(path.has_value());
    ASSERT_GE(path->nodes.size(), 3u);
    SimDrive drive(graph, *path, 100.0);
    EXPECT_DOUBLE_EQ(drive.arrival_s(), 100.0 + static_cast<double>(path->time_ms) / 1000.0);
    EXPECT_EQ(drive.NodeAt(100.0), path->nodes.front());
    EXPECT_EQ(drive.NodeAt(drive.arrival_s()), path->nodes.back());
    EXPECT_FALSE(drive.Arrived(drive.arrival_s() - 0.01));
    EXPECT_TRUE(drive.Arrived(drive.arrival_s()));
    // Midway it is at an intermediate node.
    const NodeId mid = drive.NodeAt((100.0 + drive.arrival_s()) / 2);
    EXPECT_NE(std::find(path->nodes.begin(), path->nodes.end(), mid), path->nodes.end());
}

}  // namespace
}  // namespace citybrain::dispatch
