// SPDX-License-Identifier: Apache-2.0
// The bus, its leases and two zone nodes against a real nats-server with JetStream: tests/nats_test.sh starts it on
// loopback and sets CB_NATS_URL (and CB_TMP, a scratch directory).
#include "zones/bus.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/time.hpp"
#include "incident/taxonomy.hpp"
#include "zones/intake.hpp"
#include "zones/node.hpp"
#include "zones/wire.hpp"
#include "zones/zone_map.hpp"

namespace citybrain::zones {
namespace {

std::string Url() {
    const char* u = std::getenv("CB_NATS_URL");
    return u == nullptr ? "" : u;
}

std::unique_ptr<Bus> Connect() {
    BusOptions options;
    options.url = Url();
    auto bus = Bus::Connect(options);
    EXPECT_TRUE(bus.ok()) << bus.error().ToString();
    if (!bus.ok()) return nullptr;
    EXPECT_TRUE((*bus)->EnsureStream("TEST", "test.>").ok());
    return std::move(bus).value();
}

void Sleep(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

TEST(Bus, StoredOnceUnackedComesBackAckedDoesNot) {
    ASSERT_FALSE(Url().empty()) << "CB_NATS_URL is not set: run tests/nats_test.sh";
    auto bus = Connect();
    ASSERT_TRUE(bus);
    auto first = bus->Publish("test.t1.reports", "hello", "t1-1");
    ASSERT_TRUE(first.ok()) << first.error().ToString();
    EXPECT_FALSE(first->duplicate);
    auto again = bus->Publish("test.t1.reports", "hello", "t1-1");
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->duplicate) << "a republish with the same id was stored twice";
    EXPECT_EQ(again->seq, first->seq);

    auto consumer = bus->PullConsumer("TEST", "t1", "test.t1.reports", 1000);
    ASSERT_TRUE(consumer.ok()) << consumer.error().ToString();
    auto got = (*consumer)->Fetch(10, 2000);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 1u);
    EXPECT_EQ((*got)[0].data(), "hello");
    EXPECT_EQ((*got)[0].id(), "t1-1");
    EXPECT_EQ((*got)[0].delivered(), 1u);
    got->clear();  // not acknowledged: it comes back after the ack wait
    Sleep(1300);
    auto redelivered = (*consumer)->Fetch(10, 2000);
    ASSERT_TRUE(redelivered.ok());
    ASSERT_EQ(redelivered->size(), 1u);
    EXPECT_EQ((*redelivered)[0].delivered(), 2u);
    ASSERT_TRUE((*redelivered)[0].Ack().ok());
    Sleep(1300);
    auto none = (*consumer)->Fetch(10, 300);
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty()) << "an acknowledged message came back";
    auto backlog = bus->ConsumerBacklog("TEST", "t1");
    ASSERT_TRUE(backlog.ok());
    EXPECT_EQ(backlog->pending, 0u);
    EXPECT_EQ(backlog->unacked, 0u);

    // A second binding to the same durable (the zone's next owner) resumes after the acknowledged message.
    ASSERT_TRUE(bus->Publish("test.t1.reports", "second", "t1-2").ok());
    consumer->reset();
    auto next = bus->PullConsumer("TEST", "t1", "test.t1.reports", 1000);
    ASSERT_TRUE(next.ok());
    auto rest = (*next)->Fetch(10, 2000);
    ASSERT_TRUE(rest.ok());
    ASSERT_EQ(rest->size(), 1u);
    EXPECT_EQ((*rest)[0].data(), "second");
    EXPECT_TRUE((*rest)[0].Ack().ok());
}

