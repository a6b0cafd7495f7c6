// SPDX-License-Identifier: Apache-2.0
#include "io/sumo.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "../../tests/test_util.hpp"
#include "io/cityflow.hpp"
#include "traffic/run.hpp"

namespace citybrain::io {
namespace {

// A T: W -> C -> E straight and C -> N left, under a light at C; "in" has a sidewalk (SUMO index 0) and two car
// lanes; a U-turn back to W that the engine does not model.
constexpr const char* kNet = R"(<?xml version="1.0" encoding="UTF-8"?>
<net version="1.9">
    <edge id=":C_0" function="internal">
        <lane id=":C_0_0" index="0" speed="10" length="5" shape="95,0 105,0"/>
    </edge>
    <edge id="in" from="W" to="C" priority="1">
        <lane id="in_0" index="0" allow="pedestrian" speed="3" length="95" shape="0,-6 95,-6"/>
        <lane id="in_1" index="1" speed="13.9" length="95" shape="0,-4.8 95,-4.8"/>
        <lane id="in_2" index="2" speed="13.9" length="95" shape="0,-1.6 95,-1.6"/>
    </edge>
    <edge id="out" from="C" to="E" priority="1">
        <lane id="out_0" index="0" speed="13.9" length="95" shape="105,-1.6 200,-1.6"/>
    </edge>
    <edge id="up" from="C" to="N" priority="1">
        <lane id="up_0" index="0" speed="8" length="95" shape="101.6,5 101.6,100"/>
    </edge>
    <edge id="back" from="C" to="W" priority="1">
        <lane id="back_0" index="0" speed="13.9" length="95" shape="95,1.6 0,1.6"/>
    </edge>
    <tlLogic id="C" type="static" programID="0" offset="0">
        <phase duration="30" state="GGrr"/>
        <phase duration="3" state="yyrr"/>
        <phase duration="20" state="rrGr"/>
    </tlLogic>
    <junction id="W" type="dead_end" x="0" y="0"/>
    <junction id="C" type="traffic_light" x="100" y="0"/>
    <junction id="E" type="dead_end" x="200" y="0"/>
    <junction id="N" type="dead_end" x="100" y="100"/>
    <junction id=":C_0_0" type="internal" x="100" y="0"/>
    <connection from="in" to="out" fromLane="1" toLane="0" via=":C_0_0" tl="C" linkIndex="0" dir="s" state="O"/>
    <connection from="in" to="out" fromLane="2" toLane="0" tl="C" linkIndex="1" dir="s" state="O"/>
    <connection from="in" to="up" fromLane="2" toLane="0" tl="C" linkIndex="2" dir="l" state="O"/>
    <connection from="in" to="back" fromLane="2" toLane="0" tl="C" linkIndex="3" dir="t" state="O"/>
    <connection from=":C_0" to="out" fromLane="0" toLane="0" dir="s" state="M"/>
</net>
)";

constexpr const char* kRoutes = R"(<routes>
    <vType id="car" accel="2" decel="4.5" length="5" maxSpeed="13.9" tau="1.5"/>
    <route id="r1" edges="in out"/>
    <vehicle id="v0" type="car" depart="0" route="r1"/>
    <trip id="t0" depart="5" from="in" to="up"/>
    <flow id="f0" begin="0" end="100" period="10" route="r1"/>
    <flow id="f1" begin="0" end="50" number="5" from="in" to="out"/>
</routes>
)";

TEST(Sumo, NetLanesMirrorAndPhasesFollowTheProgram) {
    SumoImportNotes notes;
    auto net = ParseSumoNet(kNet, "t.net.xml", &notes);
    ASSERT_TRUE(net.ok()) << net.error().ToString();
    EXPECT_EQ(notes.u_turns_skipped, 1);
    EXPECT_EQ(notes.lanes_skipped, 1);
    EXPECT_EQ(notes.edges_skipped, 1);
    EXPECT_EQ(notes.signalised, 1);
    EXPECT_EQ(notes.boundary, 3);
    const auto& in = net->roads[net->FindRoad("in")];
    ASSERT_EQ(in.num_lanes, 2);
    EXPECT_DOUBLE_EQ(net->lanes[in.first_lane].length_m, 95);
    const auto& c = net->intersections[net->FindIntersection("C")];
    ASSERT_EQ(c.road_links.size(), 2u);  // straight (two lane links) and left; the U-turn is left out
    const auto& straight = net->road_links[c.road_links[0]];
    const auto& left = net->road_links[c.road_links[1]];
    EXPECT_EQ(straight.type, core::TurnType::kStraight);
    EXPECT_EQ(straight.lane_links.size(), 2u);
    EXPECT_EQ(left.type, core::TurnType::kLeft);
    // SUMO's lane 2 (leftmost) is the engine's lane 0 (innermost): the left turn leaves from it.
    ASSERT_EQ(left.lane_links.size(), 1u);
    EXPECT_EQ(net->lanes[net->lane_links[left.lane_links[0]].from_lane].index_in_road, 0);
    ASSERT_EQ(c.phases.size(), 3u);
    EXPECT_EQ(c.phases[0].road_links, std::vector<int32_t>{0});
    EXPECT_TRUE(c.phases[1].road_links.empty());  // yellow stops the movement
    EXPECT_EQ(c.phases[2].road_links, std::vector<int32_t>{1});
    EXPECT_DOUBLE_EQ(c.phases[2].duration_s, 20);
}

