// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "../../tests/test_util.hpp"
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