TEST(Bus, PublishAllAcknowledgesEachAndNeedsIds) {
    ASSERT_FALSE(Url().empty());
    auto bus = Connect();
    ASSERT_TRUE(bus);
    std::vector<Bus::Outgoing> out;
    for (int i = 0; i < 2000; ++i)
        out.push_back({"test.t2.reports", "m" + std::to_string(i), "t2-" + std::to_string(i)});
    out.push_back({"test.t2.reports", "no id", ""});
    const auto results = bus->PublishAll(out);
    ASSERT_EQ(results.size(), out.size());
    for (size_t i = 0; i + 1 < out.size(); ++i)
        ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].error().ToString();
    ASSERT_FALSE(results.back().ok());
    EXPECT_EQ(results.back().error().where, "msg_id");
    // Republished (the publisher's retry after a lost acknowledgement): acknowledged, not stored again.
    out.pop_back();
    for (const Status& s : bus->PublishAll(out)) ASSERT_TRUE(s.ok());
    auto consumer = bus->PullConsumer("TEST", "t2", "test.t2.reports", 5000);
    ASSERT_TRUE(consumer.ok());
    auto backlog = bus->ConsumerBacklog("TEST", "t2");
    ASSERT_TRUE(backlog.ok());
    EXPECT_EQ(backlog->pending, 2000u);
}

// The HTTP intake's path: reports submitted at once from many threads go out in batches, each answered with its
// own acknowledgement; a repeat of a key (a client's retry while the first is in flight) is never in the same batch
// as its first, and comes back as the same message, a duplicate.
TEST(CityIntake, ReportsSubmittedTogetherArePublishedTogetherEachWithItsOwnAnswer) {
    ASSERT_FALSE(Url().empty());
    auto bus = Connect();
    ASSERT_TRUE(bus);
    auto parsed = ZoneMap::Parse(
        R"({"lease_ms": 1000, "ack_wait_ms": 1000, "stream": "ASYNC", "zones": [
          {"id": "qw", "polygon": [[114.20, 22.70], [114.25, 22.70], [114.25, 22.76], [114.20, 22.76]]},
          {"id": "qe", "polygon": [[114.25, 22.70], [114.30, 22.70], [114.30, 22.76], [114.25, 22.76]]}]})",
        "test");
    ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
    const ZoneMap map = std::move(parsed).value();
    ASSERT_TRUE(EnsureZoneStreams(*bus, map).ok());
    auto leases = bus->OpenLeases(kLeaseBucket, map.lease_ms);
    ASSERT_TRUE(leases.ok());
    CityIntake city(map, *bus, **leases, ZoneStores{});
    constexpr int kThreads = 4, kEach = 400;
    std::mutex mu;
    std::map<std::string, std::vector<Result<Queued>>> answers;  // by key
    std::atomic<int> left{kThreads * (kEach + 2)};
    const auto report = [](double lon, const std::string& key) {
        incident::Report r;
        r.time_ms = core::NowMs();
        r.lat = 22.73;
        r.lon = lon;
        r.category = "noise";
        r.idempotency_key = key;
        return r;
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                const std::string key = "k-" + std::to_string(t) + "-" + std::to_string(i);
                const double lon = i % 2 == 0 ? 114.22 : 114.28;
                const int copies = i == 0 ? 3 : 1;  // the first key three times at once
                for (int c = 0; c < copies; ++c) {
                    city.SubmitAsync(report(lon, key), [&, key](Result<Queued> q) {
                        std::lock_guard lock(mu);
                        answers[key].push_back(std::move(q));
                        --left;
                    });
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int i = 0; i < 500 && left > 0; ++i) Sleep(20);
    ASSERT_EQ(left.load(), 0) << "answers missing";
    std::lock_guard lock(mu);
    ASSERT_EQ(answers.size(), static_cast<size_t>(kThreads * kEach));
    std::map<std::string, std::set<uint64_t>> seqs;  // by zone: every stored report has a place of its own
    for (const auto& [key, got] : answers) {
        const int i = std::stoi(key.substr(key.rfind('-') + 1));
        const std::string zone = i % 2 == 0 ? "qw" : "qe";
        size_t fresh = 0;
        for (const auto& q : got) {
            ASSERT_TRUE(q.ok()) << key << ": " << q.error().ToString();
            EXPECT_EQ(q->zone, zone);
            EXPECT_EQ(q->token, CityIntake::TokenOf(zone, key));
            EXPECT_EQ(q->seq, got[0]->seq) << key << ": a repeat is the same message";
            if (!q->duplicate) ++fresh;
        }
        EXPECT_EQ(fresh, 1u) << key;
        EXPECT_TRUE(seqs[zone].insert(got[0]->seq).second) << key << " shares its place in the stream";
    }
    EXPECT_EQ(seqs["qw"].size() + seqs["qe"].size(), static_cast<size_t>(kThreads * kEach));
    // A place in no zone is refused at once; after Stop nothing is taken.
    std::optional<Result<Queued>> outside, late;
    city.SubmitAsync(report(114.40, "far"), [&](Result<Queued> q) { outside = std::move(q); });
    ASSERT_TRUE(outside && !outside->ok());
    EXPECT_EQ(outside->error().where, "lat");
    city.Stop();
    city.SubmitAsync(report(114.22, "late"), [&](Result<Queued> q) { late = std::move(q); });
    ASSERT_TRUE(late && !late->ok());
    EXPECT_EQ(late->error().code, ErrorCode::kUnavailable);
}

