// SPDX-License-Identifier: Apache-2.0
#include "io/cbengine.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../../tests/test_util.hpp"
#include "traffic/run.hpp"

namespace citybrain::io {
namespace {

// The format documentation's 1x1 example: one signalised crossing, four dead ends, 3 lanes (left, through,
// right) each way, and 12 flows of two roads.
constexpr const char* kRoadnet1x1 = R"(5 // intersection data
30 120 0 1
31 120 1 0
30 121 2 0
29 120 3 0
30 119 4 0
4 // road data
0 1 30 20 3 3 1 2
1 0 0 0 1 0 0 0 1
1 0 0 0 1 0 0 0 1
0 2 30 20 3 3 3 4
1 0 0 0 1 0 0 0 1
1 0 0 0 1 0 0 0 1
0 3 30 20 3 3 5 6
1 0 0 0 1 0 0 0 1
1 0 0 0 1 0 0 0 1
0 4 30 20 3 3 7 8
1 0 0 0 1 0 0 0 1
1 0 0 0 1 0 0 0 1
1 // traffic signal data
0 1 3 5 7
)";

std::string Flows1x1(int interval) {
    std::string out = "12\n";
    for (const char* route : {"2 3", "2 5", "2 7", "4 5", "4 7", "4 1", "6 7", "6 1", "6 3", "8 1", "8 3", "8 5"}) {
        out += "0 100 " + std::to_string(interval) + "\n2\n" + route + "\n";
    }
    return out;
}

const core::RoadLink& LinkBetween(const core::RoadNetwork& net, const std::string& from, const std::string& to) {
    for (const auto& link : net.road_links) {
        if (net.roads[link.from_road].id == from && net.roads[link.to_road].id == to) return link;
    }
    ADD_FAILURE() << "no movement " << from << " -> " << to;
    return net.road_links.front();
}

TEST(Cbengine, OneByOneBecomesEightPhasesAndTurnsFromTheSlots) {
    CbengineImportNotes notes;
    auto net = ParseCbengineRoadnet(kRoadnet1x1, "1x1", &notes);
    ASSERT_TRUE(net.ok()) << net.error().ToString();
    EXPECT_EQ(net->roads.size(), 8u);
    EXPECT_EQ(notes.signalised, 1);
    EXPECT_EQ(notes.boundary, 4);
    EXPECT_EQ(notes.geometric_turns, 0);
    const auto& centre = net->intersections[net->FindIntersection("0")];
    ASSERT_EQ(centre.phases.size(), 8u);
    ASSERT_EQ(centre.road_links.size(), 12u);  // 4 approaches x (left, through, right); no U-turns
    // Road 2 arrives from the north (1 -> 0): left is east (road 3), through is south (5), right is west (7).
    EXPECT_EQ(LinkBetween(*net, "2", "3").type, core::TurnType::kLeft);
    EXPECT_EQ(LinkBetween(*net, "2", "5").type, core::TurnType::kStraight);
    EXPECT_EQ(LinkBetween(*net, "2", "7").type, core::TurnType::kRight);
    // The left turn leaves from the inner lane only, to each of the three lanes of road 3.
    const auto& left = LinkBetween(*net, "2", "3");
    ASSERT_EQ(left.lane_links.size(), 3u);
    for (auto ll : left.lane_links) EXPECT_EQ(net->lanes[net->lane_links[ll].from_lane].index_in_road, 0);
    // Lanes keep the file's 30 m (the lat/lon are a degree apart: the drawing is schematic).
    EXPECT_DOUBLE_EQ(net->lanes[net->roads[net->FindRoad("2")].first_lane].length_m, 30);
    EXPECT_DOUBLE_EQ(net->lanes[0].max_speed_mps, 20);
    // Phase 1 (index 0): north and south lefts, plus every right turn.
    auto permits = [&](int phase, const std::string& from, const std::string& to) {
        const auto& link = LinkBetween(*net, from, to);
        const auto& p = centre.phases[phase].road_links;
        return std::find(p.begin(), p.end(), link.index_in_intersection) != p.end();
    };
    EXPECT_TRUE(permits(0, "2", "3"));   // north left
    EXPECT_TRUE(permits(0, "6", "7"));   // south left
    EXPECT_FALSE(permits(0, "2", "5"));  // north through
    EXPECT_TRUE(permits(0, "4", "1"));   // east right
    EXPECT_EQ(centre.phases[0].road_links.size(), 6u);
    // Phase 5 (index 4): north left and through.
    EXPECT_TRUE(permits(4, "2", "3"));
    EXPECT_TRUE(permits(4, "2", "5"));
    EXPECT_FALSE(permits(4, "6", "7"));
}

TEST(Cbengine, FlowsReleaseInclusiveOfTheEndAndRunUnderEveryController) {
    auto net = ParseCbengineRoadnet(kRoadnet1x1, "1x1").value();
    auto demand = ParseCbengineFlows(Flows1x1(10), net, "flow");
    ASSERT_TRUE(demand.ok()) << demand.error().ToString();
    ASSERT_EQ(demand->flows.size(), 12u);
    EXPECT_TRUE(core::CheckRoutes(net, *demand).empty());
    EXPECT_DOUBLE_EQ(demand->flows[0].vehicle.max_speed_mps, 20);
    for (const char* controller : {"fixed", "maxpressure", "sotl"}) {
        traffic::RunOptions o;
        o.controller = controller;
        o.steps = 600;
        o.yellow_s = 0;
        o.sim.all_red_s = 5;
        auto r = traffic::RunScenario(net, *demand, o);
        ASSERT_TRUE(r.ok()) << controller << ": " << r.error().ToString();
        EXPECT_EQ(r->metrics.spawned, 12 * 11) << controller;  // 0, 10, ..., 100
        EXPECT_EQ(r->metrics.throughput, 12 * 11) << controller;
    }
}

std::string Error(std::string_view roadnet) {
    auto net = ParseCbengineRoadnet(roadnet, "r.txt");
    return net.ok() ? "" : net.error().ToString();
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
}

TEST(Cbengine, ErrorsNameTheLineAndField) {
    const std::string base = kRoadnet1x1;
    EXPECT_NE(Error(Replace(base, "0 1 30 20", "0 9 30 20")).find("r.txt:8 to_inter_id"), std::string::npos)
        << Error(Replace(base, "0 1 30 20", "0 9 30 20"));
    EXPECT_NE(Error(Replace(base, "0 1 30 20", "0 1 -3 20")).find("length"), std::string::npos);
    EXPECT_NE(Error(Replace(base, "0 2 30 20 3 3", "0 2 30 20 3 x")).find("dir2_num_lane"), std::string::npos);
    EXPECT_NE(Error(Replace(base, "0 1 3 5 7", "0 1 3 5 99")).find("approach4_id (west)"), std::string::npos);
    EXPECT_NE(Error(Replace(base, "0 1 3 5 7", "0 1 3 5")).find("the file ends early"), std::string::npos);
    EXPECT_NE(Error(Replace(base, "3 4\n1 0 0", "1 4\n1 0 0")).find("duplicate road id '1'"), std::string::npos);
    EXPECT_NE(Error(base + "7\n").find("unexpected text"), std::string::npos);
    EXPECT_NE(Error(Replace(base, "30 121 2 0", "30 120 2 0")).find("same position"), std::string::npos);

    auto net = ParseCbengineRoadnet(kRoadnet1x1, "1x1").value();
    auto flow_error = [&](const std::string& text) {
        auto d = ParseCbengineFlows(text, net, "f.txt");
        return d.ok() ? "" : d.error().ToString();
    };
    EXPECT_NE(flow_error("1\n0 100 5\n2\n2 99\n").find("unknown road '99'"), std::string::npos);
    EXPECT_NE(flow_error("1\n0 100 0\n2\n2 3\n").find("vehicle_interval"), std::string::npos);
    EXPECT_NE(flow_error("1\n50 10 5\n2\n2 3\n").find("end_time"), std::string::npos);
    EXPECT_NE(flow_error("2\n0 100 5\n2\n2 3\n").find("f.txt:5 start_time"), std::string::npos);
}

TEST(Cbengine, ConfigFindsTheFilesBesideIt) {
    const auto dir = std::filesystem::temp_directory_path() / ("cb_cfg_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "roadnet.txt") << kRoadnet1x1;
    std::ofstream(dir / "flow.txt") << Flows1x1(10);
    std::ofstream(dir / "sim.cfg") << "# starter kit\nstart_time_epoch = 0\nmax_time_epoch = 1200\n"
                                   << "road_file_addr : /starter-kit/data/roadnet.txt\n"
                                   << "vehicle_file_addr : /starter-kit/data/flow.txt\nreport_log_rate = 10\n";
    auto cfg = LoadCbengineConfig((dir / "sim.cfg").string());
    ASSERT_TRUE(cfg.ok()) << cfg.error().ToString();
    EXPECT_EQ(cfg->roadnet_path, (dir / "roadnet.txt").string());
    EXPECT_EQ(cfg->end_s, 1200);
    std::ofstream(dir / "bad.cfg") << "road_file_addr : /nowhere/r.txt\n";
    auto bad = LoadCbengineConfig((dir / "bad.cfg").string());
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().ToString().find("road_file_addr"), std::string::npos);
    std::filesystem::remove_all(dir);
}

// The challenge's networks in ../shared/data; skipped when absent.
TEST(CbengineData, ChallengeNetworksLoadWithEveryRouteDrivable) {
    const std::string dir = testing::DataDir() + "/traffic/cbengine_kddcup2021/";
    if (!std::filesystem::exists(dir + "roadnet_round2.txt")) GTEST_SKIP() << "dataset missing: " << dir;
    for (const auto& [roadnet, flow, nodes, vehicles] :
         {std::tuple{"roadnet_warm_up.txt", "flow_warm_up_1000.txt", 0, 0},
          std::tuple{"roadnet_round2.txt", "flow_round2.txt", 2048, 126669}}) {
        CbengineImportNotes notes;
        auto net = LoadCbengineRoadnet(dir + roadnet, &notes);
        ASSERT_TRUE(net.ok()) << net.error().ToString();
        auto demand = LoadCbengineFlows(dir + flow, *net);
        ASSERT_TRUE(demand.ok()) << demand.error().ToString();
        const auto problems = core::CheckRoutes(*net, *demand);
        EXPECT_TRUE(problems.empty()) << roadnet << ": " << core::DescribeRouteProblems(*net, *demand, problems);
        if (nodes > 0) {
            EXPECT_EQ(static_cast<int>(net->intersections.size()), nodes);
            EXPECT_EQ(notes.signalised, 859);
            int64_t released = 0;
            for (const auto& f : demand->flows) {
                released += static_cast<int64_t>(std::floor((f.end_s - f.start_s) / f.interval_s + 1e-9)) + 1;
            }
            EXPECT_EQ(demand->single_road_dropped, 0u);
            EXPECT_EQ(released, vehicles);
        }
    }
}

}  // namespace
}  // namespace citybrain::io
