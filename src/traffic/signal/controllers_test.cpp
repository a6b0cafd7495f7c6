// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <map>

#include "../../../tests/test_util.hpp"
#include "traffic/run.hpp"
#include "traffic/signal/controller.hpp"

namespace citybrain::traffic {
namespace {

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
              "--controller: unknown controller 'greenwave' (own-plan, fixed, webster, sotl, maxpressure)");
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
}

}  // namespace
}  // namespace citybrain::traffic
