// SPDX-License-Identifier: Apache-2.0
// Kernel benchmarks of the traffic engine (Google Benchmark). Whole-run figures on the datasets come from
// scripts/bench_traffic.sh. "Smoke" variants run in ctest with --benchmark_min_time=0 so they never rot.
#include <benchmark/benchmark.h>

#include "core/network_generator.hpp"
#include "traffic/demand_generator.hpp"
#include "traffic/run.hpp"

using namespace citybrain;

namespace {

struct Grid {
    core::RoadNetwork net;
    core::Demand demand;
};

Grid MakeGrid(int n, double vph) {
    core::GridSpec spec;
    spec.rows = n;
    spec.cols = n;
    Grid g{core::GenerateGrid(spec).value(), {}};
    traffic::DemandSpec d;
    d.vehicles_per_hour = vph;
    d.duration_s = 1800;
    g.demand = traffic::GenerateDemand(g.net, d).value();
    return g;
}

// Steps per second on a loaded grid: the simulator is warmed up for 600 s, then timed step by step.
void StepGrid(benchmark::State& state, int n, double vph) {
    const Grid g = MakeGrid(n, vph);
    traffic::SimConfig cfg;
    cfg.threads = static_cast<int>(state.range(0));
    traffic::Simulator sim(g.net, g.demand, cfg);
    for (size_t i = 0; i < g.net.intersections.size(); ++i) {
        if (!g.net.intersections[i].is_virtual) sim.RequestPhase(static_cast<int32_t>(i), 1);
    }
    sim.Run(600);
    int64_t updates = 0;
    for (auto _ : state) {
        updates += sim.Running();
        sim.Step();
    }
    state.counters["vehicles"] = static_cast<double>(sim.Running());
    state.counters["vehicle_updates/s"] = benchmark::Counter(static_cast<double>(updates), benchmark::Counter::kIsRate);
}

void BM_StepGrid10x10(benchmark::State& state) { StepGrid(state, 10, 20000); }
void BM_StepGrid30x30(benchmark::State& state) { StepGrid(state, 30, 180000); }
void BM_Smoke_StepGrid3x3(benchmark::State& state) { StepGrid(state, 3, 2000); }

}  // namespace

BENCHMARK(BM_StepGrid10x10)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StepGrid30x30)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->Iterations(200);
BENCHMARK(BM_Smoke_StepGrid3x3)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
