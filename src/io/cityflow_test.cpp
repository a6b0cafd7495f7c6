// SPDX-License-Identifier: Apache-2.0
#include "io/cityflow.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../../tests/test_util.hpp"

namespace citybrain::io {
namespace {

using nlohmann::json;

std::string TinyRoadnetText() { return ReadFile(testing::SourceDir() + "/tests/scenarios/tiny/roadnet.json").value(); }

// Applies `edit` to the tiny roadnet and returns the parse error text ("" if it parsed).
std::string RoadnetError(const std::function<void(json&)>& edit) {
    json doc = json::parse(TinyRoadnetText());
    edit(doc);
    auto net = ParseRoadnet(doc.dump(), "roadnet.json");
    return net.ok() ? "" : net.error().ToString();
}

TEST(Roadnet, TinyNetworkLoadsWithStringNumbers) {
    auto net = ParseRoadnet(TinyRoadnetText(), "tiny");
    ASSERT_TRUE(net.ok()) << net.error().ToString();
    EXPECT_EQ(net->intersections.size(), 5u);
    EXPECT_EQ(net->roads.size(), 4u);
    EXPECT_EQ(net->road_links.size(), 2u);
    const auto& b = net->intersections[net->FindIntersection("B")];
    ASSERT_EQ(b.phases.size(), 3u);
    EXPECT_DOUBLE_EQ(b.phases[1].duration_s, 30);  // given as the string "30"
    // 300 m road, trimmed by the 10 m box at the signalised end.
    EXPECT_NEAR(net->lanes[net->roads[net->FindRoad("w_in")].first_lane].length_m, 290, 1e-9);
    // The two straight movements cross in the box.
    ASSERT_EQ(net->lane_links[0].conflicts.size(), 1u);
    EXPECT_EQ(net->lane_links[0].conflicts[0].other, 1);
}

TEST(Roadnet, LaneLinkToMissingRoad) {
    EXPECT_EQ(RoadnetError([](json& d) { d["intersections"][4]["roadLinks"][0]["endRoad"] = "nowhere"; }),
              "roadnet.json: intersections[4].roadLinks[0].endRoad: unknown road 'nowhere'");
}

TEST(Roadnet, PhaseNamingMissingRoadLink) {
    EXPECT_EQ(RoadnetError([](json& d) {
                  d["intersections"][4]["trafficLight"]["lightphases"][2]["availableRoadLinks"] = {1, 7};
              }),
              "roadnet.json: intersections[4].trafficLight.lightphases[2].availableRoadLinks[1]: road link 7 does "
              "not exist (intersection 'B' has 2)");
}

TEST(Roadnet, NegativeLengthAndWidth) {
    EXPECT_EQ(RoadnetError([](json& d) { d["roads"][1]["lanes"][0]["width"] = -4; }),
              "roadnet.json: roads[1].lanes[0].width: must be positive (got -4)");
    EXPECT_EQ(RoadnetError([](json& d) { d["intersections"][4]["width"] = -1; }),
              "roadnet.json: intersections[4].width: must be >= 0 (got -1)");
    EXPECT_EQ(RoadnetError([](json& d) { d["roads"][0]["points"][1] = d["roads"][0]["points"][0]; }),
              "roadnet.json: roads[0].points: road length must be positive");
}

TEST(Roadnet, LaneIndexOutOfRange) {
    EXPECT_EQ(RoadnetError([](json& d) { d["intersections"][4]["roadLinks"][1]["laneLinks"][0]["endLaneIndex"] = 3; }),
              "roadnet.json: intersections[4].roadLinks[1].laneLinks[0].endLaneIndex: lane 3 does not exist on "
              "road 'n_out' (1 lanes)");
}

TEST(Roadnet, WrongTypesAndMissingFields) {
    EXPECT_EQ(RoadnetError([](json& d) { d["roads"][2]["lanes"][0]["maxSpeed"] = "fast"; }),
              "roadnet.json: roads[2].lanes[0].maxSpeed: expected a number, got the string 'fast'");
    EXPECT_EQ(RoadnetError([](json& d) { d["roads"][0].erase("startIntersection"); }),
              "roadnet.json: roads[0].startIntersection: is missing");
    EXPECT_EQ(RoadnetError([](json& d) { d["intersections"][4]["roadLinks"][0]["type"] = "u_turn"; }),
              "roadnet.json: intersections[4].roadLinks[0].type: unknown movement type 'u_turn' (go_straight, "
              "turn_left or turn_right)");
    EXPECT_EQ(RoadnetError([](json& d) { d = json::array(); }),
              "roadnet.json: expected a JSON object with 'intersections' and 'roads', got an array");
}

TEST(Roadnet, TruncatedOrNotJson) {
    const std::string text = TinyRoadnetText();
    auto truncated = ParseRoadnet(text.substr(0, text.size() / 2), "roadnet.json");
    ASSERT_FALSE(truncated.ok());
    EXPECT_EQ(truncated.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(truncated.error().ToString().find("roadnet.json: not valid JSON: parse error at line"), std::string::npos)
        << truncated.error().ToString();
    auto garbage = ParseRoadnet("intersections: none", "roadnet.json");
    ASSERT_FALSE(garbage.ok());
    EXPECT_NE(garbage.error().ToString().find("not valid JSON"), std::string::npos);
    // Found by the flow fuzzer: a number too large for a double is an error, not an uncaught exception.
    auto huge = ParseFlows("12e9999999999999", testing::LoadTinyNet(), "flow.json");
    ASSERT_FALSE(huge.ok());
    EXPECT_NE(huge.error().ToString().find("flow.json: not valid JSON"), std::string::npos) << huge.error().ToString();
    auto missing = LoadRoadnet("/nonexistent/roadnet.json");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().ToString(), "/nonexistent/roadnet.json: cannot open file");
}

TEST(Flow, TinyFlowsLoad) {
    auto net = testing::LoadTinyNet();
    auto demand = LoadFlows(testing::SourceDir() + "/tests/scenarios/tiny/flow.json", net);
    ASSERT_TRUE(demand.ok()) << demand.error().ToString();
    ASSERT_EQ(demand->flows.size(), 2u);
    EXPECT_DOUBLE_EQ(demand->flows[1].interval_s, 6);
    EXPECT_DOUBLE_EQ(demand->flows[0].vehicle.headway_s, 2);
    EXPECT_TRUE(core::CheckRoutes(net, *demand).empty());
}

TEST(Flow, ErrorsNameThePath) {
    auto net = testing::LoadTinyNet();
    auto parse = [&](const std::string& text) {
        auto d = ParseFlows(text, net, "flow.json");
        return d.ok() ? std::string() : d.error().ToString();
    };
    const std::string veh =
        R"({"length":5,"width":2,"maxPosAcc":2,"maxNegAcc":4.5,"usualPosAcc":2,"usualNegAcc":4.5,"minGap":2.5,"maxSpeed":11,"headwayTime":2})";
    EXPECT_EQ(parse("[{\"vehicle\":" + veh + ",\"route\":[\"w_in\",\"ghost\"],\"interval\":1}]"),
              "flow.json: flows[0].route[1]: unknown road 'ghost'");
    EXPECT_EQ(parse("[{\"vehicle\":" + veh + ",\"route\":[\"w_in\"],\"interval\":0}]"),
              "flow.json: flows[0].interval: must be positive (got 0)");
    EXPECT_EQ(parse("[{\"vehicle\":{},\"route\":[\"w_in\"],\"interval\":1}]"),
              "flow.json: flows[0].vehicle.length: is missing");
    EXPECT_EQ(parse("{}"), "flow.json: expected a JSON array of flows, got an object");
    // Unconnected route: parses, and CheckRoutes reports it.
    auto d = ParseFlows("[{\"vehicle\":" + veh + ",\"route\":[\"w_in\",\"n_out\"],\"interval\":1}]", net, "flow.json");
    ASSERT_TRUE(d.ok());
    auto problems = core::CheckRoutes(net, *d);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].message, "road 'w_in' does not connect to 'n_out'");
}

