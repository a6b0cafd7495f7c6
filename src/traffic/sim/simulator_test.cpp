// SPDX-License-Identifier: Apache-2.0
#include "traffic/sim/simulator.hpp"

#include <gtest/gtest.h>

#include "../../../tests/test_util.hpp"
#include "traffic/run.hpp"

namespace citybrain::traffic {
namespace {

using testing::MakeGrid;

core::Demand OneVehicle(const core::RoadNetwork& net, std::vector<std::string> roads) {
    core::Demand d;
    core::Flow f;
    f.id = "solo";
    for (const auto& r : roads) f.route.push_back(net.FindRoad(r));
    f.start_s = 0;
    f.end_s = 0;
    d.flows.push_back(f);
    return d;
}

// Golden: one vehicle on the tiny junction with its movement always green travels the path at the physics of
// its parameters: accelerate at maxPosAcc to maxSpeed, then cruise.
TEST(SimulatorGolden, LoneVehicleMatchesKinematics) {
    auto net = testing::LoadTinyNet();
    auto demand = OneVehicle(net, {"w_in", "e_out"});
    SimConfig cfg;
    Simulator sim(net, demand, cfg);
    const auto b = net.FindIntersection("B");
    sim.RequestPhase(b, 1);  // W->E green
    sim.Run(200);
    const Metrics m = sim.GetMetrics();
    ASSERT_EQ(m.throughput, 1);
    const double path = net.lanes[0].length_m + net.lane_links[0].length_m + net.lanes[1].length_m;
    const core::VehicleParams p;
    const double t_acc = p.max_speed_mps / p.max_pos_acc;
    const double expected = t_acc + (path - p.max_speed_mps * t_acc / 2) / p.max_speed_mps;
    EXPECT_NEAR(m.att_finished_s, expected, 1.5) << "path " << path;
    EXPECT_NEAR(m.avg_delay_s, t_acc / 2, 1.5);  // the only loss is accelerating from rest
}

TEST(SimulatorGolden, RedLightHoldsTheVehicleAtTheLine) {
    auto net = testing::LoadTinyNet();
    auto demand = OneVehicle(net, {"w_in", "e_out"});
    Simulator sim(net, demand, SimConfig{});
    sim.RequestPhase(net.FindIntersection("B"), 2);  // S->N green, W->E red
    sim.Run(120);
    EXPECT_EQ(sim.GetMetrics().throughput, 0);
    std::vector<Simulator::VehicleState> v;
    sim.Vehicles(v);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].drivable, net.roads[net.FindRoad("w_in")].first_lane);
    EXPECT_NEAR(v[0].pos_m, net.lanes[0].length_m, 0.5);
    EXPECT_LT(v[0].speed_mps, 0.1);
}

// Property sweep on a congested grid: no collisions, speed limits, conservation.
class GridProperties : public ::testing::TestWithParam<double> {};

TEST_P(GridProperties, NoCollisionsLimitsAndConservation) {
    auto s = MakeGrid(3, 3, GetParam(), testing::TestSeed(7));
    RunOptions o;
    o.controller = "fixed";
    o.steps = 900;
    int64_t checks = 0;
    o.on_step = [&](const Simulator& sim) {
        for (size_t d = 0; d < sim.NumLanes() + s.net.lane_links.size(); ++d) {
            const auto& occ = sim.Occupants(static_cast<int32_t>(d));
            for (size_t i = 0; i < occ.size(); ++i) {
                const int32_t v = occ[i];
                ASSERT_GE(sim.VehicleSpeed(v), 0.0);
                ASSERT_LE(sim.VehicleSpeed(v), sim.VehicleMaxSpeed(v) + 1e-9) << "drivable " << d;
                ASSERT_GE(sim.VehiclePos(v), 0.0);
                ASSERT_LE(sim.VehiclePos(v), sim.DrivableLength(static_cast<int32_t>(d)) + 1e-9);
                if (i > 0) {
                    const int32_t leader = occ[i - 1];
                    const double gap = sim.VehiclePos(leader) - sim.VehicleLength(leader) - sim.VehiclePos(v);
                    ASSERT_GE(gap, -1e-6) << "collision on drivable " << d << " at t=" << sim.Now();
                    ++checks;
                }
            }
        }
        const Metrics m = sim.GetMetrics();
        ASSERT_EQ(m.spawned, m.throughput + m.in_network_end);
        ASSERT_EQ(m.in_network_end, sim.Running() + sim.Waiting());
    };
    auto r = RunScenario(s.net, s.demand, o);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_GT(checks, 1000);  // the sweep saw queues
    EXPECT_GT(r->metrics.throughput, 0);
}

INSTANTIATE_TEST_SUITE_P(Demand, GridProperties, ::testing::Values(800.0, 4000.0));

