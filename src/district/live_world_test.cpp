// SPDX-License-Identifier: Apache-2.0
// The Brain in both Worlds: the same reports on the same district give the same cases and the same assignments in
// the simulated World and in the live one (the fleet protocol over a real mosquitto, units played by FleetSim).
// tests/mqtt_test.sh starts the broker on loopback and sets CB_MQTT_PORT.
#include "district/live_world.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "core/time.hpp"
#include "district/brain.hpp"
#include "district/fleet_sim.hpp"
#include "district/sim_world.hpp"
#include "incident/device_event.hpp"

namespace citybrain::district {
namespace {

int Port() {
    const char* p = std::getenv("CB_MQTT_PORT");
    return p == nullptr ? 0 : std::atoi(p);
}

std::string TempDb(const std::string& name) {
    const auto path = std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".db");
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + s);
    return path.string();
}

/// A quiet district: no vendors, rain or messages of its own, so that the scenario's reports are the only ones.
District QuietDistrict() {
    DistrictSpec spec;
    spec.demand.duration_s = 3600;
    spec.demand.peak_at_s = 1800;
    spec.scenario.vendors_per_hour = 0;
    spec.scenario.messages_per_hour = 0;
    spec.scenario.rain_from = spec.scenario.rain_to = 2;  // after the end
    return std::move(MakeDistrict(spec, 5)).value();
}

/// What each World must agree on: per case, its category, priority and the unit first sent.
struct Outcome {
    std::string category;
    int priority = 0;
    std::string unit;
    std::string status;
    int dispatches = 0;
};

std::vector<incident::Report> Scenario(const District& d, incident::TimeMs now) {
    // Cases for each kind of unit: a vendor (robot dogs), rubbish (sanitation robots), a pothole and water (crews).
    // More cases than crews, so that robots go too and say their notices.
    const std::pair<const char*, int32_t> what[] = {{"street_vending", 7},
                                                    {"street_vending", 9},
                                                    {"street_vending", 33},
                                                    {"illegal_parking", 20},
                                                    {"exposed_rubbish", 14},
                                                    {"exposed_rubbish", 16},
                                                    {"road_damage", 21},
                                                    {"waterlogging", 28},
                                                    {"road_damage", 3}};
    std::vector<incident::Report> out;
    int n = 0;
    for (const auto& [category, node] : what) {
        const core::Point p = d.net.intersections[static_cast<size_t>(node)].point;
        const auto [lat, lon] = d.frame.ToWgs84({p.x + 30, p.y + 20});
        incident::Report r;
        r.source = incident::Source::kCamera;
        r.category = category;
        r.lat = lat;
        r.lon = lon;
        r.time_ms = now;
        r.external_id = "cam-" + std::to_string(n++);
        out.push_back(r);
    }
    return out;
}

std::map<incident::CaseId, Outcome> OutcomesOf(Brain& brain) {
    std::map<incident::CaseId, Outcome> out;
    incident::CaseFilter all;
    all.limit = 1000;
    auto cases = brain.engine().ListCases(all, brain.ClockMs());
    EXPECT_TRUE(cases.ok());
    for (const incident::Case& c : *cases) {
        Outcome o{c.category, c.priority, "", incident::StatusName(c.status), 0};
        auto detail = brain.engine().GetCaseDetail(c.id);
        EXPECT_TRUE(detail.ok() && detail->has_value());
        for (const incident::Event& e : (*detail)->events) {
            if (e.action != incident::Action::kDispatch) continue;
            if (o.dispatches++ == 0) o.unit = e.actor;
        }
        out[c.id] = o;
    }
    return out;
}

