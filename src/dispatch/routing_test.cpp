// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "../../tests/test_util.hpp"
#include "core/network_generator.hpp"
#include "dispatch/contraction.hpp"

namespace citybrain::dispatch {
namespace {

RoadGraph GraphOf(const core::RoadNetwork& net) {
    auto g = RoadGraph::FromRoadNetwork(net);
    EXPECT_TRUE(g.ok()) << g.error().ToString();
    return std::move(g).value();
}

/// CH must equal Dijkstra on every query, reachable or not.
void ExpectChEqualsDijkstra(const RoadGraph& g, int queries, uint64_t seed) {
    const auto ch = ContractionHierarchy::Build(g);
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<NodeId> pick(0, static_cast<NodeId>(g.nodes() - 1));
    int checked = 0, unreachable = 0;
    for (int q = 0; q < queries; ++q) {
        const NodeId s = pick(rng), t = pick(rng);
        const auto ref = ShortestPath(g, s, t);
        const TimeMs got = ch.Query(s, t);
        if (!ref) {
            EXPECT_EQ(got, kUnreachable) << g.node_names[s] << " -> " << g.node_names[t];
            ++unreachable;
        } else {
            ASSERT_EQ(got, ref->time_ms) << g.node_names[s] << " -> " << g.node_names[t];
        }
        ++checked;
    }
    // One-to-many agrees with one-to-all Dijkstra.
    const NodeId s = pick(rng);
    std::vector<NodeId> targets;
    for (int k = 0; k < 50; ++k) targets.push_back(pick(rng));
    const auto all = OneToAll(g, s);
    const auto many = ch.OneToMany(s, targets);
    for (size_t k = 0; k < targets.size(); ++k) EXPECT_EQ(many[k], all[targets[k]]);
    // A bucket table over the same targets gives the same rows, from this source and from others.
    const auto table = ch.BuildTable(targets);
    for (NodeId src : {s, pick(rng), pick(rng)}) {
        const auto row = table.Row(src);
        const auto ref = OneToAll(g, src);
        for (size_t k = 0; k < targets.size(); ++k) ASSERT_EQ(row[k], ref[targets[k]]) << "target " << k;
    }
    EXPECT_EQ(checked, queries);
    EXPECT_LT(unreachable, queries);  // the test means something only if most pairs connect
}

TEST(Routing, HandMadeJunctionKnownPath) {
    const auto net = testing::LoadTinyNet();
    const RoadGraph g = GraphOf(net);
    ASSERT_GT(g.edges(), 0u);
    auto from = g.Find(g.node_names.front());
    ASSERT_TRUE(from.ok());
    EXPECT_FALSE(g.Find("nowhere").ok());
    EXPECT_EQ(g.Find("nowhere").error().ToString(), "node: unknown node 'nowhere'");
    // Every edge alone is a shortest path at most as long as itself.
    for (NodeId v = 0; v < g.nodes(); ++v) {
        for (uint32_t e = g.first_out[v]; e < g.first_out[v + 1]; ++e) {
            const auto p = ShortestPath(g, v, g.head[e]);
            ASSERT_TRUE(p.has_value());
            EXPECT_LE(p->time_ms, g.time_ms[e]);
            EXPECT_EQ(p->nodes.front(), v);
            EXPECT_EQ(p->nodes.back(), g.head[e]);
        }
    }
}

TEST(Routing, PathLengthAndTimeAddUpAlongTheNodes) {
    const auto grid = testing::MakeGrid(6, 6, 0, 1, 3);
    const RoadGraph g = GraphOf(grid.net);
    const auto p = ShortestPath(g, 0, static_cast<NodeId>(g.nodes() - 1));
    ASSERT_TRUE(p.has_value());
    TimeMs t = 0;
    double len = 0;
    for (size_t i = 0; i + 1 < p->nodes.size(); ++i) {
        TimeMs best = kUnreachable;
        double best_len = 0;
        for (uint32_t e = g.first_out[p->nodes[i]]; e < g.first_out[p->nodes[i] + 1]; ++e) {
            if (g.head[e] == p->nodes[i + 1] && g.time_ms[e] < best) {
                best = g.time_ms[e];
                best_len = g.length_m[e];
            }
        }
        ASSERT_NE(best, kUnreachable) << "consecutive path nodes are not joined by an edge";
        t += best;
        len += best_len;
    }
    EXPECT_EQ(t, p->time_ms);
    EXPECT_NEAR(len, p->length_m, 1e-3);
}

TEST(Routing, ChEqualsDijkstraOnGeneratedGrids) {
    for (int size : {3, 8, 20}) {
        const auto grid = testing::MakeGrid(size, size, 0, 7, 3);
        ExpectChEqualsDijkstra(GraphOf(grid.net), 2000, testing::TestSeed(11 + static_cast<uint64_t>(size)));
    }
}

TEST(Routing, ChEqualsDijkstraOnDatasetNetworks) {
    int found = 0;
    for (const char* rel : {"traffic/jinan_3x4/roadnet_3_4.json",
                            "traffic/hangzhou_4x4/roadnet_4_4.json",
                            "traffic/shenzhen_fuhua/roadnet_1_33.json"}) {
        const std::string path = testing::DataDir() + "/" + rel;
        if (!std::filesystem::exists(path)) continue;
        auto net = io::LoadRoadnet(path);
        ASSERT_TRUE(net.ok()) << net.error().ToString();
        ++found;
        ExpectChEqualsDijkstra(GraphOf(*net), 2000, testing::TestSeed(5));
    }
    if (found == 0) GTEST_SKIP() << "no traffic roadnets under " << testing::DataDir();
}

TEST(Routing, FutianSumoPlainLoadsAndChEqualsDijkstra) {
    const std::string path = testing::DataDir() + "/dispatch/shenzhen_futian/FuTian.edg.xml";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing " << path;
    auto g = LoadSumoPlain(path);
    ASSERT_TRUE(g.ok()) << g.error().ToString();
    EXPECT_EQ(g->nodes(), 1745u);
    EXPECT_GT(g->edges(), 2000u);  // of 3,216 edges, those closed to cars (footways, cycleways, …) are left out
    EXPECT_LT(g->edges(), 3216u);
    // Lon/lat were projected to metres: Futian spans some 10 km east to west.
    double min_x = 1e18, max_x = -1e18;
    for (const auto& p : g->node_xy) {
        min_x = std::min(min_x, p.x);
        max_x = std::max(max_x, p.x);
    }
    EXPECT_GT(max_x - min_x, 5'000);
    EXPECT_LT(max_x - min_x, 50'000);
    ExpectChEqualsDijkstra(*g, 3000, testing::TestSeed(17));
}

TEST(Routing, LiveRoadSpeedsChangeTravelTimesAndRoutes) {
    core::GridSpec spec;
    spec.rows = 6;
    spec.cols = 6;
    RoadGraph g = GraphOf(core::GenerateGrid(spec).value());
    const NodeId from = 0, to = static_cast<NodeId>(g.nodes() - 1);
    const auto before = ShortestPath(g, from, to).value();
    // A jam on a road midway along the fastest route: 1 m/s there.
    const size_t k = before.nodes.size() / 2;
    uint32_t jammed_road = 0;
    for (uint32_t e = g.first_out[before.nodes[k]]; e < g.first_out[before.nodes[k] + 1]; ++e) {
        if (g.head[e] == before.nodes[k + 1]) jammed_road = static_cast<uint32_t>(g.road[e]);
    }
    std::vector<double> speeds(jammed_road + 1, std::nan(""));
    speeds[jammed_road] = 1.0;
    EXPECT_GE(g.UpdateRoadSpeeds(speeds), 1u);
    const auto after = ShortestPath(g, from, to).value();
    // The grid has detours of equal length: the route goes round the jam at no extra time.
    EXPECT_GE(after.time_ms, before.time_ms);
    for (size_t i = 0; i + 1 < after.nodes.size(); ++i) {
        EXPECT_FALSE(after.nodes[i] == before.nodes[k] && after.nodes[i + 1] == before.nodes[k + 1]) << "jam used";
    }
    // The jammed edge itself now takes its length at 1 m/s.
    for (uint32_t e = 0; e < g.edges(); ++e) {
        if (g.road[e] == static_cast<int32_t>(jammed_road)) {
            EXPECT_EQ(g.time_ms[e], static_cast<uint32_t>(std::ceil(static_cast<double>(g.length_m[e]) * 1000.0)));
        }
    }
    // A rebuilt hierarchy follows the new times.
    ExpectChEqualsDijkstra(g, 500, testing::TestSeed(29));
    EXPECT_EQ(g.UpdateRoadSpeeds(speeds), 0u) << "nothing changes twice";
}

TEST(Routing, FutianNetXmlLoadsAndChEqualsDijkstra) {
    const std::string path = testing::DataDir() + "/dispatch/shenzhen_futian/FuTian.regenerated.net.xml";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing " << path;
    auto g = LoadRoadGraph(path);
    ASSERT_TRUE(g.ok()) << g.error().ToString();
    EXPECT_GT(g->nodes(), 1000u);
    EXPECT_GT(g->edges(), 2000u);
    ExpectChEqualsDijkstra(*g, 2000, testing::TestSeed(19));
}

TEST(Routing, OsmPbfLoadsAndChEqualsDijkstra) {
    int found = 0;
    for (const char* rel :
         {"/dispatch/osm_monaco/monaco.osm.pbf", "/dispatch/shenzhen_futian/futian_derived.osm.pbf"}) {
        const std::string path = testing::DataDir() + rel;
        if (!std::filesystem::exists(path)) continue;
        ++found;
        auto g = LoadRoadGraph(path);
        ASSERT_TRUE(g.ok()) << g.error().ToString();
        EXPECT_GT(g->nodes(), 1000u) << path;
        // Monaco is about 2 km across, Futian 10 km: metres, not degrees.
        double min_x = 1e18, max_x = -1e18;
        for (const auto& p : g->node_xy) min_x = std::min(min_x, p.x), max_x = std::max(max_x, p.x);
        EXPECT_GT(max_x - min_x, 1'000) << path;
        EXPECT_LT(max_x - min_x, 50'000) << path;
        // Most nodes lie on one strongly connected network (extract borders cut off a few stubs).
        EXPECT_GT(MainComponent(*g).size(), g->nodes() / 2) << path;
        ExpectChEqualsDijkstra(*g, 2000, testing::TestSeed(23));
    }
    if (found == 0) GTEST_SKIP() << "no OSM extracts under " << testing::DataDir() << "/dispatch";
}

TEST(Routing, OsmAndNetXmlErrorsNameTheFile) {
    const auto dir = std::filesystem::temp_directory_path() / ("cb_osm_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string pbf = (dir / "bad.osm.pbf").string();
    std::ofstream(pbf) << "this is not a protobuf";
    auto bad = LoadRoadGraph(pbf);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().where, pbf);
    EXPECT_NE(bad.error().message.find("not a readable OSM file"), std::string::npos);
    // An OSM XML file with only a footway has no ways for cars.
    const std::string osm = (dir / "foot.osm").string();
    std::ofstream(osm)
        << R"(<osm version="0.6"><node id="1" lat="22.5" lon="114.0"/><node id="2" lat="22.501" lon="114.0"/>)"
        << R"(<way id="9"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way></osm>)";
    EXPECT_EQ(LoadRoadGraph(osm).error().ToString(), osm + ": has no ways for cars (highway=*)");
    // A residential street both ways, and a oneway one with a maxspeed in mph.
    std::ofstream(osm)
        << R"(<osm version="0.6"><node id="1" lat="22.5" lon="114.0"/><node id="2" lat="22.501" lon="114.0"/>)"
        << R"(<node id="3" lat="22.502" lon="114.0"/>)"
        << R"(<way id="9"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>)"
        << R"(<way id="10"><nd ref="2"/><nd ref="3"/><tag k="highway" v="primary"/><tag k="oneway" v="yes"/>)"
        << R"(<tag k="maxspeed" v="30 mph"/></way></osm>)";
    auto g = LoadRoadGraph(osm);
    ASSERT_TRUE(g.ok()) << g.error().ToString();
    EXPECT_EQ(g->nodes(), 3u);
    EXPECT_EQ(g->edges(), 3u);
    const NodeId n1 = g->Find("1").value(), n2 = g->Find("2").value(), n3 = g->Find("3").value();
    ASSERT_TRUE(ShortestPath(*g, n2, n3).has_value());
    EXPECT_FALSE(ShortestPath(*g, n3, n2).has_value()) << "oneway";
    // 111 m at 25 km/h; 111 m at 30 mph.
    EXPECT_NEAR(static_cast<double>(ShortestPath(*g, n1, n2)->time_ms), 111.2 / (25 / 3.6) * 1000, 200);
    EXPECT_NEAR(static_cast<double>(ShortestPath(*g, n2, n3)->time_ms), 111.2 / (30 * 1.609344 / 3.6) * 1000, 200);
    const std::string net = (dir / "x.net.xml").string();
    std::ofstream(net)
        << R"(<net><junction id="a" x="0" y="0"/><edge id="e" from="a" to="zz"><lane id="e_0" speed="10" length="5"/></edge></net>)";
    EXPECT_EQ(LoadRoadGraph(net).error().ToString(), net + ": edge 'e': unknown junction 'zz'");
    std::filesystem::remove_all(dir);
}

TEST(Routing, SumoPlainErrorsNameFileAndElement) {
    const auto dir = std::filesystem::temp_directory_path() / ("cb_sumo_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string prefix = (dir / "t").string();
    std::ofstream(prefix + ".nod.xml") << R"(<nodes><node id="a" x="0" y="0"/><node id="b" x="100" y="0"/></nodes>)";
    std::ofstream(prefix + ".edg.xml") << R"(<edges><edge id="e1" from="a" to="c" speed="10"/></edges>)";
    auto bad = LoadSumoPlain(prefix + ".edg.xml");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().ToString(), prefix + ".edg.xml: edge 'e1': to: unknown node 'c'");
    std::ofstream(prefix + ".edg.xml") << R"(<edges><edge id="e1" from="a" to="b" speed="10"/><edge)";
    EXPECT_NE(LoadSumoPlain(prefix + ".edg.xml").error().ToString().find("malformed XML"), std::string::npos);
    std::ofstream(prefix + ".edg.xml") << R"(<edges><edge id="e1" from="a" to="b" speed="10"/></edges>)";
    auto ok = LoadSumoPlain(prefix + ".nod.xml");
    ASSERT_TRUE(ok.ok()) << ok.error().ToString();
    auto p = ShortestPath(*ok, 0, 1);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->time_ms, 10'000u);  // 100 m at 10 m/s: no plain-geo comment, so the coordinates are metres
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace citybrain::dispatch
