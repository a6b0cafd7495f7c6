// SPDX-License-Identifier: Apache-2.0
// `citybrain fleet-sim`: the default district's units as simulated robots over MQTT, for a live brain
// (`citybrain serve --district default`) without hardware.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "apps/commands.hpp"
#include "apps/live_args.hpp"
#include "district/fleet_sim.hpp"

namespace citybrain::apps {

namespace {

struct FleetArgs {
    std::string mqtt = "127.0.0.1:1883";
    int units = 0;
    uint64_t seed = 1;
    double speedup = 1;
    double handle_s = 120;
    double duration_s = 0;
    double battery_drain = 1;
    std::string log;
    bool json = false;
};

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

int FleetSimMain(const FleetArgs& args) {
    const auto broker = ParseHostPort(args.mqtt, "--mqtt");
    if (!broker.ok()) return ReportError(broker.error(), args.json);
    if (!(args.duration_s >= 0)) return ReportError(InvalidArgument("--duration-s", "must be 0 or more"), args.json);
    auto d = FleetDistrict(args.units, args.seed);
    if (!d.ok()) return ReportError(d.error(), args.json);
    const district::District district = std::move(d).value();
    district::FleetSimOptions options;
    options.host = broker->host;
    options.port = broker->port;
    options.speedup = args.speedup;
    options.handle_s = args.handle_s;
    options.log_path = args.log;
    options.battery_drain = args.battery_drain;
    g_stop.store(false);
    std::signal(SIGINT, OnSignal);
    std::signal(SIGTERM, OnSignal);
    auto sim = district::FleetSim::Start(district, options);
    if (!sim.ok()) return ReportError(sim.error(), args.json);
    std::fprintf(stderr,
                 "citybrain fleet-sim: %zu units on MQTT %s, x%g\n",
                 district.units.size(),
                 args.mqtt.c_str(),
                 args.speedup);
    const auto start = std::chrono::steady_clock::now();
    while (!g_stop.load()) {
        if (args.duration_s > 0 &&
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= args.duration_s) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    (*sim)->Stop();
    const district::FleetSimStats s = (*sim)->stats();
    const nlohmann::json out = {{"units", district.units.size()},
                                {"orders", s.orders},
                                {"repeats", s.repeats},
                                {"stand_downs", s.stand_downs},
                                {"refused", s.refused},
                                {"arrivals", s.arrivals},
                                {"done", s.done},
                                {"charges", s.charges},
                                {"states", s.states}};
    if (args.json) {
        std::printf("%s\n", out.dump().c_str());
    } else {
        std::fprintf(stderr, "citybrain fleet-sim: %s\n", out.dump().c_str());
    }
    return kExitOk;
}

}  // namespace

void RegisterFleet(CLI::App& app) {
    auto args = std::make_shared<FleetArgs>();
    auto* cmd = app.add_subcommand("fleet-sim", "the default district's units as simulated robots over MQTT");
    cmd->add_option("--mqtt", args->mqtt, "the broker, HOST:PORT")->capture_default_str();
    cmd->add_option("--units", args->units, "size the fleet (as serve --units)");
    cmd->add_option("--seed", args->seed, "the district's seed (as serve --seed)")->capture_default_str();
    cmd->add_option("--speedup", args->speedup, "simulated seconds per wall second")->capture_default_str();
    cmd->add_option("--handle-s", args->handle_s, "simulated seconds of work on site")->capture_default_str();
    cmd->add_option("--duration-s", args->duration_s, "stop after this many wall seconds (0: at a signal)");
    cmd->add_option("--battery-drain",
                    args->battery_drain,
                    "scale the robots' battery use (0: always full; large: low batteries within a test)")
        ->capture_default_str();
    cmd->add_option("--log", args->log, "a JSON line per order, arrival and completion (wall-clock ms)");
    cmd->add_flag("--json", args->json, "print the counts as JSON at the end");
    cmd->callback([args] { SetExitCode(FleetSimMain(*args)); });
}

}  // namespace citybrain::apps