// Issue 13, items 19 and 20: what real exports carry is loaded as CityFlow loads it, and counted.
TEST(Flow, ClampsUsualDecelerationAndDropsSingleRoadRoutes) {
    auto net = testing::LoadTinyNet();
    const std::string ok =
        R"({"length":5,"width":2,"maxPosAcc":2,"maxNegAcc":4.5,"usualPosAcc":2,"usualNegAcc":4.5,"minGap":2.5,"maxSpeed":11,"headwayTime":2})";
    const std::string harsh =
        R"({"length":5,"width":2,"maxPosAcc":2,"maxNegAcc":4.5,"usualPosAcc":2,"usualNegAcc":6,"minGap":2.5,"maxSpeed":11,"headwayTime":2})";
    auto d = ParseFlows("[{\"vehicle\":" + harsh + ",\"route\":[\"w_in\",\"e_out\"],\"interval\":5}," +
                            "{\"vehicle\":" + ok + ",\"route\":[\"w_in\"],\"interval\":5}," + "{\"vehicle\":" + ok +
                            ",\"route\":[\"s_in\",\"n_out\"],\"interval\":5}]",
                        net,
                        "flow.json");
    ASSERT_TRUE(d.ok()) << d.error().ToString();
    EXPECT_EQ(d->usual_neg_acc_clamped, 1u);
    EXPECT_DOUBLE_EQ(d->flows[0].vehicle.usual_neg_acc, 4.5);
    EXPECT_EQ(d->single_road_dropped, 1u);
    ASSERT_EQ(d->flows.size(), 2u);
    EXPECT_EQ(d->flows[1].id, "flow_2");  // ids keep the file's positions
    EXPECT_TRUE(core::CheckRoutes(net, *d).empty());
}

TEST(Writer, GeneratedGridRoundTrips) {
    core::GridSpec spec;
    spec.rows = 2;
    spec.cols = 3;
    auto net = core::GenerateGrid(spec).value();
    traffic::DemandSpec ds;
    ds.vehicles_per_hour = 500;
    auto demand = traffic::GenerateDemand(net, ds).value();
    auto back = ParseRoadnet(WriteRoadnet(net), "generated");
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    EXPECT_EQ(back->lanes.size(), net.lanes.size());
    EXPECT_EQ(back->lane_links.size(), net.lane_links.size());
    EXPECT_EQ(back->intersections[7].phases.size(), net.intersections[7].phases.size());
    auto flows = ParseFlows(WriteFlows(net, demand), *back, "generated");
    ASSERT_TRUE(flows.ok()) << flows.error().ToString();
    EXPECT_EQ(flows->flows.size(), demand.flows.size());
    EXPECT_TRUE(core::CheckRoutes(*back, *flows).empty());
}

}  // namespace
}  // namespace citybrain::io
