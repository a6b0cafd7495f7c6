// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "../../../tests/test_util.hpp"
#include "traffic/run.hpp"
#include "traffic/signal/controller.hpp"
#include "traffic/signal/train.hpp"

namespace citybrain::traffic {
namespace {

using Movement = std::pair<core::RoadId, core::RoadId>;  // (from road, to road)

// Two straight movements through `node` that no phase serves together: crossing streets. Empty if none.
std::optional<std::pair<Movement, Movement>> CrossingStraights(const core::RoadNetwork& net,
                                                               const core::Intersection& node) {
    std::vector<Movement> straight;
    for (core::RoadLinkId rl : node.road_links) {
        const auto& link = net.road_links[rl];
        if (link.type == core::TurnType::kStraight) straight.emplace_back(link.from_road, link.to_road);
    }
    const auto together = [&](core::RoadId a, core::RoadId b) {
        for (const core::Phase& p : node.phases) {
            bool has_a = false, has_b = false;
            for (int32_t k : p.road_links) {
                const auto& link = net.road_links[node.road_links[k]];
                has_a = has_a || (link.from_road == a && link.type == core::TurnType::kStraight);
                has_b = has_b || (link.from_road == b && link.type == core::TurnType::kStraight);
            }
            if (has_a && has_b) return true;
        }
        return false;
    };
    for (size_t i = 1; i < straight.size(); ++i) {
        if (!together(straight[0].first, straight[i].first)) return std::pair{straight[0], straight[i]};
    }
    return std::nullopt;
}

TEST(PhaseSets, ClearanceAndCoveringCycle) {
    auto s = testing::MakeGrid(1, 1, 100, 1);
    const auto& node = s.net.intersections[s.net.FindIntersection("intersection_1_1")];
    EXPECT_EQ(ClearancePhase(node), 0);
    EXPECT_EQ(ControlPhases(node, {}), (std::vector<int32_t>{1, 2, 3, 4}));
    EXPECT_EQ(CoveringCycle(node, {}), (std::vector<int32_t>{1, 2, 3, 4}));
    EXPECT_EQ(CoveringCycle(node, {2, 1}), (std::vector<int32_t>{2, 1}));
    // A CityFlow-style 8-phase layout (phases 5-8 combine movements of 1-4) reduces to phases 1-4.
    core::Intersection eight = node;
    for (int a = 1; a <= 4; ++a) {
        core::Phase p = node.phases[a];
        p.road_links.insert(
            p.road_links.end(), node.phases[a % 4 + 1].road_links.begin(), node.phases[a % 4 + 1].road_links.end());
        eight.phases.push_back(p);
    }
    EXPECT_EQ(CoveringCycle(eight, {}), (std::vector<int32_t>{1, 2, 3, 4}));
    // Phases 5-8 each hold two of phases 1-4: those are dominated, and max-pressure chooses among 5-8.
    EXPECT_EQ(ControlPhases(eight, {}), (std::vector<int32_t>{5, 6, 7, 8}));
    // Issue 13, item 21: a phase that is another's subset (or its copy) is not offered.
    core::Intersection dup = node;
    dup.phases.push_back(node.phases[2]);  // a copy of phase 2
    core::Phase part = node.phases[3];
    part.road_links.resize(1);
    dup.phases.push_back(part);  // one movement of phase 3
    EXPECT_EQ(ControlPhases(dup, {}), (std::vector<int32_t>{1, 2, 3, 4}));
    EXPECT_EQ(ControlPhases(dup, {6, 1}), (std::vector<int32_t>{6, 1}));
}

TEST(Factory, UnknownControllerAndMissingPhase) {
    auto c = MakeController("greenwave", {});
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().ToString(),
              "--controller: unknown controller 'greenwave' (own-plan, fixed, webster, sotl, maxpressure, "
              "advanced-mp, learned, predictive, auto)");
    auto s = testing::MakeGrid(1, 1, 100, 1);
    RunOptions o;
    o.controller = "fixed";
    o.control.phases = {1, 9};
    auto r = RunScenario(s.net, s.demand, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().ToString(), "--phases: phase 9 does not exist at intersection 'intersection_1_1' (it has 5)");
}

// Behaviour, not timing: on a congested grid every controller moves traffic, and the adaptive ones beat
// fixed-time on average travel time.
TEST(Controllers, AdaptiveBeatsFixedOnACongestedGrid) {
    auto s = testing::MakeGrid(3, 3, 3000, testing::TestSeed(21));
    std::map<std::string, Metrics> m;
    for (const std::string& name : ControllerNames()) {
        RunOptions o;
        o.controller = name;
        o.steps = 1500;
        auto r = RunScenario(s.net, s.demand, o);
        ASSERT_TRUE(r.ok()) << name << ": " << r.error().ToString();
        EXPECT_GT(r->metrics.throughput, 100) << name;
        m[name] = r->metrics;
    }
    EXPECT_LT(m["maxpressure"].att_s, m["fixed"].att_s);
    EXPECT_LT(m["sotl"].att_s, m["fixed"].att_s);
    EXPECT_LT(m["webster"].att_s, m["fixed"].att_s * 1.05);
    EXPECT_LT(m["advanced-mp"].att_s, m["fixed"].att_s);
    EXPECT_LT(m["learned"].att_s, m["fixed"].att_s);
    EXPECT_LT(m["predictive"].att_s, m["fixed"].att_s);
    EXPECT_DOUBLE_EQ(m["auto"].att_s, m["predictive"].att_s);  // auto is the best measured controller
}

// advanced-mp keeps a green that a platoon is still using, where max-pressure cuts it for a longer queue.
TEST(Controllers, AdvancedPressureKeepsAGreenForAMovingPlatoon) {
    auto s = testing::MakeGrid(1, 1, 100, 1);
    core::Demand demand;
    const auto& node = s.net.intersections[s.net.FindIntersection("intersection_1_1")];
    // Two streams through the crossing on different phases: one a steady platoon, one a queue built up early.
    const auto streets = CrossingStraights(s.net, node);
    ASSERT_TRUE(streets.has_value());
    const auto [a_from, a_to] = streets->first;
    const auto [b_from, b_to] = streets->second;
    core::Flow platoon;
    platoon.route = {a_from, a_to};
    platoon.interval_s = 2;
    platoon.end_s = 600;
    core::Flow queue;
    queue.route = {b_from, b_to};
    queue.interval_s = 20;
    queue.end_s = 600;
    demand.flows = {platoon, queue};
    ASSERT_TRUE(core::CheckRoutes(s.net, demand).empty());
    std::map<std::string, int64_t> switches;
    for (const char* name : {"advanced-mp", "maxpressure"}) {
        RunOptions o;
        o.controller = name;
        o.steps = 600;
        auto sim = SignalledSim::Create(s.net, demand, o).value();
        int32_t last = -1;
        for (int i = 0; i < 600; ++i) {
            sim->Step();
            const int32_t now = sim->sim().CurrentPhase(s.net.FindIntersection("intersection_1_1"));
            if (now != last) ++switches[name];
            last = now;
        }
    }
    EXPECT_LT(switches["advanced-mp"], switches["maxpressure"]);
}

// Platoons that take turns on two crossing streets: the predictive controller sees each coming and weighs what a
// switch costs (the yellow, the start-up) against what the platoon would wait; max-pressure reacts only to what
// waits, advanced-mp to what is near, each by a fixed rule.
TEST(Controllers, PredictiveGreensAPlatoonBeforeItArrives) {
    auto s = testing::MakeGrid(1, 1, 100, 1);
    const auto& node = s.net.intersections[s.net.FindIntersection("intersection_1_1")];
    const auto streets = CrossingStraights(s.net, node);
    ASSERT_TRUE(streets.has_value());
    core::Demand demand;
    // Platoons of six, one every 18 s, the streets taking turns: each arrives as the last one clears.
    for (int burst = 0; burst < 8; ++burst) {
        core::Flow f;
        const auto [from, to] = burst % 2 == 0 ? streets->first : streets->second;
        f.route = {from, to};
        f.interval_s = 2;
        f.start_s = 18.0 * burst;
        f.end_s = f.start_s + 10;
        demand.flows.push_back(f);
    }
    ASSERT_TRUE(core::CheckRoutes(s.net, demand).empty());
    std::map<std::string, Metrics> m;
    for (const char* name : {"predictive", "advanced-mp", "maxpressure"}) {
        RunOptions o;
        o.controller = name;
        o.steps = 500;
        m[name] = RunScenario(s.net, demand, o).value().metrics;
        EXPECT_EQ(m[name].throughput, 48) << name;
    }
    EXPECT_LT(m["predictive"].avg_delay_s, m["advanced-mp"].avg_delay_s);
    EXPECT_LT(m["predictive"].avg_delay_s, m["maxpressure"].avg_delay_s);
}

TEST(SignalPolicy, TheEmbeddedPolicyParsesAndAFileRoundTrips) {
    const SignalPolicy& p = EmbeddedPolicy();
    ASSERT_EQ(p.weights.size(), kPolicyFeatures.size());
    EXPECT_GT(p.interval_s, 0);
    SignalPolicy q = p;
    q.weights[3] = -0.125;
    q.trained_on = "a test";
    auto back = ParsePolicy(PolicyToJson(q), "p.json");
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    EXPECT_EQ(back->weights, q.weights);
    EXPECT_EQ(back->trained_on, "a test");
    EXPECT_DOUBLE_EQ(back->interval_s, q.interval_s);
}

TEST(SignalPolicy, BadFilesAreRefusedByField) {
    auto error = [](const std::string& text) {
        auto p = ParsePolicy(text, "p.json");
        return p.ok() ? std::string("accepted") : p.error().ToString();
    };
    std::string good = PolicyToJson(EmbeddedPolicy());
    EXPECT_EQ(error("[1, 2]"), "p.json: is not a JSON object");
    EXPECT_EQ(error("{\"format\": \"x\"}"), "p.json format: must be \"citybrain-signal-policy/1\"");
    auto with = [&](const std::string& from, const std::string& to) {
        std::string t = good;
        const size_t at = t.find(from);
        EXPECT_NE(at, std::string::npos) << from;
        return at == std::string::npos ? t : t.replace(at, from.size(), to);
    };
    EXPECT_EQ(error(with("\"queue_out\"", "\"queue_outside\"")), "p.json features[3]: must be \"queue_out\"");
    EXPECT_EQ(error(with("\"interval_s\": 5", "\"interval_s\": 0")),
              "p.json interval_s: must be a number of seconds in [1, 120]");
    SignalPolicy short_policy = EmbeddedPolicy();
    short_policy.weights.pop_back();
    EXPECT_EQ(error(PolicyToJson(short_policy)), "p.json weights: must hold one number per feature");
    SignalPolicy huge = EmbeddedPolicy();
    huge.weights[0] = 1e300;
    EXPECT_EQ(error(PolicyToJson(huge)), "p.json weights[0]: must be a finite number of at most 1e6 in size");
}

// The policy decides: turning the queue weight negative (prefer the emptiest approach) must make it worse.
TEST(Controllers, TheLearnedPolicysWeightsDecide) {
    auto s = testing::MakeGrid(2, 2, 2400, testing::TestSeed(5));
    auto run = [&](std::vector<double> w) {
        RunOptions o;
        o.controller = "learned";
        o.steps = 1200;
        SignalPolicy p;
        p.weights = std::move(w);
        o.control.policy = std::make_shared<const SignalPolicy>(p);
        auto r = RunScenario(s.net, s.demand, o);
        EXPECT_TRUE(r.ok()) << r.error().ToString();
        return r.ok() ? r->metrics.att_s : 0.0;
    };
    const double pressure = run({1, 2, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0});
    const double perverse = run({-1, -2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0});
    EXPECT_LT(pressure, perverse);
}

// Issue 18: the learned controller keeps the engine's determinism: one and two threads, the same state hash.
TEST(Controllers, TheLearnedAndPredictiveControllersGiveTheSameRunOnOneAndTwoThreads) {
    auto s = testing::MakeGrid(3, 3, 3000, testing::TestSeed(8));
    for (const char* name : {"learned", "predictive"}) {
        RunOptions o;
        o.controller = name;
        o.steps = 900;
        const auto one = RunScenario(s.net, s.demand, o);
        ASSERT_TRUE(one.ok()) << name;
        o.sim.threads = 2;
        o.sim.parallel_min_vehicles = 0;  // split even this small grid
        const auto two = RunScenario(s.net, s.demand, o);
        ASSERT_TRUE(two.ok()) << name;
        EXPECT_EQ(one->state_hash, two->state_hash) << name;
        EXPECT_GT(one->metrics.throughput, 0) << name;
    }
}

// Training is reproducible: the same seed gives the same policy on one thread and on two, and the policy's
// reported ATT is what a run with it gives.
TEST(Training, TheSameSeedGivesTheSamePolicyWhateverTheThreads) {
    auto a = testing::MakeGrid(2, 2, 2000, testing::TestSeed(3));
    auto b = testing::MakeGrid(1, 2, 1500, testing::TestSeed(4));
    std::vector<TrainScenario> scenarios;
    for (auto* s : {&a, &b}) {
        TrainScenario t;
        t.name = "grid";
        t.net = &s->net;
        t.demand = &s->demand;
        t.options.steps = 600;
        scenarios.push_back(t);
    }
    TrainOptions o;
    o.iterations = 3;
    o.pairs = 3;
    o.seed = 7;
    o.start.weights = {1, 2, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    std::vector<TrainIteration> seen;
    auto one = TrainPolicy(scenarios, o, [&](const TrainIteration& it) { seen.push_back(it); });
    ASSERT_TRUE(one.ok()) << one.error().ToString();
    o.threads = 2;
    auto two = TrainPolicy(scenarios, o);
    ASSERT_TRUE(two.ok()) << two.error().ToString();
    EXPECT_EQ(one->policy.weights, two->policy.weights);
    ASSERT_EQ(seen.size(), 4u);
    EXPECT_LE(one->policy.train_score, seen.front().center_score);
    EXPECT_NE(one->policy.weights, o.start.weights);  // it searched
    for (size_t i = 0; i < scenarios.size(); ++i) {
        RunOptions r = scenarios[i].options;
        r.controller = "learned";
        r.control.policy = std::make_shared<const SignalPolicy>(one->policy);
        auto run = RunScenario(*scenarios[i].net, *scenarios[i].demand, r);
        ASSERT_TRUE(run.ok());
        EXPECT_DOUBLE_EQ(run->metrics.att_s, one->policy_att[i]);
    }
    o.pairs = 0;
    EXPECT_EQ(TrainPolicy(scenarios, o).error().ToString(), "--pairs: must be >= 1");
}

}  // namespace
}  // namespace citybrain::traffic
