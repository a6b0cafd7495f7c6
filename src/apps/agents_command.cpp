// SPDX-License-Identifier: Apache-2.0
// `citybrain agents check DIR`: loads a folder of agent files as the brain would, says what is wrong by file and
// field, and how long loading took and what it cost in memory.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "agents/agent_spec.hpp"
#include "apps/commands.hpp"

namespace citybrain::apps {

namespace {

/// Resident memory now, from /proc (kB).
int64_t ResidentKb() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
    }
    return 0;
}

struct CheckArgs {
    std::string dir;
    bool json = false;
};

int Check(const CheckArgs& a) {
    const int64_t before = ResidentKb();
    const auto t0 = std::chrono::steady_clock::now();
    auto agents = agents::LoadAgentDir(a.dir);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!agents.ok()) return ReportError(agents.error(), a.json);
    const int64_t grew = ResidentKb() - before;
    size_t desks = 0;
    for (const auto& s : *agents) desks += s.department == "*" ? 1 : 0;
    const double per_agent_kb = static_cast<double>(grew) / static_cast<double>(agents->size());
    if (a.json) {
        std::printf("%s\n",
                    nlohmann::json{{"agents", agents->size()},
                                   {"front_desks", desks},
                                   {"load_ms", ms},
                                   {"resident_kb", grew},
                                   {"kb_per_agent", per_agent_kb}}
                        .dump()
                        .c_str());
    } else {
        std::printf(
            "%zu agents (%zu front desks) loaded in %.1f ms; resident memory grew %lld kB (%.2f kB per agent)\n",
            agents->size(),
            desks,
            ms,
            static_cast<long long>(grew),
            per_agent_kb);
    }
    return kExitOk;
}

}  // namespace

void RegisterAgents(CLI::App& app) {
    auto* agents = app.add_subcommand("agents", "the agents of the citizen channel");
    agents->require_subcommand(1);
    auto args = std::make_shared<CheckArgs>();
    auto* check = agents->add_subcommand("check", "load a folder of agent files (*.json) and report what is wrong");
    check->add_option("dir", args->dir, "the folder")->required();
    check->add_flag("--json", args->json, "machine-readable output");
    check->callback([args] { SetExitCode(Check(*args)); });
}

}  // namespace citybrain::apps