TEST(Bus, LeasesHaveOneHolderAndAgeOut) {
    ASSERT_FALSE(Url().empty());
    auto bus = Connect();
    ASSERT_TRUE(bus);
    auto leases = bus->OpenLeases("test_leases", 1000);
    ASSERT_TRUE(leases.ok()) << leases.error().ToString();
    Leases& l = **leases;
    EXPECT_EQ(l.Hold("zone.a", "n1").value(), true);
    EXPECT_EQ(l.Hold("zone.a", "n2").value(), false);
    EXPECT_EQ(l.Hold("zone.a", "n1").value(), true);  // renewed
    EXPECT_EQ(l.Holder("zone.a").value(), "n1");
    // Renewed before it expires, it stays; left alone, it ages out and another may take it.
    for (int i = 0; i < 4; ++i) {
        Sleep(400);
        EXPECT_EQ(l.Hold("zone.a", "n1").value(), true) << "renewal " << i;
    }
    Sleep(1600);
    EXPECT_EQ(l.Holder("zone.a").value(), "");
    EXPECT_EQ(l.Hold("zone.a", "n2").value(), true);
    EXPECT_EQ(l.Hold("zone.a", "n1").value(), false);
    ASSERT_TRUE(l.Release("zone.a", "n1").ok());  // not its holder: nothing happens
    EXPECT_EQ(l.Holder("zone.a").value(), "n2");
    ASSERT_TRUE(l.Release("zone.a", "n2").ok());
    EXPECT_EQ(l.Hold("zone.a", "n1").value(), true);
}

// Core NATS, for what is not stored: in order from one sender, and nothing kept in any stream.
TEST(Bus, ATableEntryIsWrittenOnlyByWhoeverReadItsLastRevision) {
    ASSERT_FALSE(Url().empty());
    auto a = Connect(), b = Connect();
    ASSERT_TRUE(a && b);
    auto ta = a->OpenTable("test_table"), tb = b->OpenTable("test_table");
    ASSERT_TRUE(ta.ok() && tb.ok()) << (ta.ok() ? tb.error().ToString() : ta.error().ToString());
    auto none = (*ta)->Get("k");
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());
    // Both create it: one wins.
    ASSERT_TRUE((*ta)->Put("k", "a1", 0).value());
    EXPECT_FALSE((*tb)->Put("k", "b1", 0).value());
    auto seen = (*tb)->Get("k");
    ASSERT_TRUE(seen.ok() && seen->has_value());
    EXPECT_EQ((*seen)->value, "a1");
    // Both update from the revision they read: the first wins, the second must read again.
    const uint64_t rev = (*seen)->revision;
    ASSERT_TRUE((*tb)->Put("k", "b2", rev).value());
    EXPECT_FALSE((*ta)->Put("k", "a2", rev).value());
    auto last = (*ta)->Get("k");
    ASSERT_TRUE(last.ok() && last->has_value());
    EXPECT_EQ((*last)->value, "b2");
    EXPECT_GT((*last)->revision, rev);
    EXPECT_FALSE(a->OpenTable("no.dots").ok());
}

TEST(Bus, CoreMessagesArriveInOrderAndTimeOut) {
    ASSERT_FALSE(Url().empty());
    auto a = Connect(), b = Connect();
    ASSERT_TRUE(a && b);
    auto sub = b->Subscribe("sim.test.boundary");
    ASSERT_TRUE(sub.ok()) << sub.error().ToString();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(a->Send("sim.test.boundary", "step " + std::to_string(i)).ok());
    for (int i = 0; i < 3; ++i) {
        auto m = (*sub)->Next(2000);
        ASSERT_TRUE(m.ok()) << m.error().ToString();
        EXPECT_EQ(*m, "step " + std::to_string(i));
    }
    auto none = (*sub)->Next(50);
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().code, ErrorCode::kUnavailable);
}