TEST(Sumo, RoutesTripsAndFlowsBecomeDemandThatRuns) {
    auto net = ParseSumoNet(kNet, "t.net.xml").value();
    auto demand = ParseSumoRoutes(kRoutes, net, "t.rou.xml");
    ASSERT_TRUE(demand.ok()) << demand.error().ToString();
    ASSERT_EQ(demand->flows.size(), 4u);
    EXPECT_DOUBLE_EQ(demand->flows[0].vehicle.headway_s, 1.5);
    EXPECT_DOUBLE_EQ(demand->flows[0].vehicle.max_speed_mps, 13.9);
    // The trip is routed: in -> up.
    EXPECT_EQ(demand->flows[1].route, (std::vector<core::RoadId>{net.FindRoad("in"), net.FindRoad("up")}));
    EXPECT_DOUBLE_EQ(demand->flows[3].interval_s, 10);
    EXPECT_TRUE(core::CheckRoutes(net, *demand).empty());
    traffic::RunOptions o;
    o.controller = "own-plan";
    o.yellow_s = 0;
    o.steps = 400;
    auto r = traffic::RunScenario(net, *demand, o);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->metrics.spawned, 1 + 1 + 10 + 5);  // f0: 0..90 (SUMO's end is exclusive); f1: 0..40
    EXPECT_EQ(r->metrics.throughput, r->metrics.spawned);
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
}

std::string NetError(const std::string& text) {
    auto net = ParseSumoNet(text, "t.net.xml");
    return net.ok() ? "" : net.error().ToString();
}

TEST(Sumo, ErrorsNameTheLineElementAndAttribute) {
    const std::string net = kNet;
    EXPECT_NE(NetError(Replace(net, R"(from="W" to="C")", R"(from="W" to="Q")")).find("t.net.xml:6 <edge id='in'>@to"),
              std::string::npos)
        << NetError(Replace(net, R"(from="W" to="C")", R"(from="W" to="Q")"));
    EXPECT_NE(NetError(Replace(net, R"(length="95" shape="105)", R"(length="x" shape="105)")).find("@length"),
              std::string::npos);
    // A lane longer than any road (found by traffic_import_fuzz: 9e42 m reached the simulator).
    EXPECT_NE(NetError(Replace(net, R"(length="95" shape="105)", R"(length="9e42" shape="105)"))
                  .find("@length: must be at most 1,000 km"),
              std::string::npos)
        << NetError(Replace(net, R"(length="95" shape="105)", R"(length="9e42" shape="105)"));
    EXPECT_NE(NetError(Replace(net, R"(linkIndex="2")", R"(linkIndex="9")")).find("linkIndex 9"), std::string::npos);
    EXPECT_NE(NetError(Replace(net, R"(dir="l")", R"(dir="q")")).find("unknown direction 'q'"), std::string::npos);
    EXPECT_NE(NetError(Replace(net, "</net>", "")).find("malformed XML"), std::string::npos);
    EXPECT_NE(NetError("<routes/>").find("not a SUMO .net.xml"), std::string::npos);

    auto parsed = ParseSumoNet(kNet, "t.net.xml").value();
    auto route_error = [&](const std::string& text) {
        auto d = ParseSumoRoutes(text, parsed, "r.xml");
        return d.ok() ? "" : d.error().ToString();
    };
    EXPECT_NE(route_error(R"(<routes><vehicle id="a" depart="0"><route edges="in nowhere"/></vehicle></routes>)")
                  .find("unknown edge 'nowhere'"),
              std::string::npos);
    EXPECT_NE(route_error(R"(<routes><trip id="a" depart="0" from="up" to="in"/></routes>)").find("no path"),
              std::string::npos);
    EXPECT_NE(route_error(R"(<routes><vehicle id="a" depart="triggered" route="x"/></routes>)").find("triggered"),
              std::string::npos);
    EXPECT_NE(route_error(R"(<routes><flow id="a" begin="0" end="9" probability="0.1" from="in" to="out"/></routes>)")
                  .find("random flows"),
              std::string::npos);
    EXPECT_NE(
        route_error(R"(<routes><vehicle id="a" depart="0" type="bus" route="x"/></routes>)").find("unknown vType"),
        std::string::npos);
}

// The Hangzhou 4x4 SUMO twin against its CityFlow original (issue 18: ATT within 10 %).
TEST(SumoData, HangzhouTwinMatchesTheCityflowVersion) {
    const std::string dir = testing::DataDir() + "/traffic/hangzhou_4x4/";
    const std::string stem = dir + "sumo_libsignal/hangzhou_4x4_gudang_18041610_1h";
    if (!std::filesystem::exists(stem + ".net.xml")) GTEST_SKIP() << "dataset missing: " << stem;
    auto snet = LoadSumoNet(stem + ".net.xml");
    ASSERT_TRUE(snet.ok()) << snet.error().ToString();
    auto sdemand = LoadSumoRoutes(stem + ".rou.xml", *snet);
    ASSERT_TRUE(sdemand.ok()) << sdemand.error().ToString();
    EXPECT_TRUE(core::CheckRoutes(*snet, *sdemand).empty());
    auto cnet = LoadRoadnet(dir + "roadnet_4_4.json").value();
    auto cdemand = LoadFlows(dir + "anon_4_4_hangzhou_real.json", cnet).value();
    EXPECT_EQ(sdemand->flows.size(), cdemand.flows.size());
    EXPECT_EQ(snet->NumSignalised(), cnet.NumSignalised());
    for (const char* controller : {"fixed", "maxpressure"}) {
        traffic::RunOptions o;
        o.controller = controller;
        const auto s = traffic::RunScenario(*snet, *sdemand, o).value();
        const auto c = traffic::RunScenario(cnet, cdemand, o).value();
        EXPECT_NEAR(s.metrics.att_s / c.metrics.att_s, 1.0, 0.10)
            << controller << ": SUMO twin " << s.metrics.att_s << " s, CityFlow " << c.metrics.att_s << " s";
    }
}

}  // namespace
}  // namespace citybrain::io
