// SPDX-License-Identifier: Apache-2.0
// Routing kernels: contraction-hierarchy build, point-to-point query, one-to-many table, against Dijkstra.
#include <benchmark/benchmark.h>

#include <random>

#include "core/network_generator.hpp"
#include "dispatch/contraction.hpp"

namespace citybrain::dispatch {
namespace {

RoadGraph Grid(int n) {
    core::GridSpec spec;
    spec.rows = n;
    spec.cols = n;
    spec.arterial_every = 3;
    auto net = core::GenerateGrid(spec);
    return std::move(RoadGraph::FromRoadNetwork(net.value())).value();
}

void BM_ChBuild(benchmark::State& state) {
    const RoadGraph g = Grid(static_cast<int>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(ContractionHierarchy::Build(g));
    state.counters["nodes"] = static_cast<double>(g.nodes());
}
BENCHMARK(BM_ChBuild)->Arg(30)->Arg(100)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ChBuild)->Name("BM_ChBuild_Smoke")->Arg(5)->Iterations(1);

void BM_ChQuery(benchmark::State& state) {
    const RoadGraph g = Grid(static_cast<int>(state.range(0)));
    const auto ch = ContractionHierarchy::Build(g);
    std::mt19937_64 rng(1);
    std::uniform_int_distribution<NodeId> pick(0, static_cast<NodeId>(g.nodes() - 1));
    for (auto _ : state) benchmark::DoNotOptimize(ch.Query(pick(rng), pick(rng)));
    state.counters["nodes"] = static_cast<double>(g.nodes());
}
BENCHMARK(BM_ChQuery)->Arg(30)->Arg(100)->Unit(benchmark::kMicrosecond);

void BM_DijkstraQuery(benchmark::State& state) {
    const RoadGraph g = Grid(static_cast<int>(state.range(0)));
    std::mt19937_64 rng(1);
    std::uniform_int_distribution<NodeId> pick(0, static_cast<NodeId>(g.nodes() - 1));
    for (auto _ : state) benchmark::DoNotOptimize(ShortestPath(g, pick(rng), pick(rng)));
}
BENCHMARK(BM_DijkstraQuery)->Arg(30)->Arg(100)->Unit(benchmark::kMicrosecond);

void BM_ChOneToMany(benchmark::State& state) {
    const RoadGraph g = Grid(100);
    const auto ch = ContractionHierarchy::Build(g);
    std::mt19937_64 rng(2);
    std::uniform_int_distribution<NodeId> pick(0, static_cast<NodeId>(g.nodes() - 1));
    std::vector<NodeId> targets(static_cast<size_t>(state.range(0)));
    for (auto& t : targets) t = pick(rng);
    for (auto _ : state) benchmark::DoNotOptimize(ch.OneToMany(pick(rng), targets));
}
BENCHMARK(BM_ChOneToMany)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace citybrain::dispatch

BENCHMARK_MAIN();
