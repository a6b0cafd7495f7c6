// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/demand.hpp"
#include "core/network_generator.hpp"
#include "io/cityflow.hpp"
#include "traffic/demand_generator.hpp"

namespace citybrain::testing {

inline std::string SourceDir() { return CB_SOURCE_DIR; }
inline std::string DataDir() { return CB_DATA_DIR; }

/// Seeds are fixed and can be overridden with CB_TEST_SEED (OSRM).
inline uint64_t TestSeed(uint64_t fallback) {
    const char* s = std::getenv("CB_TEST_SEED");
    return s ? std::strtoull(s, nullptr, 10) : fallback;
}

inline core::RoadNetwork LoadTinyNet() {
    auto net = io::LoadRoadnet(SourceDir() + "/tests/scenarios/tiny/roadnet.json");
    EXPECT_TRUE(net.ok()) << (net.ok() ? "" : net.error().ToString());
    return std::move(net).value();
}

/// A small generated grid with enough demand to queue.
struct GridScenario {
    core::RoadNetwork net;
    core::Demand demand;
};
inline GridScenario MakeGrid(int rows, int cols, double vph, uint64_t seed, int arterial_every = 0) {
    core::GridSpec g;
    g.rows = rows;
    g.cols = cols;
    g.block_m = 200;
    g.arterial_every = arterial_every;
    GridScenario s;
    s.net = core::GenerateGrid(g).value();
    traffic::DemandSpec d;
    d.vehicles_per_hour = vph;
    d.duration_s = 1200;
    d.peak_at_s = 600;
    d.peak_width_s = 300;
    d.seed = seed;
    s.demand = traffic::GenerateDemand(s.net, d).value();
    return s;
}

}  // namespace citybrain::testing
