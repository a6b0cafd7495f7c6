// SPDX-License-Identifier: Apache-2.0
// Routing kernels: contraction-hierarchy build, point-to-point query, one-to-many table, against Dijkstra.
#include <benchmark/benchmark.h>

#include <random>

#include "core/network_generator.hpp"
#include "dispatch/assignment.hpp"
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

/// Random nodes of a graph from a fixed seed.
struct Picker {
    Picker(const RoadGraph& g, uint64_t seed) : rng(seed), dist(0, static_cast<NodeId>(g.nodes() - 1)) {}
    NodeId operator()() { return dist(rng); }
    std::vector<NodeId> Many(size_t n) {
        std::vector<NodeId> out(n);
        for (auto& v : out) v = (*this)();
        return out;
    }
    std::mt19937_64 rng;
    std::uniform_int_distribution<NodeId> dist;
};

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
    Picker pick(g, 1);
    for (auto _ : state) benchmark::DoNotOptimize(ch.Query(pick(), pick()));
    state.counters["nodes"] = static_cast<double>(g.nodes());
}
BENCHMARK(BM_ChQuery)->Arg(30)->Arg(100)->Unit(benchmark::kMicrosecond);

void BM_DijkstraQuery(benchmark::State& state) {
    const RoadGraph g = Grid(static_cast<int>(state.range(0)));
    Picker pick(g, 1);
    for (auto _ : state) benchmark::DoNotOptimize(ShortestPath(g, pick(), pick()));
}
BENCHMARK(BM_DijkstraQuery)->Arg(30)->Arg(100)->Unit(benchmark::kMicrosecond);

void BM_ChOneToMany(benchmark::State& state) {
    const RoadGraph g = Grid(100);
    const auto ch = ContractionHierarchy::Build(g);
    Picker pick(g, 2);
    const std::vector<NodeId> targets = pick.Many(static_cast<size_t>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(ch.OneToMany(pick(), targets));
}
BENCHMARK(BM_ChOneToMany)->Arg(1000)->Unit(benchmark::kMillisecond);

// The network: Shenzhen Futian (SUMO plain XML, 1,745 junctions).
const RoadGraph* Futian() {
    static const auto graph = LoadSumoPlain(std::string(CB_DATA_DIR) + "/dispatch/shenzhen_futian/FuTian.edg.xml");
    return graph.ok() ? &*graph : nullptr;
}
constexpr const char* kNoFutian = "../shared/data/dispatch/shenzhen_futian is missing";

void BM_FutianChQuery(benchmark::State& state) {
    const RoadGraph* g = Futian();
    if (g == nullptr) return state.SkipWithError(kNoFutian);
    const auto ch = ContractionHierarchy::Build(*g);
    Picker pick(*g, 3);
    for (auto _ : state) benchmark::DoNotOptimize(ch.Query(pick(), pick()));
    state.counters["shortcuts"] = static_cast<double>(ch.shortcuts());
}
BENCHMARK(BM_FutianChQuery)->Unit(benchmark::kMicrosecond);

void BM_FutianDijkstra(benchmark::State& state) {
    const RoadGraph* g = Futian();
    if (g == nullptr) return state.SkipWithError(kNoFutian);
    Picker pick(*g, 3);
    for (auto _ : state) benchmark::DoNotOptimize(ShortestPath(*g, pick(), pick()));
}
BENCHMARK(BM_FutianDijkstra)->Unit(benchmark::kMicrosecond);

void BM_FutianOneToMany(benchmark::State& state) {
    const RoadGraph* g = Futian();
    if (g == nullptr) return state.SkipWithError(kNoFutian);
    const auto ch = ContractionHierarchy::Build(*g);
    Picker pick(*g, 4);
    const std::vector<NodeId> targets = pick.Many(1000);
    for (auto _ : state) benchmark::DoNotOptimize(ch.OneToMany(pick(), targets));
}
BENCHMARK(BM_FutianOneToMany)->Unit(benchmark::kMillisecond);

// The table of 1,000 targets built once (the open tasks); each iteration is a row from a new source (a unit).
void BM_FutianTableRow(benchmark::State& state) {
    const RoadGraph* g = Futian();
    if (g == nullptr) return state.SkipWithError(kNoFutian);
    const auto ch = ContractionHierarchy::Build(*g);
    Picker pick(*g, 4);
    const std::vector<NodeId> targets = pick.Many(1000);
    const auto table = ch.BuildTable(targets);
    for (auto _ : state) benchmark::DoNotOptimize(table.Row(pick()));
}
BENCHMARK(BM_FutianTableRow)->Unit(benchmark::kMicrosecond);

void BM_FutianTableBuild(benchmark::State& state) {
    const RoadGraph* g = Futian();
    if (g == nullptr) return state.SkipWithError(kNoFutian);
    const auto ch = ContractionHierarchy::Build(*g);
    Picker pick(*g, 4);
    const std::vector<NodeId> targets = pick.Many(1000);
    for (auto _ : state) benchmark::DoNotOptimize(ch.BuildTable(targets));
}
BENCHMARK(BM_FutianTableBuild)->Unit(benchmark::kMillisecond);

void BM_FutianChBuild(benchmark::State& state) {
    const RoadGraph* g = Futian();
    if (g == nullptr) return state.SkipWithError(kNoFutian);
    for (auto _ : state) benchmark::DoNotOptimize(ContractionHierarchy::Build(*g));
}
BENCHMARK(BM_FutianChBuild)->Unit(benchmark::kMillisecond);

// The assignment target: 1,000 units and 1,000 tasks on Futian, the travel-time matrix included.
void BM_FutianAssign(benchmark::State& state) {
    const RoadGraph* g = Futian();
    if (g == nullptr) return state.SkipWithError(kNoFutian);
    const auto ch = ContractionHierarchy::Build(*g);
    const size_t n = static_cast<size_t>(state.range(0));
    const auto problem = GenerateAssignmentProblem(*g, n, n, 42, state.range(1) != 0);
    size_t assigned = 0;
    for (auto _ : state) {
        const auto table = TravelTable(ch, problem.units, problem.tasks);
        assigned = Assign(problem.units, problem.tasks, table).assigned;
    }
    state.counters["assigned"] = static_cast<double>(assigned);
}
BENCHMARK(BM_FutianAssign)
    ->ArgNames({"n", "mixed"})
    ->Args({100, 0})
    ->Args({1000, 0})
    ->Args({100, 1})
    ->Args({1000, 1})
    ->Unit(benchmark::kMillisecond);

// The solver alone on uniform random costs (the hard case for JV: no geometry).
void BM_LapUniform(benchmark::State& state) {
    const size_t n = static_cast<size_t>(state.range(0));
    std::mt19937_64 rng(9);
    std::vector<Cost> c(n * n);
    for (auto& x : c) x = static_cast<Cost>(rng() % 1'000'000);
    const std::vector<Cost> outside(n, kNoEdge / 8);
    for (auto _ : state) benchmark::DoNotOptimize(SolveLapWithOutside(c, n, n, outside));
}
BENCHMARK(BM_LapUniform)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace citybrain::dispatch

BENCHMARK_MAIN();