TEST(ZoneNodes, ZonesSpreadMoveToTheSurvivorAndEveryReportIsAppliedOnce) {
    ASSERT_FALSE(Url().empty());
    auto bus_a = Connect(), bus_b = Connect(), pub = Connect();
    ASSERT_TRUE(bus_a && bus_b && pub);
    auto parsed = ZoneMap::Parse(
        R"({"lease_ms": 1000, "ack_wait_ms": 2000, "zones": [
          {"id": "west", "polygon": [[114.20, 22.70], [114.24, 22.70], [114.24, 22.76], [114.20, 22.76]]},
          {"id": "mid", "polygon": [[114.24, 22.70], [114.27, 22.70], [114.27, 22.76], [114.24, 22.76]]},
          {"id": "east", "polygon": [[114.27, 22.70], [114.30, 22.70], [114.30, 22.76], [114.27, 22.76]]}]})",
        "test");
    ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
    const ZoneMap map = std::move(parsed).value();
    const std::string dir = std::string(std::getenv("CB_TMP") ? std::getenv("CB_TMP") : "/tmp") + "/zones_nodes";
    std::filesystem::remove_all(dir);
    NodeOptions oa, ob;
    oa.name = "na", ob.name = "nb";
    oa.stores.data_dir = ob.stores.data_dir = dir;
    auto a = ZoneNode::Start(map, *bus_a, incident::Taxonomy::Default(), oa);
    auto b = ZoneNode::Start(map, *bus_b, incident::Taxonomy::Default(), ob);
    ASSERT_TRUE(a.ok() && b.ok());
    auto publish = [&](int first, int n) {
        std::vector<Bus::Outgoing> out;
        for (int i = first; i < first + n; ++i) {
            incident::Report r;
            r.time_ms = core::NowMs();
            r.lat = 22.71 + 0.0004 * (i % 100);
            r.lon = 114.205 + 0.0009 * (i % 97);
            r.category = "road_damage";
            r.description = "pothole " + std::to_string(i);
            const auto z = map.Locate(*r.lat, *r.lon);
            ASSERT_TRUE(z.has_value());
            out.push_back({ZoneMap::ReportsSubject(map.zones()[*z].id), EncodeReport(r), "r-" + std::to_string(i)});
        }
        for (const Status& s : pub->PublishAll(out)) ASSERT_TRUE(s.ok());
    };
    auto applied = [&] { return (*a)->stats().applied + (*b)->stats().applied; };
    auto step_until = [&](auto done, bool step_b) {
        for (int i = 0; i < 400 && !done(); ++i) {
            ASSERT_TRUE((*a)->Step().ok());
            if (step_b) {
                ASSERT_TRUE((*b)->Step().ok());
            }
            Sleep(10);
        }
    };
    // Each zone ends with the node rendezvous hashing gives it (the first node up takes all, then hands over).
    std::vector<std::string> of_a, of_b;
    for (const Zone& z : map.zones()) (ZoneNode::OwnerOf(z.id, {"na", "nb"}) == "na" ? of_a : of_b).push_back(z.id);
    ASSERT_FALSE(of_a.empty() || of_b.empty()) << "pick node names that share the zones";
    publish(0, 300);
    step_until([&] { return applied() == 300 && (*a)->Held() == of_a && (*b)->Held() == of_b; }, true);
    EXPECT_EQ(applied(), 300u);
    EXPECT_EQ((*a)->Held(), of_a);
    EXPECT_EQ((*b)->Held(), of_b);

    // b leaves (a clean stop): a takes its zones at once, and the reports that come next are applied there.
    ASSERT_TRUE((*b)->Leave().ok());
    publish(300, 100);
    step_until([&] { return (*a)->Held().size() == 3 && applied() == 400; }, false);
    EXPECT_EQ((*a)->Held().size(), 3u);
    EXPECT_EQ(applied(), 400u);
    EXPECT_EQ((*a)->stats().repeated + (*b)->stats().repeated, 0u);
    EXPECT_EQ((*a)->stats().refused + (*b)->stats().refused, 0u);
}

