// SPDX-License-Identifier: Apache-2.0
// Incident intake: validate + route + de-duplicate + persist (SQLite WAL, synchronous=FULL, group commit).
// BM_IngestBatch drives the engine's facade with ready batches; BM_IntakeQueue goes through the group-commit
// queue one report at a time from several producers, as the HTTP server does, and reports latency percentiles.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>

#include "incident/engine.hpp"

namespace citybrain::incident {
namespace {

constexpr TimeMs kT0 = 1'700'000'000'000;

std::string DbPath(const char* name) {
    const auto dir = std::filesystem::temp_directory_path();
    const std::string path =
        (dir / (std::string("cb_bench_") + name + "_" + std::to_string(::getpid()) + ".db")).string();
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
    return path;
}

/// Reports over a 10 km × 10 km district in six categories, each with an idempotency key. `hotspots` = 0 spreads
/// them uniformly (nearly every report opens a case: the store's worst case); otherwise they fall within 20 m of
/// one of that many fixed spots, as repeated camera detections of the same vendor or puddle do.
std::vector<Report> MakeReports(size_t n, uint64_t seed, int hotspots = 0) {
    const Taxonomy& t = Taxonomy::Default();
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    const char* cats[] = {
        "street_vending", "illegal_parking", "exposed_rubbish", "noise", "waterlogging", "road_damage"};
    std::vector<Report> out(n);
    for (size_t i = 0; i < n; ++i) {
        Report& r = out[i];
        r.source = i % 3 == 0 ? Source::kCamera : Source::kCitizen;
        r.category = cats[i % 6];
        if (hotspots > 0) {
            std::mt19937_64 spot_rng(static_cast<uint64_t>(rng() % static_cast<uint64_t>(hotspots)));
            std::uniform_real_distribution<double> us(0, 1);
            r.lat = t.origin_lat() + (us(spot_rng) - 0.5) * 0.09 + (u(rng) - 0.5) * 0.0003;
            r.lon = t.origin_lon() + (us(spot_rng) - 0.5) * 0.09 + (u(rng) - 0.5) * 0.0003;
            r.category = cats[spot_rng() % 6];
        } else {
            r.lat = t.origin_lat() + (u(rng) - 0.5) * 0.09;
            r.lon = t.origin_lon() + (u(rng) - 0.5) * 0.09;
        }
        r.time_ms = kT0 + static_cast<TimeMs>(i) * 10;
        r.description = "camera detection";
        r.confidence = 0.8;
        r.idempotency_key = "bench-" + std::to_string(seed) + "-" + std::to_string(i);
    }
    return out;
}

void BM_IngestBatch(benchmark::State& state) {
    const std::string path = DbPath("ingest");
    auto engine =
        std::move(IncidentEngine::Open(std::move(OpenSqliteStore(path)).value(), Taxonomy::Default())).value();
    const size_t batch = static_cast<size_t>(state.range(0));
    const int hotspots = static_cast<int>(state.range(1));
    uint64_t seed = 1;
    int64_t total = 0;
    int64_t duplicates = 0;
    for (auto _ : state) {
        state.PauseTiming();
        auto reports = MakeReports(batch, seed++, hotspots);
        state.ResumeTiming();
        auto results = engine->Ingest(std::move(reports), kT0 + total * 10);
        state.PauseTiming();
        for (const auto& r : results) duplicates += r.ok() && r->duplicate ? 1 : 0;
        state.ResumeTiming();
        total += static_cast<int64_t>(batch);
    }
    state.SetItemsProcessed(total);
    state.counters["duplicate_share"] =
        static_cast<double>(duplicates) / static_cast<double>(std::max<int64_t>(1, total));
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
}
// Args: batch size, hot spots (0 = uniform).
BENCHMARK(BM_IngestBatch)
    ->Args({256, 0})
    ->Args({4096, 0})
    ->Args({4096, 20000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(25);
BENCHMARK(BM_IngestBatch)->Name("BM_IngestBatch_Smoke")->Args({64, 0})->Iterations(2);

/// Keeps nothing: isolates the engine's own cost (validate, route, de-duplicate, build the batch).
class NullStore final : public Store {
public:
    const char* Kind() const override { return "null"; }
    Status Commit(const WriteBatch&) override { return {}; }
    Result<int64_t> ClaimWriter(const std::string&, TimeMs) override { return int64_t{1}; }
    Result<Counters> MaxIds() override { return Counters{}; }
    Result<std::vector<Case>> LoadOpenCases() override { return std::vector<Case>{}; }
    Result<std::vector<KeyEntry>> LoadIdempotencyKeys(TimeMs) override { return std::vector<KeyEntry>{}; }
    Result<std::optional<Case>> GetCase(CaseId) override { return std::optional<Case>{}; }
    Result<std::vector<Case>> ListCases(const CaseFilter&, TimeMs) override { return std::vector<Case>{}; }
    Result<std::vector<Event>> CaseEvents(CaseId) override { return std::vector<Event>{}; }
    Result<std::vector<Report>> CaseReports(CaseId) override { return std::vector<Report>{}; }
    Result<std::vector<RequestView>> ListRequests(const RequestFilter&) override { return std::vector<RequestView>{}; }
    Result<Stats> ComputeStats(TimeMs) override { return Stats{}; }
};

void BM_IngestNoStore(benchmark::State& state) {
    auto engine = std::move(IncidentEngine::Open(std::make_unique<NullStore>(), Taxonomy::Default())).value();
    const size_t batch = 4096;
    uint64_t seed = 1;
    int64_t total = 0;
    for (auto _ : state) {
        state.PauseTiming();
        auto reports = MakeReports(batch, seed++);
        state.ResumeTiming();
        auto results = engine->Ingest(std::move(reports), kT0 + total * 10);
        benchmark::DoNotOptimize(results);
        total += static_cast<int64_t>(batch);
    }
    state.SetItemsProcessed(total);
}
BENCHMARK(BM_IngestNoStore)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(25);

void BM_IntakeQueue(benchmark::State& state) {
    const std::string path = DbPath("queue");
    auto engine =
        std::move(IncidentEngine::Open(std::move(OpenSqliteStore(path)).value(), Taxonomy::Default())).value();
    const size_t n = static_cast<size_t>(state.range(0));
    std::vector<double> latency_us;
    uint64_t seed = 1000;
    int64_t total = 0;
    uint64_t batches = 0;
    for (auto _ : state) {
        state.PauseTiming();
        auto reports = MakeReports(n, seed++);
        std::vector<double> lat(n);
        IntakeQueue queue(*engine);
        std::atomic<size_t> done{0};
        state.ResumeTiming();
        for (size_t i = 0; i < n; ++i) {
            const auto start = std::chrono::steady_clock::now();
            queue.Submit(std::move(reports[i]), [&, i, start](Result<Receipt> r) {
                lat[i] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
                if (!r.ok()) std::abort();
                done.fetch_add(1, std::memory_order_release);
            });
        }
        queue.Stop();
        state.PauseTiming();
        batches += queue.batches();
        latency_us.insert(latency_us.end(), lat.begin(), lat.end());
        total += static_cast<int64_t>(n);
        state.ResumeTiming();
    }
    std::sort(latency_us.begin(), latency_us.end());
    state.SetItemsProcessed(total);
    state.counters["p50_ms"] = latency_us[latency_us.size() / 2] / 1000;
    state.counters["p99_ms"] = latency_us[latency_us.size() * 99 / 100] / 1000;
    state.counters["reports_per_commit"] =
        static_cast<double>(total) / static_cast<double>(std::max<uint64_t>(1, batches));
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
}
BENCHMARK(BM_IntakeQueue)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_IntakeQueue)->Name("BM_IntakeQueue_Smoke")->Arg(200)->Iterations(1);

}  // namespace
}  // namespace citybrain::incident

BENCHMARK_MAIN();