/// Steps a live brain on the wall clock until `done` or the wall-clock limit.
template <typename Done>
void StepLive(Brain& brain, double limit_s, Done done) {
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < limit_s) {
        while (brain.ClockMs() <= core::NowMs()) ASSERT_TRUE(brain.Step().ok());
        if (done()) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

bool AllAtLeast(Brain& brain, incident::CaseStatus status) {
    for (const auto& [id, o] : OutcomesOf(brain)) {
        auto s = incident::ParseStatus(o.status);
        if (!s.ok() || static_cast<int>(*s) < static_cast<int>(status)) return false;
    }
    return true;
}

TEST(LiveWorld, SameScenarioSameCasesAndAssignmentsInBothWorlds) {
    ASSERT_GT(Port(), 0) << "CB_MQTT_PORT is not set: run tests/mqtt_test.sh";
    const District district = QuietDistrict();

    // The simulated World.
    BrainOptions sim_options;
    sim_options.seed = 5;
    sim_options.sim_hours = 1;
    sim_options.db_path = TempDb("cb_sim_world");
    auto sim = std::move(Brain::Create(district, sim_options)).value();
    for (const auto& r : sim->engine().Ingest(Scenario(district, sim->ClockMs()), sim->ClockMs())) ASSERT_TRUE(r.ok());
    for (int t = 0; t < 900; ++t) ASSERT_TRUE(sim->Step().ok());
    const auto simulated = OutcomesOf(*sim);

    // The live World: the same brain code, the units over MQTT.
    FleetSimOptions fleet_options;
    fleet_options.port = Port();
    fleet_options.speedup = 40;
    fleet_options.handle_s = 40;
    auto fleet = std::move(FleetSim::Start(district, fleet_options)).value();
    LiveWorldOptions live_options;
    live_options.mqtt_port = Port();
    const incident::TimeMs start = core::NowMs();
    auto world = LiveWorld::Connect(district, live_options, start);
    ASSERT_TRUE(world.ok()) << world.error().ToString();
    const LiveWorld* live_world = world->get();
    BrainOptions live_brain;
    live_brain.seed = 5;
    live_brain.sim_hours = 0;
    live_brain.epoch_ms = start;
    const std::string live_db = TempDb("cb_live_world");
    auto store = incident::OpenSqliteStore(live_db, true);
    ASSERT_TRUE(store.ok());
    auto live =
        std::move(Brain::Create(district, live_brain, std::move(world).value(), std::move(store).value())).value();
    for (const auto& r : live->engine().Ingest(Scenario(district, live->ClockMs()), live->ClockMs())) {
        ASSERT_TRUE(r.ok());
    }
    StepLive(*live, 60, [&] { return AllAtLeast(*live, incident::CaseStatus::kHandled); });
    const auto lived = OutcomesOf(*live);

    ASSERT_EQ(simulated.size(), 9u);
    ASSERT_EQ(lived.size(), simulated.size());
    for (const auto& [id, s] : simulated) {
        const Outcome& l = lived.at(id);
        EXPECT_EQ(l.category, s.category) << "case " << id;
        EXPECT_EQ(l.priority, s.priority) << "case " << id;
        EXPECT_FALSE(s.unit.empty()) << "case " << id << " was never dispatched in the simulated World";
        EXPECT_EQ(l.unit, s.unit) << "case " << id << ": the Worlds assigned different units";
        // The live units did the work; with no eyes there, an inspector closes the case through the API.
        EXPECT_EQ(l.status, "handled") << "case " << id;
    }
    // The fleet protocol carried it: every order acknowledged, each unit's notice on the order it got.
    EXPECT_EQ(live_world->fleet().stats().acked, live_world->fleet().stats().orders);
    EXPECT_GE(fleet->stats().arrivals, 9u);
    const nlohmann::json results = live->Results();
    EXPECT_EQ(results["reached"], 9);
    EXPECT_GE(results["notices_played"].get<int>(), 1);  // robots said their notices, as in the simulated World
    EXPECT_EQ(results["notices_played"], sim->Results()["notices_played"]);
    auto closed =
        live->engine().Apply(1, incident::Action::kClose, "inspector", "verified on the spot", live->ClockMs());
    ASSERT_TRUE(closed.ok()) << closed.error().ToString();

    live.reset();
    fleet.reset();
    for (const std::string& db : {sim_options.db_path, live_db}) {
        for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(db + s);
    }
}

TEST(LiveWorld, ALostUnitsCaseGoesToAnotherAndDeviceEventsArriveOverMqtt) {
    ASSERT_GT(Port(), 0) << "CB_MQTT_PORT is not set: run tests/mqtt_test.sh";
    const District district = QuietDistrict();
    LiveWorldOptions live_options;
    live_options.mqtt_port = Port();
    live_options.client_id = "citybrain-brain-lost";
    live_options.fleet.heartbeat_timeout_ms = 5000;
    const incident::TimeMs start = core::NowMs();
    auto world = LiveWorld::Connect(district, live_options, start);
    ASSERT_TRUE(world.ok()) << world.error().ToString();
    BrainOptions options;
    options.sim_hours = 0;
    options.epoch_ms = start;
    options.dispatch_interval_ms = 1000;  // a round every second: the order goes out before the units are lost
    const std::string db = TempDb("cb_live_lost");
    auto store = incident::OpenSqliteStore(db, true);
    ASSERT_TRUE(store.ok());
    auto brain =
        std::move(Brain::Create(district, options, std::move(world).value(), std::move(store).value())).value();

    // A camera publishes its event on its device topic; the brain takes it in, files and dispatches it, but no unit
    // answers (the fleet is down): the order is dropped with the lost unit.
    auto device = dispatch::MqttClient::Connect("127.0.0.1", Port(), "cam-test", [](const auto&, const auto&) {});
    ASSERT_TRUE(device.ok());
    const core::Point p = district.net.intersections[14].point;
    const auto [lat, lon] = district.frame.ToWgs84(p);
    const nlohmann::json event = {{"type", "camera"},
                                  {"category", "exposed_rubbish"},
                                  {"lat", lat},
                                  {"long", lon},
                                  {"confidence", 0.95},
                                  {"event_id", "e-1"}};
    ASSERT_TRUE((*device)->Publish("citybrain/devices/cam-14/events", event.dump(), 1).ok());
    // A repeat of the same event (MQTT delivers at least once) and a malformed one.
    ASSERT_TRUE((*device)->Publish("citybrain/devices/cam-14/events", event.dump(), 1).ok());
    ASSERT_TRUE((*device)->Publish("citybrain/devices/cam-14/events", R"({"type":"camera"})", 1).ok());
    StepLive(*brain, 20, [&] { return brain->Results()["orders_dropped"].get<int>() >= 1; });
    auto first = OutcomesOf(*brain);
    ASSERT_EQ(first.size(), 1u) << "the repeated event made a second case";
    EXPECT_EQ(first.begin()->second.status, "dispatched");
    ASSERT_GE(brain->Results()["orders_dropped"].get<int>(), 1);

    // The fleet comes up: the units are back, and the case goes to one of them.
    FleetSimOptions fleet_options;
    fleet_options.port = Port();
    fleet_options.client_id = "citybrain-fleet-lost";
    fleet_options.speedup = 40;
    fleet_options.handle_s = 20;
    auto fleet = std::move(FleetSim::Start(district, fleet_options)).value();
    StepLive(*brain, 40, [&] { return AllAtLeast(*brain, incident::CaseStatus::kHandled); });
    const auto after = OutcomesOf(*brain);
    EXPECT_EQ(after.begin()->second.status, "handled");
    EXPECT_GE(after.begin()->second.dispatches, 2) << "the case was not sent again";
    const nlohmann::json results = brain->Results();
    EXPECT_EQ(results["device_events"], 2);  // the event and its repeat; the repeat joined by idempotency key
    EXPECT_EQ(results["device_events_refused"], 1);

    brain.reset();
    fleet.reset();
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(db + s);
}

TEST(LiveWorld, HeartbeatsCountFromArrivalAndAUnitLostOnSiteFinishesItsCase) {
    ASSERT_GT(Port(), 0) << "CB_MQTT_PORT is not set: run tests/mqtt_test.sh";
    const District district = QuietDistrict();
    LiveWorldOptions options;
    options.mqtt_port = Port();
    options.client_id = "citybrain-brain-onsite";
    options.fleet.heartbeat_timeout_ms = 5000;
    // The brain started seven seconds ago and has stepped through one of them.
    const incident::TimeMs start = core::NowMs() - 7000;
    auto connected = LiveWorld::Connect(district, options, start);
    ASSERT_TRUE(connected.ok()) << connected.error().ToString();
    LiveWorld& world = **connected;
    // The unit is played by hand: its state messages are the fleet protocol's.
    auto unit = dispatch::MqttClient::Connect("127.0.0.1", Port(), "unit-onsite", [](const auto&, const auto&) {});
    ASSERT_TRUE(unit.ok());
    const std::string name = district.units[0].name;
    uint64_t seq = 0;
    auto say = [&](const std::string& status, const std::string& task) {
        dispatch::FleetUnit f;
        f.id = name;
        f.node = district.net.intersections[7].id;
        f.status = status;
        f.task = task;
        f.battery = 0.9;
        ASSERT_TRUE(
            (*unit)
                ->Publish(std::string(dispatch::kTopicRoot) + name + "/state", dispatch::StatePayload(++seq, f), 1)
                .ok());
    };
    // Says it until the world has heard it (the world's subscription may not be in place for the first one; a
    // unit repeats its state every second anyway), polling at `now`; returns the events.
    auto hear = [&](const std::string& status, const std::string& task, incident::TimeMs now) {
        const uint64_t before = world.fleet().stats().states;
        std::vector<UnitEvent> events;
        for (int i = 0; i < 50 && world.fleet().stats().states == before; ++i) {
            say(status, task);
            for (int k = 0; k < 20 && world.fleet().stats().states == before; ++k) {
                world.Poll(now, events);
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
        EXPECT_GT(world.fleet().stats().states, before) << "the world never heard '" << status << "'";
        return events;
    };

    // A brain that lags six seconds behind the wall clock drains a heartbeat, then catches up: the heartbeat counts
    // from when it arrived, so the unit is not lost.
    const incident::TimeMs lagging = start + 1000;
    hear("idle", "", lagging);
    ASSERT_TRUE(world.Settle(core::NowMs()).ok());
    EXPECT_FALSE(world.fleet().units()[0].lost) << "a heartbeat that waited out a stall was taken as old";
    EXPECT_TRUE(world.Available(0));

    // Ordered, and on site.
    Order order;
    order.case_id = 41;
    order.target = 7;
    order.at = district.net.intersections[7].point;
    world.Send(0, order, core::NowMs());
    ASSERT_TRUE(world.Settle(core::NowMs()).ok());
    auto events = hear("onsite", "case-41", core::NowMs());
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].what, UnitEvent::What::kArrived);

    // Silent for longer than the heartbeat timeout while on site: lost, but its order is not dropped.
    const incident::TimeMs later = core::NowMs() + 6000;
    ASSERT_TRUE(world.Settle(later).ok());
    EXPECT_TRUE(world.fleet().units()[0].lost);
    EXPECT_FALSE(world.Available(0));
    events.clear();
    world.Poll(later, events);
    EXPECT_TRUE(events.empty()) << "a unit out of contact on site had its case taken away";

    // Heard again, with the work finished: the case is done.
    events = hear("idle", "", later);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].what, UnitEvent::What::kDone);
    EXPECT_EQ(events[0].case_id, 41);
    EXPECT_TRUE(world.Available(0));
}