// A node that lost its zone without noticing (another node claimed the zone's store) writes nothing more to it:
// its commit is refused, the batch stays unacknowledged, and when the zone is its own again it applies the batch.
TEST(ZoneNodes, ANodeWhoseZoneStoreWasClaimedSinceWritesNothing) {
    ASSERT_FALSE(Url().empty());
    auto bus = Connect(), pub = Connect();
    ASSERT_TRUE(bus && pub);
    auto parsed = ZoneMap::Parse(
        R"({"lease_ms": 1000, "ack_wait_ms": 1000, "stream": "FENCE", "zones": [
          {"id": "solo", "polygon": [[114.20, 22.70], [114.30, 22.70], [114.30, 22.76], [114.20, 22.76]]}]})",
        "test");
    ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
    const ZoneMap map = std::move(parsed).value();
    const std::string dir = std::string(std::getenv("CB_TMP") ? std::getenv("CB_TMP") : "/tmp") + "/zones_fence";
    std::filesystem::remove_all(dir);
    NodeOptions options;
    options.name = "nf";
    options.stores.data_dir = dir;
    auto node = ZoneNode::Start(map, *bus, incident::Taxonomy::Default(), options);
    ASSERT_TRUE(node.ok()) << node.error().ToString();
    auto publish = [&](int first, int n) {
        std::vector<Bus::Outgoing> out;
        for (int i = first; i < first + n; ++i) {
            incident::Report r;
            r.time_ms = core::NowMs();
            r.lat = 22.71 + 0.0004 * i;
            r.lon = 114.21;
            r.category = "road_damage";
            out.push_back({ZoneMap::ReportsSubject("solo"), EncodeReport(r), "f-" + std::to_string(i)});
        }
        for (const Status& s : pub->PublishAll(out)) ASSERT_TRUE(s.ok());
    };
    auto step_until = [&](auto done) {
        for (int i = 0; i < 500 && !done(); ++i) {
            ASSERT_TRUE((*node)->Step().ok());
            Sleep(10);
        }
    };
    publish(0, 10);
    step_until([&] { return (*node)->stats().applied == 10; });
    ASSERT_EQ((*node)->stats().applied, 10u);

    // Another claims the zone's store (as a node that took the zone over would).
    auto intruder = options.stores.Open("solo");
    ASSERT_TRUE(intruder.ok());
    ASSERT_TRUE((*intruder)->ClaimWriter("nz", core::NowMs()).ok());
    publish(10, 10);
    step_until([&] { return (*node)->stats().fenced > 0; });
    EXPECT_EQ((*node)->stats().fenced, 1u);
    EXPECT_EQ((*node)->stats().applied, 10u);
    EXPECT_TRUE((*node)->Held().empty());

    // The lease is still the node's: it takes the zone again, claims the store back, and applies the batch it had
    // to leave, redelivered once its ack wait ran out.
    step_until([&] { return (*node)->stats().applied == 20; });
    EXPECT_EQ((*node)->stats().applied, 20u);
    EXPECT_EQ((*node)->stats().repeated, 0u);
    EXPECT_EQ((*node)->stats().taken, 2u);
    EXPECT_EQ((*node)->Held(), std::vector<std::string>{"solo"});
    incident::WriteBatch late;
    late.reports.emplace_back();
    late.reports[0].id = 1000;
    late.reports[0].category = "noise";
    late.reports[0].case_id = 1;
    const Status refused = (*intruder)->Commit(late);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
}

