// SPDX-License-Identifier: Apache-2.0
// The vault's targets (issue 20): a release in ≤ 5 ms (a department's signed request checked against its grant,
// the fields gathered, sealed, and the log entry committed with fsync); a vault of 10,000 records opened in ≤ 1 s
// (Argon2id, then every record decrypted); a log of 1 million entries audited in ≤ 10 s.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "vault/vault.hpp"

namespace {

using namespace citybrain::vault;

constexpr const char* kPass = "benchmark passphrase";

std::string FreshPath(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() / ("vault_bench_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / name).string();
    for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path + ext);
    return path;
}

void Cleanup() {
    std::filesystem::remove_all(std::filesystem::temp_directory_path() / ("vault_bench_" + std::to_string(::getpid())));
}

std::unique_ptr<Vault> Made(const std::string& path, int records) {
    auto v = std::move(Vault::Create(path, kPass, *KdfByName("interactive"), 0).value());
    (void)v->SetDurable(false);  // building the fixture; the measured part is durable
    for (int i = 0; i < records; ++i) {
        (void)v->Put(i % 3 == 0 ? "identity" : "health_notes",
                     {{"name", "张三" + std::to_string(i)}, {"note", "血压正常，复诊 " + std::to_string(i)}},
                     i);
    }
    (void)v->SetDurable(true);
    return v;
}

void BM_ReleaseSmoke(benchmark::State& state) {
    const std::string path = FreshPath("release.sqlite");
    auto v = Made(path, 10);
    const DepartmentKeys dept = NewDepartmentKeys("区公安分局");
    GrantSpec spec{dept.keys.public_key,
                   dept.name,
                   {"identity.name", "health_notes"},
                   "居住证续签",
                   int64_t{1} << 50,
                   int64_t{1} << 40};
    const std::string grant = ParseGrantPayload(v->GrantConsent(spec, 1).value().payload)->id;
    int64_t now = 1000;
    for (auto _ : state) {
        state.PauseTiming();  // the department's signing is the department's time
        const std::string request =
            MakeRequest(dept, grant, {"identity.name", "health_notes.note"}, "居住证续签", "c", now);
        state.ResumeTiming();
        auto d = v->Release(request, now);
        if (!d.ok() || !d->released) state.SkipWithError("not released");
        ++now;
    }
    v.reset();
    Cleanup();
}
BENCHMARK(BM_ReleaseSmoke)->Unit(benchmark::kMillisecond);

/// Open a vault file, unlock it and decrypt every record.
void Open(benchmark::State& state) {
    const auto n = static_cast<int>(state.range(0));
    const std::string path = FreshPath("open.sqlite");
    Made(path, n).reset();
    for (auto _ : state) {
        auto v = Vault::Open(path);
        if (!v.ok() || !(*v)->Unlock(kPass).ok()) state.SkipWithError("open failed");
        auto records = (*v)->Records();
        if (!records.ok() || records->size() != static_cast<size_t>(n)) state.SkipWithError("records");
    }
    Cleanup();
}
void BM_OpenSmoke(benchmark::State& state) { Open(state); }
BENCHMARK(BM_OpenSmoke)->Arg(100)->Unit(benchmark::kMillisecond);
void BM_Open(benchmark::State& state) { Open(state); }
BENCHMARK(BM_Open)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(3);

/// A log of N entries (refusals of signed requests, the most common kind an attacker can make), then the audit.
void Audit(benchmark::State& state, bool all_signatures) {
    const auto n = state.range(0);
    const std::string path = FreshPath("audit.sqlite");
    {
        auto v = Made(path, 1);
        (void)v->SetDurable(false);
        const DepartmentKeys dept = NewDepartmentKeys("某部门");
        for (int64_t i = 1; i < n; ++i) {
            (void)v->Release(MakeRequest(dept, "0123456789abcdef0123456789abcdef", {"identity.name"}, "p", "c", i), i);
        }
    }
    for (auto _ : state) {
        auto rep = Vault::Audit(path, all_signatures, {}, false);
        if (!rep.ok() || !rep->ok || rep->entries != n) state.SkipWithError("audit failed");
    }
    state.SetItemsProcessed(state.iterations() * n);
    Cleanup();
}
void BM_AuditSmoke(benchmark::State& state) { Audit(state, false); }
BENCHMARK(BM_AuditSmoke)->Arg(1000)->Unit(benchmark::kMillisecond);
void BM_Audit(benchmark::State& state) { Audit(state, false); }
BENCHMARK(BM_Audit)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond)->Iterations(1);
void BM_AuditAllSignatures(benchmark::State& state) { Audit(state, true); }
BENCHMARK(BM_AuditAllSignatures)->Arg(100000)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
BENCHMARK_MAIN();
