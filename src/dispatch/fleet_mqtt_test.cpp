// SPDX-License-Identifier: Apache-2.0
// The fleet protocol against a real mosquitto broker (tests/mqtt_test.sh starts one on loopback and sets
// CB_MQTT_PORT). The simulated units run behind one MQTT client, like a vendor's fleet gateway.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "dispatch/fleet.hpp"
#include "dispatch/mqtt.hpp"

namespace citybrain::dispatch {
namespace {

int Port() {
    const char* p = std::getenv("CB_MQTT_PORT");
    return p == nullptr ? 0 : std::atoi(p);
}

int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// Messages from the broker's thread, drained by the test's (the brain's) thread.
struct Inbox {
    std::mutex mu;
    std::vector<std::pair<std::string, std::string>> items;
    void Push(const std::string& t, const std::string& p) {
        std::lock_guard lock(mu);
        items.emplace_back(t, p);
    }
    std::vector<std::pair<std::string, std::string>> Take() {
        std::lock_guard lock(mu);
        std::vector<std::pair<std::string, std::string>> out;
        out.swap(items);
        return out;
    }
};

/// The units' side: acknowledges orders (again for a repeat, acting once), and can be told to miss the first
/// delivery of some orders, as a robot on a weak link would.
struct Gateway {
    std::mutex mu;
    std::unordered_map<std::string, int> executed;  // order id → times acted on
    std::unordered_map<std::string, int> seen;
    std::atomic<uint64_t> deliveries{0}, bad_orders{0};
    int miss_every = 0;
    uint64_t slow_first = 0;  // a slow start: the broker's queue for us overflows and it drops orders
    MqttClient* client = nullptr;