// Two reports of one matter on both sides of a border: the second is handed over to the zone that has the case,
// joins it there, and its token (given out by the zone it arrived in) finds it next door.
TEST(ZoneNodes, AReportNearABorderJoinsTheCaseNextDoor) {
    ASSERT_FALSE(Url().empty());
    auto bus = Connect(), pub = Connect();
    ASSERT_TRUE(bus && pub);
    auto parsed = ZoneMap::Parse(
        R"({"lease_ms": 1000, "ack_wait_ms": 1000, "stream": "BORDER", "zones": [
          {"id": "bw", "polygon": [[114.20, 22.70], [114.25, 22.70], [114.25, 22.76], [114.20, 22.76]]},
          {"id": "be", "polygon": [[114.25, 22.70], [114.30, 22.70], [114.30, 22.76], [114.25, 22.76]]}]})",
        "test");
    ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
    const ZoneMap map = std::move(parsed).value();
    const std::string dir = std::string(std::getenv("CB_TMP") ? std::getenv("CB_TMP") : "/tmp") + "/zones_border";
    std::filesystem::remove_all(dir);
    NodeOptions options;
    options.name = "nborder";
    options.stores.data_dir = dir;
    auto node = ZoneNode::Start(map, *bus, incident::Taxonomy::Default(), options);
    ASSERT_TRUE(node.ok()) << node.error().ToString();
    auto publish = [&](const std::string& key, const std::string& category, double lon) {
        incident::Report r;
        r.time_ms = core::NowMs();
        r.lat = 22.73;
        r.lon = lon;
        r.category = category;
        const auto z = map.Locate(*r.lat, *r.lon);
        ASSERT_TRUE(z.has_value());
        ASSERT_TRUE(pub->Publish(ZoneMap::ReportsSubject(map.zones()[*z].id), EncodeReport(r), key).ok());
    };
    auto step_until = [&](auto done) {
        for (int i = 0; i < 500 && !done(); ++i) {
            ASSERT_TRUE((*node)->Step().ok());
            Sleep(10);
        }
    };
    const auto& s = (*node)->stats();
    publish("w-1", "waterlogging", 114.2495);  // in the west, 51 m from the border
    step_until([&] { return s.applied == 1; });
    publish("e-1", "waterlogging", 114.2510);  // in the east, 154 m from the first: within waterlogging's 200 m
    step_until([&] { return s.applied == 2; });
    EXPECT_EQ(s.handed_off, 1u);
    EXPECT_EQ(s.handed_in, 1u);
    publish("e-2", "waterlogging", 114.2540);  // 460 m away: a matter of its own, in the east
    publish("e-3", "road_damage", 114.2503);   // near, but no road damage next door
    step_until([&] { return s.applied == 4; });
    EXPECT_EQ(s.handed_off, 1u);

    auto leases = bus->OpenLeases(kLeaseBucket, map.lease_ms);
    ASSERT_TRUE(leases.ok());
    CityIntake city(map, *bus, **leases, options.stores, BorderReachM(incident::Taxonomy::Default()));
    auto first = city.Track(CityIntake::TokenOf("bw", "w-1"));
    auto second = city.Track(CityIntake::TokenOf("be", "e-1"));
    auto own = city.Track(CityIntake::TokenOf("be", "e-2"));
    ASSERT_TRUE(first.ok() && second.ok() && own.ok());
    ASSERT_TRUE(first->filed && second->filed && own->filed);
    EXPECT_EQ(second->zone, "bw");
    EXPECT_EQ(second->request.report.case_id, first->request.report.case_id);
    EXPECT_TRUE(second->request.report.duplicate);
    EXPECT_EQ(own->zone, "be");
    EXPECT_FALSE(own->request.report.duplicate);
}

