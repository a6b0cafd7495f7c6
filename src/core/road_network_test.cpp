// SPDX-License-Identifier: Apache-2.0
#include "core/road_network.hpp"

#include <gtest/gtest.h>

#include "core/demand.hpp"
#include "core/network_generator.hpp"

namespace citybrain::core {
namespace {

TEST(Geometry, LocalFrameRoundTrips) {
    const LocalFrame frame(22.7208, 114.2466);
    const Point p = frame.ToLocal(22.7300, 114.2300);
    EXPECT_LT(p.x, -1000);  // west of the origin
    EXPECT_GT(p.y, 1000);   // north of it
    const auto [lat, lon] = frame.ToWgs84(p);
    EXPECT_NEAR(lat, 22.7300, 1e-9);
    EXPECT_NEAR(lon, 114.2300, 1e-9);
}

TEST(Geometry, CrossingOfTwoSegments) {
    const std::vector<Point> a = {{0, 0}, {10, 0}};
    const std::vector<Point> b = {{5, -5}, {5, 5}};
    auto c = FirstCrossing(a, b);
    ASSERT_TRUE(c.has_value());
    EXPECT_NEAR(c->along_a_m, 5, 1e-9);
    EXPECT_NEAR(c->along_b_m, 5, 1e-9);
    const std::vector<Point> parallel = {{0, 1}, {10, 1}};
    EXPECT_FALSE(FirstCrossing(a, parallel).has_value());
    EXPECT_NEAR(PolylineLength(std::vector<Point>{{0, 0}, {3, 4}, {3, 10}}), 11, 1e-12);
}

TEST(Generator, GridHasExpectedShape) {
    GridSpec spec;
    spec.rows = 3;
    spec.cols = 4;
    auto net = GenerateGrid(spec);
    ASSERT_TRUE(net.ok()) << net.error().ToString();
    EXPECT_EQ(net->NumSignalised(), 12);
    // interior nodes + 2*(rows+cols) boundary nodes
    EXPECT_EQ(net->intersections.size(), 12u + 2 * (3 + 4));
    for (const Lane& lane : net->lanes) {
        const Road& road = net->roads[lane.road];
        const double trims = (net->intersections[road.from].is_virtual ? 0 : spec.box_m) +
                             (net->intersections[road.to].is_virtual ? 0 : spec.box_m);
        EXPECT_NEAR(lane.length_m, spec.block_m - trims, 1e-6) << road.id;
    }
    for (const Intersection& n : net->intersections) {
        if (n.is_virtual) continue;
        ASSERT_EQ(n.phases.size(), 5u);
        EXPECT_EQ(n.road_links.size(), 12u);  // 4 approaches x 3 movements
    }
}

TEST(Generator, ProtectedPhasesHaveNoCrossingMovements) {
    GridSpec spec;
    spec.rows = 2;
    spec.cols = 2;
    spec.arterial_every = 1;
    auto net = GenerateGrid(spec).value();
    for (const Intersection& n : net.intersections) {
        for (const Phase& p : n.phases) {
            for (int32_t a : p.road_links) {
                for (int32_t b : p.road_links) {
                    const RoadLink& ra = net.road_links[n.road_links[a]];
                    const RoadLink& rb = net.road_links[n.road_links[b]];
                    if (a >= b || ra.from_road == rb.from_road) continue;
                    if (ra.type == TurnType::kRight || rb.type == TurnType::kRight) continue;  // permissive, yields
                    for (LaneLinkId la : ra.lane_links) {
                        for (const Conflict& c : net.lane_links[la].conflicts) {
                            const LaneLink& other = net.lane_links[c.other];
                            EXPECT_NE(other.road_link, n.road_links[b])
                                << n.id << ": phase permits crossing movements " << a << " and " << b;
                        }
                    }
                }
            }
        }
    }
}

TEST(RoadNetwork, ConflictsAreSymmetric) {
    auto net = GenerateGrid(GridSpec{}).value();
    size_t total = 0;
    for (size_t i = 0; i < net.lane_links.size(); ++i) {
        for (const Conflict& c : net.lane_links[i].conflicts) {
            ++total;
            bool found = false;
            for (const Conflict& back : net.lane_links[c.other].conflicts) {
                if (back.other == static_cast<LaneLinkId>(i)) {
                    found = true;
                    EXPECT_DOUBLE_EQ(back.along_self_m, c.along_other_m);
                }
            }
            EXPECT_TRUE(found);
        }
    }
    EXPECT_GT(total, 0u);
}

TEST(Generator, RejectsBadSpecNamingTheField) {
    GridSpec spec;
    spec.rows = 0;
    auto net = GenerateGrid(spec);
    ASSERT_FALSE(net.ok());
    EXPECT_EQ(net.error().ToString(), "grid.rows: must be in 1..200 (got 0)");
}

TEST(Routes, UnconnectedRoadsAreReported) {
    auto net = GenerateGrid(GridSpec{}).value();
    Demand demand;
    Flow flow;
    flow.id = "f0";
    flow.route = {net.FindRoad("road_0_1_0"), net.FindRoad("road_3_3_2")};
    demand.flows.push_back(flow);
    auto problems = CheckRoutes(net, demand);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].route_position, 1u);
    EXPECT_EQ(DescribeRouteProblems(net, demand, problems),
              "1 flow(s) have a route that cannot be followed\n"
              "  flows[0].route[1] (f0): road 'road_0_1_0' does not connect to 'road_3_3_2'");
}

}  // namespace
}  // namespace citybrain::core