// Signals: no two movements that no phase permits together are ever non-red at once; every green -> red
// change passes through exactly `yellow_s` of yellow; a phase stays green at least min_green_s.
TEST(Signals, YellowMinGreenAndNoConflictingGreens) {
    auto s = MakeGrid(2, 2, 2000, 3);
    SimConfig cfg;
    cfg.yellow_s = 3;
    cfg.all_red_s = 2;
    cfg.min_green_s = 8;
    Simulator sim(s.net, s.demand, cfg);
    const auto& node = s.net.intersections[s.net.FindIntersection("intersection_1_1")];
    const auto node_id = s.net.FindIntersection("intersection_1_1");
    const size_t k = node.road_links.size();
    std::vector<Light> prev(k);
    for (size_t i = 0; i < k; ++i) prev[i] = sim.RoadLinkLight(node.road_links[i]);
    std::vector<int> yellow_run(k, 0);
    std::vector<int> green_run(k, 0);
    int yellow_checks = 0;
    for (int step = 0; step < 600; ++step) {
        // An impatient controller: asks for a different phase every 3 s.
        if (step % 3 == 0) sim.RequestPhase(node_id, 1 + (step / 3) % 4);
        sim.Step();
        uint64_t lit = 0;
        for (size_t i = 0; i < k; ++i) {
            const Light l = sim.RoadLinkLight(node.road_links[i]);
            if (l != Light::kRed) lit |= uint64_t{1} << i;
            if (l == Light::kYellow) ++yellow_run[i];
            if (l == Light::kGreen) ++green_run[i];
            if (prev[i] == Light::kGreen && l == Light::kRed) ADD_FAILURE() << "green to red without yellow";
            if (prev[i] == Light::kYellow && l != Light::kYellow) {
                EXPECT_EQ(yellow_run[i], 3) << "yellow lasted " << yellow_run[i] << " s";
                EXPECT_EQ(l, Light::kRed);
                ++yellow_checks;
                yellow_run[i] = 0;
            }
            if (prev[i] == Light::kGreen && l != Light::kGreen && step > 10) {
                EXPECT_GE(green_run[i], 8) << "green shorter than the minimum";
            }
            if (l != Light::kGreen) green_run[i] = 0;
            prev[i] = l;
        }
        bool inside_a_phase = false;
        for (const auto& p : node.phases) {
            uint64_t mask = 0;
            for (int32_t x : p.road_links) mask |= uint64_t{1} << x;
            if ((lit & ~mask) == 0) inside_a_phase = true;
        }
        ASSERT_TRUE(inside_a_phase) << "movements lit together that no phase permits, t=" << step;
    }
    EXPECT_GT(yellow_checks, 10);
}

TEST(Determinism, SameSeedSameHashAndThreadCountIndependent) {
    // Arterials have two through lanes, so the seed picks among first lanes.
    auto s = MakeGrid(4, 4, 5000, testing::TestSeed(11), /*arterial_every=*/2);
    auto run = [&](int threads, uint64_t seed) {
        RunOptions o;
        o.controller = "maxpressure";
        o.steps = 900;
        o.sim.threads = threads;
        o.sim.parallel_min_vehicles = 0;  // split even this small grid
        o.sim.seed = seed;
        return RunScenario(s.net, s.demand, o).value();
    };
    const auto a = run(1, 5);
    const auto b = run(1, 5);
    const auto c = run(2, 5);
    const auto d = run(3, 5);
    const auto e = run(1, 6);
    EXPECT_EQ(a.state_hash, b.state_hash);
    EXPECT_EQ(a.state_hash, c.state_hash) << "1 vs 2 threads differ";
    EXPECT_EQ(a.state_hash, d.state_hash) << "1 vs 3 threads differ";
    EXPECT_EQ(a.metrics.att_s, c.metrics.att_s);
    EXPECT_NE(a.state_hash, e.state_hash) << "the seed should matter (first-lane choice)";
}

TEST(Entry, VehiclesWaitWhenTheLaneIsFull) {
    auto net = testing::LoadTinyNet();
    core::Demand d;
    core::Flow f;
    f.route = {net.FindRoad("w_in"), net.FindRoad("e_out")};
    f.interval_s = 0.25;  // 4 vehicles per second cannot all enter
    f.end_s = 60;
    d.flows.push_back(f);
    Simulator sim(net, d, SimConfig{});
    sim.RequestPhase(net.FindIntersection("B"), 2);  // red for W->E: the lane fills up
    sim.Run(300);
    const Metrics m = sim.GetMetrics();
    EXPECT_EQ(m.spawned, 241);
    EXPECT_GT(m.waiting_to_enter, 150);
    EXPECT_EQ(m.throughput, 0);
    // The lane holds at most length / (vehicle + min gap) vehicles.
    EXPECT_LE(sim.LaneVehicles(0), static_cast<int32_t>(net.lanes[0].length_m / 7.5) + 1);
    EXPECT_GE(sim.LaneVehicles(0), 30);
}

}  // namespace
}  // namespace citybrain::traffic