// A report this zone filed already, delivered again (its acknowledgement lost), stays a repeat here even when a
// case has since opened next door that would take a new report: handing it over would file it twice.
TEST(ZoneNodes, AReportFiledHereIsNotHandedOverWhenDeliveredAgain) {
    ASSERT_FALSE(Url().empty());
    BusOptions options;
    options.url = Url();
    options.duplicate_window_ms = 200;  // so that the test can deliver a message again by publishing it again
    auto bus = Bus::Connect(options);
    auto pub = Connect();
    ASSERT_TRUE(bus.ok() && pub);
    auto parsed = ZoneMap::Parse(
        R"({"lease_ms": 1000, "ack_wait_ms": 1000, "stream": "AGAIN", "zones": [
          {"id": "aw", "polygon": [[114.20, 22.70], [114.25, 22.70], [114.25, 22.76], [114.20, 22.76]]},
          {"id": "ae", "polygon": [[114.25, 22.70], [114.30, 22.70], [114.30, 22.76], [114.25, 22.76]]}]})",
        "test");
    ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
    const ZoneMap map = std::move(parsed).value();
    const std::string dir = std::string(std::getenv("CB_TMP") ? std::getenv("CB_TMP") : "/tmp") + "/zones_again";
    std::filesystem::remove_all(dir);
    NodeOptions node_options;
    node_options.name = "nagain";
    node_options.stores.data_dir = dir;
    auto node = ZoneNode::Start(map, **bus, incident::Taxonomy::Default(), node_options);
    ASSERT_TRUE(node.ok()) << node.error().ToString();
    incident::Report x;
    x.time_ms = core::NowMs();
    x.lat = 22.73;
    x.lon = 114.2510;  // in the east, 103 m from the border
    x.category = "waterlogging";
    incident::Report y = x;
    y.lon = 114.2496;  // in the west, 144 m from x: within waterlogging's 200 m
    const auto& s = (*node)->stats();
    auto step_until = [&](auto done) {
        for (int i = 0; i < 500 && !done(); ++i) {
            ASSERT_TRUE((*node)->Step().ok());
            Sleep(10);
        }
    };
    ASSERT_TRUE(pub->Publish(ZoneMap::ReportsSubject("ae"), EncodeReport(x), "x-1").ok());
    step_until([&] { return s.applied == 1; });
    ASSERT_EQ(s.applied, 1u);
    // Its case closes (here by writing the east's store), so that a report in the west opens one there.
    auto east = node_options.stores.Open("ae");
    ASSERT_TRUE(east.ok());
    auto c = (*east)->GetCase(1);
    ASSERT_TRUE(c.ok() && c->has_value());
    incident::WriteBatch close;
    close.cases = {**c};
    close.cases[0].status = incident::CaseStatus::kClosed;
    ASSERT_TRUE((*east)->Commit(close).ok());
    ASSERT_TRUE(pub->Publish(ZoneMap::ReportsSubject("aw"), EncodeReport(y), "y-1").ok());
    step_until([&] { return s.applied == 2; });
    ASSERT_EQ(s.applied, 2u);
    ASSERT_EQ(s.handed_off, 0u);
    // x again (its stream's de-duplication window has passed): the west's case would take a new report, but x was
    // filed in the east already.
    Sleep(400);
    auto again = pub->Publish(ZoneMap::ReportsSubject("ae"), EncodeReport(x), "x-1");
    ASSERT_TRUE(again.ok());
    ASSERT_FALSE(again->duplicate);
    step_until([&] { return s.repeated == 1; });
    EXPECT_EQ(s.repeated, 1u);
    EXPECT_EQ(s.handed_off, 0u);
    EXPECT_EQ(s.applied, 2u);
    auto west = node_options.stores.Open("aw");
    ASSERT_TRUE(west.ok());
    incident::RequestFilter f;
    f.idempotency_keys = {"x-1"};
    EXPECT_TRUE((*west)->ListRequests(f)->empty());
}