    void OnOrder(const std::string& topic, const std::string& payload) {
        if (++deliveries <= slow_first) std::this_thread::sleep_for(std::chrono::microseconds(300));
        auto order = ParseOrder(payload);
        if (!order.ok()) {
            ++bad_orders;
            return;
        }
        const std::string unit = topic.substr(kTopicRoot.size(), topic.rfind('/') - kTopicRoot.size());
        {
            std::lock_guard lock(mu);
            const int times_seen = seen[order->order_id]++;
            if (miss_every > 0 && times_seen == 0 && order->seq % static_cast<uint64_t>(miss_every) == 0) return;
            if (executed[order->order_id] == 0) executed[order->order_id] = 1;  // act once; a repeat is only re-acked
        }
        (void)client->Publish(std::string(kTopicRoot) + unit + "/ack", AckPayload(*order, true), 1);
    }
};

TEST(FleetMqtt, BurstOfTenThousandOrdersNoneLost) {
    ASSERT_GT(Port(), 0) << "CB_MQTT_PORT is not set: run tests/mqtt_test.sh";
    Inbox inbox;
    Gateway gw;
    gw.miss_every = 10;
    gw.slow_first = 2000;
    auto units = MqttClient::Connect(
        "127.0.0.1", Port(), "units-gateway", [&](const std::string& t, const std::string& p) { gw.OnOrder(t, p); });
    ASSERT_TRUE(units.ok()) << units.error().ToString();
    gw.client = units->get();
    ASSERT_TRUE((*units)->Subscribe("citybrain/units/+/orders", 1).ok());
    auto brain = MqttClient::Connect(
        "127.0.0.1", Port(), "brain", [&](const std::string& t, const std::string& p) { inbox.Push(t, p); });
    ASSERT_TRUE(brain.ok()) << brain.error().ToString();
    ASSERT_TRUE((*brain)->Subscribe("citybrain/units/+/ack", 1).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let both SUBACKs land

    FleetOptions opt;
    opt.heartbeat_timeout_ms = 1'000'000;  // this test is about orders; heartbeats have their own
    opt.retry_after_ms = 1500;
    opt.max_retry_ms = 4000;
    Fleet fleet(opt);
    constexpr int kUnits = 100, kOrders = 10'000;
    for (int u = 0; u < kUnits; ++u) {
        ASSERT_TRUE(fleet.AddUnit("u" + std::to_string(u), UnitKind::kRobotDog, "n0", NowMs()).ok());
    }
    // The burst: ten thousand orders at once (a hundred per unit); the windows release them as acks come back.
    for (int k = 0; k < kOrders; ++k) {
        ASSERT_TRUE(fleet
                        .IssueOrder("u" + std::to_string(k % kUnits),
                                    "task-" + std::to_string(k),
                                    "n1",
                                    k % 50 == 0 ? "请不要占道经营，谢谢配合" : "",
                                    NowMs())
                        .ok());
    }
    for (const auto& out : fleet.Tick(NowMs())) ASSERT_TRUE((*brain)->Publish(out.topic, out.payload, 1).ok());
    const int64_t deadline = NowMs() + 120'000;
    while (fleet.pending() > 0 && NowMs() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        for (const auto& [topic, payload] : inbox.Take()) {
            const auto st = fleet.Handle(topic, payload, NowMs());
            ASSERT_TRUE(st.ok()) << st.error().ToString();
        }
        for (const auto& out : fleet.Tick(NowMs())) ASSERT_TRUE((*brain)->Publish(out.topic, out.payload, 1).ok());
    }
    const auto& s = fleet.stats();
    std::printf("orders %llu acked %llu retries %llu duplicate acks %llu deliveries to the units %llu\n",
                static_cast<unsigned long long>(s.orders),
                static_cast<unsigned long long>(s.acked),
                static_cast<unsigned long long>(s.retries),
                static_cast<unsigned long long>(s.duplicate_acks),
                static_cast<unsigned long long>(gw.deliveries.load()));
    EXPECT_EQ(fleet.pending(), 0u);
    EXPECT_EQ(s.acked, static_cast<uint64_t>(kOrders));
    // Every order was acted on exactly once, including the thousand whose first delivery was missed.
    std::lock_guard lock(gw.mu);
    EXPECT_EQ(gw.executed.size(), static_cast<size_t>(kOrders));
    EXPECT_GE(s.retries, static_cast<uint64_t>(kOrders / 10));
    EXPECT_EQ(gw.bad_orders.load(), 0u);
    EXPECT_EQ(s.bad_messages, 0u);
}

TEST(FleetMqtt, SilentUnitIsLostAndABadMessageStopsNoOne) {
    ASSERT_GT(Port(), 0) << "CB_MQTT_PORT is not set: run tests/mqtt_test.sh";
    Inbox inbox;
    auto brain = MqttClient::Connect(
        "127.0.0.1", Port(), "brain-hb", [&](const std::string& t, const std::string& p) { inbox.Push(t, p); });
    ASSERT_TRUE(brain.ok()) << brain.error().ToString();
    ASSERT_TRUE((*brain)->Subscribe("citybrain/units/+/state", 1).ok());
    ASSERT_TRUE((*brain)->Subscribe("citybrain/units/+/ack", 1).ok());
    auto robots = MqttClient::Connect("127.0.0.1", Port(), "robots-hb", nullptr);
    ASSERT_TRUE(robots.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    FleetOptions opt;
    opt.heartbeat_timeout_ms = 800;
    Fleet fleet(opt);
    for (const char* id : {"hb1", "hb2", "hb3"}) ASSERT_TRUE(fleet.AddUnit(id, UnitKind::kCrew, "n0", NowMs()).ok());
    ASSERT_TRUE(fleet.IssueOrder("hb2", "case-42", "n9", "", NowMs()).ok());
    for (const auto& out : fleet.Tick(NowMs())) ASSERT_TRUE((*brain)->Publish(out.topic, out.payload, 1).ok());

    std::atomic<bool> stop{false};
    std::thread beat([&] {
        FleetUnit u;
        u.node = "n0";
        for (uint64_t seq = 1; !stop; ++seq) {
            for (const char* id : {"hb1", "hb2", "hb3"}) {
                // hb2 falls silent after a second; hb1 also sends garbage now and then.
                if (std::string(id) == "hb2" && seq > 10) continue;
                (void)(*robots)->Publish(std::string(kTopicRoot) + id + "/state", StatePayload(seq, u), 1);
            }
            if (seq % 5 == 0) (void)(*robots)->Publish("citybrain/units/hb1/state", "{\"seq\": \"x\"", 1);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    const int64_t end = NowMs() + 3000;
    while (NowMs() < end) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        for (const auto& [topic, payload] : inbox.Take()) (void)fleet.Handle(topic, payload, NowMs());
        fleet.Tick(NowMs());
    }
    stop = true;
    beat.join();
    EXPECT_FALSE(fleet.Find("hb1")->lost);
    EXPECT_TRUE(fleet.Find("hb2")->lost);
    EXPECT_FALSE(fleet.Find("hb3")->lost);
    EXPECT_EQ(fleet.TakeOrphanedTasks(), std::vector<std::string>{"case-42"});
    EXPECT_GE(fleet.stats().bad_messages, 3u);
    EXPECT_GE(fleet.stats().states, 40u);
}

}  // namespace
}  // namespace citybrain::dispatch