TEST(DeviceEvent, FieldsAreCheckedByName) {
    auto ok = incident::ParseDeviceEvent(
        R"({"device":"s-1","type":"sensor","category":"waterlogging","lat":22.7,"long":114.2,"time":1781478000000})",
        "",
        5);
    ASSERT_TRUE(ok.ok()) << ok.error().ToString();
    EXPECT_EQ(ok->source, incident::Source::kSensor);
    EXPECT_EQ(ok->time_ms, 1781478000000);
    EXPECT_EQ(ok->external_id, "s-1");
    const std::pair<const char*, const char*> bad[] = {
        {R"([1])", "body"},
        {R"({"type":"camera","category":"x","lat":1,"long":1})", "device"},
        {R"({"device":"d","type":"drone","category":"x","lat":1,"long":1})", "type"},
        {R"({"device":"d","type":"camera","lat":1,"long":1})", "category"},
        {R"({"device":"d","type":"camera","category":"x"})", "lat"},
        {R"({"device":"d","type":"camera","category":"x","lat":"1","long":1})", "lat"},
        {R"({"device":"d","type":"camera","category":"x","lat":1,"long":1,"colour":"red"})", "colour"},
        {R"({"device":"d","type":"camera","category":"x","lat":1,"long":1,"time":"yesterday"})", "time"},
        {R"({"device":"other","type":"camera","category":"x","lat":1,"long":1})", "device"},
    };
    for (const auto& [payload, field] : bad) {
        auto r = incident::ParseDeviceEvent(
            payload, std::string_view(payload).find("other") != std::string_view::npos ? "cam-1" : "", 5);
        ASSERT_FALSE(r.ok()) << payload;
        EXPECT_EQ(r.error().where, field) << payload << ": " << r.error().ToString();
    }
}

}  // namespace
}  // namespace citybrain::district