// Units: a zone's filed cases take its own nearest free unit; with none free, the nearest unit another zone can spare
// (it keeps `lend_reserve` free), whose order goes to its home zone; a unit taken for a case before a crash is
// found again by its entry, not taken twice; a case left waiting gets a unit once one is free again.
TEST(ZoneNodes, ACaseWithNoUnitFreeAtHomeBorrowsOneTheZoneNextDoorCanSpare) {
    ASSERT_FALSE(Url().empty());
    auto bus = Connect(), pub = Connect();
    ASSERT_TRUE(bus && pub);
    auto parsed = ZoneMap::Parse(
        R"({"lease_ms": 1000, "ack_wait_ms": 1000, "stream": "UNITS", "unit_service_ms": 1500, "lend_reserve": 1,
            "zones": [
          {"id": "uw", "polygon": [[114.20, 22.70], [114.25, 22.70], [114.25, 22.76], [114.20, 22.76]],
           "units": [{"id": "uw-1", "lat": 22.73, "lon": 114.21}]},
          {"id": "ue", "polygon": [[114.25, 22.70], [114.30, 22.70], [114.30, 22.76], [114.25, 22.76]],
           "units": [{"id": "ue-1", "lat": 22.73, "lon": 114.26}, {"id": "ue-2", "lat": 22.73, "lon": 114.27},
                     {"id": "ue-3", "lat": 22.73, "lon": 114.29}]}]})",
        "test");
    ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
    const ZoneMap map = std::move(parsed).value();
    ASSERT_EQ(map.units().size(), 4u);
    // ue-2 was taken for the west's case 2 by a node that stopped before it recorded the dispatch.
    auto table = bus->OpenTable(kUnitBucket);
    ASSERT_TRUE(table.ok()) << table.error().ToString();
    const std::string before = R"({"case":"uw:2","until_ms":)" + std::to_string(core::NowMs() + 600'000) + "}";
    ASSERT_TRUE((*table)->Put(UnitKey("ue-2"), before, 0).value());
    EXPECT_FALSE((*table)->Put(UnitKey("ue-2"), before, 0).value()) << "a unit was taken twice";

    const std::string dir = std::string(std::getenv("CB_TMP") ? std::getenv("CB_TMP") : "/tmp") + "/zones_units";
    std::filesystem::remove_all(dir);
    NodeOptions options;
    options.name = "nunits";
    options.stores.data_dir = dir;
    auto node = ZoneNode::Start(map, *bus, incident::Taxonomy::Default(), options);
    ASSERT_TRUE(node.ok()) << node.error().ToString();
    // Four matters 1 km apart in the west, the first where uw-1 stands.
    for (int i = 0; i < 4; ++i) {
        incident::Report r;
        r.time_ms = core::NowMs();
        r.lat = 22.73;
        r.lon = 114.21 + 0.01 * i;
        r.category = "waterlogging";
        ASSERT_TRUE(pub->Publish(ZoneMap::ReportsSubject("uw"), EncodeReport(r), "u-" + std::to_string(i)).ok());
    }
    const auto& s = (*node)->stats();
    for (int i = 0; i < 300 && s.dispatched < 3; ++i) {
        ASSERT_TRUE((*node)->Step().ok());
        Sleep(10);
    }
    ASSERT_EQ(s.applied, 4u);
    EXPECT_EQ(s.dispatched, 3u) << "the fourth case should wait: the east keeps one unit for itself";
    auto west = options.stores.Open("uw");
    ASSERT_TRUE(west.ok());
    auto dispatcher_of = [&](incident::CaseId id) {
        auto events = (*west)->CaseEvents(id);
        std::string who;
        if (!events.ok()) return who;
        for (const incident::Event& e : *events) {
            if (e.action == incident::Action::kDispatch) who += (who.empty() ? "" : ",") + e.actor;
        }
        return who;
    };
    EXPECT_EQ(dispatcher_of(1), "uw-1");  // its own
    EXPECT_EQ(dispatcher_of(2), "ue-2");  // the unit taken for it before the crash, found again
    EXPECT_EQ(dispatcher_of(3), "ue-1");  // borrowed: the nearest of the east's two free units
    EXPECT_EQ(dispatcher_of(4), "");
    EXPECT_EQ((*west)->GetCase(4).value()->status, incident::CaseStatus::kFiled);
    auto ue2 = (*table)->Get(UnitKey("ue-2"));
    ASSERT_TRUE(ue2.ok() && ue2->has_value());
    EXPECT_EQ((*ue2)->value, before) << "the unit's entry was written again";
    // uw-1 is free once its 1.5 s on site have passed (it stood at the first matter): the fourth case takes it.
    for (int i = 0; i < 500 && s.dispatched < 4; ++i) {
        ASSERT_TRUE((*node)->Step().ok());
        Sleep(10);
    }
    EXPECT_EQ(s.dispatched, 4u);
    EXPECT_EQ(dispatcher_of(4), "uw-1");
    EXPECT_EQ(s.borrowed, 2u);
    // The east read the orders of its two units lent to the west (each once: the second one's order went out under
    // the same id as before the crash would have).
    for (int i = 0; i < 300 && s.lent < 2; ++i) {
        ASSERT_TRUE((*node)->Step().ok());
        Sleep(10);
    }
    EXPECT_EQ(s.lent, 2u);
    auto backlog = bus->ConsumerBacklog(map.StreamOf("ue"), "zone_ue");
    ASSERT_TRUE(backlog.ok());
    EXPECT_EQ(backlog->pending + backlog->unacked, 0u);
    auto uw1 = (*table)->Get(UnitKey("uw-1"));
    ASSERT_TRUE(uw1.ok() && uw1->has_value());
    EXPECT_NE((*uw1)->value.find(R"("case":"uw:4")"), std::string::npos) << (*uw1)->value;
}

}  // namespace
}  // namespace citybrain::zones
