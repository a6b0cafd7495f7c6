// SPDX-License-Identifier: Apache-2.0
// `citybrain run`: the main job. Today it brings up the embedded district's traffic under adaptive control and
// measures it against fixed-time signals on the same seed and demand; incidents, dispatch and the dashboard
// join this loop as their engines land (issue 5).
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/commands.hpp"
#include "district/default_district.hpp"
#include "io/cityflow.hpp"
#include "traffic/run.hpp"

namespace citybrain::apps {

namespace {

struct RunArgs {
    uint64_t seed = 1;
    double sim_hours = 1;
    int threads = 1;
    std::string roadnet;
    std::string flow;
    std::string report;
    std::string adaptive = "maxpressure";
    bool no_serve = false;
    bool json = false;
};

int Run(const RunArgs& args) {
    if (!(args.sim_hours > 0) || args.sim_hours > 48) {
        return ReportError(InvalidArgument("--sim-hours", "must be in (0, 48]"), args.json);
    }
    core::RoadNetwork net;
    core::Demand demand;
    std::string source = "embedded default district (seed " + std::to_string(args.seed) + ")";
    if (args.roadnet.empty() != args.flow.empty()) {
        return ReportError(InvalidArgument("--roadnet/--flow", "give both files, or neither"), args.json);
    }
    if (args.roadnet.empty()) {
        district::DistrictSpec spec;
        spec.demand.duration_s = 3600 * args.sim_hours;
        spec.demand.peak_at_s = spec.demand.duration_s / 2;
        auto d = district::MakeDistrict(spec, args.seed);
        if (!d.ok()) return ReportError(d.error(), args.json);
        net = std::move(d->net);
        demand = std::move(d->demand);
    } else {
        auto n = io::LoadRoadnet(args.roadnet);
        if (!n.ok()) return ReportError(n.error(), args.json);
        net = std::move(n).value();
        auto f = io::LoadFlows(args.flow, net);
        if (!f.ok()) return ReportError(f.error(), args.json);
        demand = std::move(f).value();
        const auto problems = core::CheckRoutes(net, demand);
        if (!problems.empty()) {
            return ReportError(InvalidArgument(args.flow, core::DescribeRouteProblems(net, demand, problems)), args.json);
        }
        source = args.roadnet;
    }
    if (!args.json) {
        std::fprintf(stderr, "citybrain run: %s, %zu signals, %zu vehicles, %.1f simulated hours\n", source.c_str(),
                     static_cast<size_t>(net.NumSignalised()), demand.flows.size(), args.sim_hours);
        if (!args.no_serve) std::fprintf(stderr, "note: the live dashboard is not built yet (issue 5); running headless\n");
    }
    traffic::RunOptions options;
    options.steps = static_cast<int64_t>(3600 * args.sim_hours);
    options.sim.seed = args.seed;
    options.sim.threads = args.threads;
    options.progress = !args.json;
    options.controller = "fixed";
    auto fixed = traffic::RunScenario(net, demand, options);
    if (!fixed.ok()) return ReportError(fixed.error(), args.json);
    options.controller = args.adaptive;
    auto adaptive = traffic::RunScenario(net, demand, options);
    if (!adaptive.ok()) return ReportError(adaptive.error(), args.json);

    const auto& a = adaptive->metrics;
    const auto& f = fixed->metrics;
    nlohmann::json report = {{"scenario", source},
                             {"seed", args.seed},
                             {"sim_hours", args.sim_hours},
                             {"adaptive_controller", args.adaptive},
                             {"att_adaptive_s", a.att_s},
                             {"att_fixed_s", f.att_s},
                             {"att_change", f.att_s > 0 ? a.att_s / f.att_s - 1 : 0.0},
                             {"throughput_adaptive", a.throughput},
                             {"throughput_fixed", f.throughput},
                             {"avg_delay_adaptive_s", a.avg_delay_s},
                             {"avg_delay_fixed_s", f.avg_delay_s},
                             {"vehicles", a.spawned},
                             {"wall_s", adaptive->wall_s + fixed->wall_s}};
    if (!args.report.empty()) {
        std::ofstream out(args.report);
        if (!out) return ReportError(InvalidArgument("--report", "cannot write '" + args.report + "'"), args.json);
        out << report.dump(2) << "\n";
    }
    if (args.json) {
        std::printf("%s\n", report.dump().c_str());
        return kExitOk;
    }
    std::printf("\n%-28s %14s %14s\n", "", "fixed-time", args.adaptive.c_str());
    std::printf("%-28s %14.1f %14.1f\n", "average travel time, s", f.att_s, a.att_s);
    std::printf("%-28s %14.1f %14.1f\n", "ATT of finished trips, s", f.att_finished_s, a.att_finished_s);
    std::printf("%-28s %14lld %14lld\n", "trips completed", static_cast<long long>(f.throughput),
                static_cast<long long>(a.throughput));
    std::printf("%-28s %14.1f %14.1f\n", "average delay, s", f.avg_delay_s, a.avg_delay_s);
    std::printf("%-28s %14.2f %14.2f\n", "average queue, veh/lane", f.avg_queue_veh, a.avg_queue_veh);
    std::printf("\nadaptive control changes average travel time by %+.1f %% against fixed-time (same seed and demand)\n",
                f.att_s > 0 ? 100.0 * (a.att_s / f.att_s - 1) : 0.0);
    return kExitOk;
}

}  // namespace

void RegisterRun(CLI::App& app) {
    auto args = std::make_shared<RunArgs>();
    auto* cmd = app.add_subcommand("run", "run the embedded district brain and report against a fixed-time baseline");
    cmd->add_option("--seed", args->seed, "scenario seed")->capture_default_str();
    cmd->add_option("--sim-hours", args->sim_hours, "simulated hours")->capture_default_str();
    cmd->add_option("--threads", args->threads, "simulation threads")->capture_default_str();
    cmd->add_option("--roadnet", args->roadnet, "run on a CityFlow network instead of the generated district");
    cmd->add_option("--flow", args->flow, "CityFlow flow file for --roadnet");
    cmd->add_option("--adaptive", args->adaptive, "adaptive controller (maxpressure, sotl, webster)")->capture_default_str();
    cmd->add_option("--report", args->report, "write the results as JSON to this file");
    cmd->add_flag("--no-serve", args->no_serve, "headless (no dashboard)");
    cmd->add_flag("--json", args->json, "print the results as one JSON object");
    cmd->callback([args] { SetExitCode(Run(*args)); });
}

}  // namespace citybrain::apps
