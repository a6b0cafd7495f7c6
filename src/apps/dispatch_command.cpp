// SPDX-License-Identifier: Apache-2.0
// `citybrain dispatch route`: shortest travel time between two nodes of a road network.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/commands.hpp"
#include "core/network_generator.hpp"
#include "dispatch/assignment.hpp"
#include "dispatch/contraction.hpp"
#include "dispatch/speech.hpp"
#include "dispatch/vrptw.hpp"
#include "io/cityflow.hpp"

namespace citybrain::apps {

namespace {

struct RouteArgs {
    std::string net;
    std::string from;
    std::string to;
    bool json = false;
};

/// A CityFlow roadnet (.json) or SUMO plain XML; with no file, the embedded default district's grid.
Result<dispatch::RoadGraph> LoadGraph(const std::string& path) {
    if (path.empty()) {
        core::GridSpec spec;
        spec.rows = 30;
        spec.cols = 30;
        spec.arterial_every = 3;
        CB_TRY_ASSIGN(auto net, core::GenerateGrid(spec));
        return dispatch::RoadGraph::FromRoadNetwork(net);
    }
    if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
        CB_TRY_ASSIGN(auto net, io::LoadRoadnet(path));
        return dispatch::RoadGraph::FromRoadNetwork(net);
    }
    return dispatch::LoadRoadGraph(path);
}

int Route(const RouteArgs& args) {
    auto graph = LoadGraph(args.net);
    if (!graph.ok()) return ReportError(graph.error(), args.json);
    auto from = graph->Find(args.from);
    if (!from.ok()) return ReportError(InvalidArgument("--from", from.error().message), args.json);
    auto to = graph->Find(args.to);
    if (!to.ok()) return ReportError(InvalidArgument("--to", to.error().message), args.json);
    auto path = dispatch::ShortestPath(*graph, *from, *to);
    if (!path) {
        return ReportError(InvalidArgument("--to", "'" + args.to + "' cannot be reached from '" + args.from + "'"),
                           args.json);
    }
    nlohmann::json nodes = nlohmann::json::array();
    for (auto v : path->nodes) nodes.push_back(graph->node_names[v]);
    if (args.json) {
        std::printf("%s\n",
                    nlohmann::json{{"travel_time_s", static_cast<double>(path->time_ms) / 1000.0},
                                   {"length_m", path->length_m},
                                   {"nodes", nodes}}
                        .dump()
                        .c_str());
        return kExitOk;
    }
    std::printf("travel time  %.1f s\nlength       %.0f m\nnodes        %s\n",
                static_cast<double>(path->time_ms) / 1000.0,
                path->length_m,
                nodes.dump().c_str());
    return kExitOk;
}

struct AssignArgs {
    std::string net;
    int64_t units = 1000;
    int64_t tasks = 1000;
    uint64_t seed = 1;
    bool mixed = false;
    bool json = false;
};

int AssignCommand(const AssignArgs& args) {
    if (args.units < 0) return ReportError(InvalidArgument("--units", "must be >= 0"), args.json);
    if (args.tasks < 0) return ReportError(InvalidArgument("--tasks", "must be >= 0"), args.json);
    auto graph = LoadGraph(args.net);
    if (!graph.ok()) return ReportError(graph.error(), args.json);
    if (graph->nodes() == 0) return ReportError(InvalidArgument("--net", "the network has no nodes"), args.json);
    const auto ch = dispatch::ContractionHierarchy::Build(*graph);
    const auto problem = dispatch::GenerateAssignmentProblem(
        *graph, static_cast<size_t>(args.units), static_cast<size_t>(args.tasks), args.seed, args.mixed);
    // Timed: the travel-time matrix and the assignment, what a re-plan costs when tasks arrive.
    const auto t0 = std::chrono::steady_clock::now();
    const auto table = dispatch::TravelTable(ch, problem.units, problem.tasks);
    const auto t1 = std::chrono::steady_clock::now();
    const auto result = dispatch::Assign(problem.units, problem.tasks, table);
    const auto t2 = std::chrono::steady_clock::now();
    const auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
    double eta_sum = 0;
    for (double e : result.eta_s) eta_sum += e;
    const double mean_eta = result.assigned > 0 ? eta_sum / static_cast<double>(result.assigned) : 0;
    if (args.json) {
        std::printf("%s\n",
                    nlohmann::json{{"cost", result.cost},
                                   {"wall_s", seconds(t2 - t0)},
                                   {"matrix_s", seconds(t1 - t0)},
                                   {"solve_s", seconds(t2 - t1)},
                                   {"units", args.units},
                                   {"tasks", args.tasks},
                                   {"assigned", result.assigned},
                                   {"unserved", problem.tasks.size() - result.assigned},
                                   {"mean_eta_s", mean_eta}}
                        .dump()
                        .c_str());
        return kExitOk;
    }
    std::printf(
        "units %lld, tasks %lld on %zu nodes\nassigned     %zu (unserved %zu)\nmean ETA     %.1f s\n"
        "cost         %.1f\nwall         %.1f ms (matrix %.1f ms, solve %.1f ms)\n",
        static_cast<long long>(args.units),
        static_cast<long long>(args.tasks),
        graph->nodes(),
        result.assigned,
        problem.tasks.size() - result.assigned,
        mean_eta,
        result.cost,
        seconds(t2 - t0) * 1e3,
        seconds(t1 - t0) * 1e3,
        seconds(t2 - t1) * 1e3);
    return kExitOk;
}

struct VrpArgs {
    std::string instance;
    double time_limit_s = 2.0;
    uint64_t iterations = 0;
    uint64_t seed = 1;
    bool routes = false;
    bool json = false;
};

int VrpCommand(const VrpArgs& args) {
    if (!(args.time_limit_s > 0)) return ReportError(InvalidArgument("--time-limit", "must be > 0"), args.json);
    auto inst = dispatch::LoadSolomon(args.instance);
    if (!inst.ok()) return ReportError(inst.error(), args.json);
    dispatch::VrpOptions opt;
    opt.time_limit_s = args.time_limit_s;
    opt.iterations = args.iterations;
    opt.seed = args.seed;
    const auto sol = dispatch::SolveVrptw(*inst, opt);
    if (auto ok = dispatch::CheckVrpSolution(*inst, sol); !ok.ok()) {
        return ReportError(Error{ErrorCode::kInternal, "solution check failed: " + ok.error().ToString(), ""},
                           args.json);
    }
    if (args.json) {
        nlohmann::json out{{"instance", inst->name},
                           {"distance", sol.distance},
                           {"vehicles", sol.routes.size()},
                           {"unassigned", sol.unassigned.size()},
                           {"wall_s", sol.wall_s},
                           {"iterations", sol.iterations}};
        if (args.routes) out["routes"] = sol.routes;
        std::printf("%s\n", out.dump().c_str());
        return kExitOk;
    }
    std::printf(
        "%s: %zu customers, %d vehicles of capacity %d\ndistance     %.2f\nvehicles     %zu\n"
        "unassigned   %zu\nwall         %.2f s (%llu iterations)\n",
        inst->name.c_str(),
        inst->customers(),
        inst->vehicles,
        inst->capacity,
        sol.distance,
        sol.routes.size(),
        sol.unassigned.size(),
        sol.wall_s,
        static_cast<unsigned long long>(sol.iterations));
    if (args.routes) {
        for (size_t r = 0; r < sol.routes.size(); ++r) {
            std::printf("route %zu:", r + 1);
            for (int c : sol.routes[r]) std::printf(" %d", c);
            std::printf("\n");
        }
    }
    return kExitOk;
}

struct SpeakArgs {
    std::string text;
    std::string out;
    bool json = false;
};

int SpeakCommand(const SpeakArgs& args) {
    auto pinyin = dispatch::ToPinyin(args.text);
    if (!pinyin.ok()) return ReportError(pinyin.error(), args.json);
    auto wave = dispatch::SynthesizePinyin(*pinyin);
    if (!wave.ok()) return ReportError(wave.error(), args.json);
    if (auto st = dispatch::WriteWav(args.out, *wave); !st.ok()) return ReportError(st.error(), args.json);
    if (args.json) {
        std::printf("%s\n",
                    nlohmann::json{{"out", args.out},
                                   {"seconds", wave->seconds()},
                                   {"sample_rate", wave->sample_rate},
                                   {"pinyin", *pinyin}}
                        .dump()
                        .c_str());
        return kExitOk;
    }
    std::printf(
        "%s: %.2f s at %d Hz\npinyin: %s\n", args.out.c_str(), wave->seconds(), wave->sample_rate, pinyin->c_str());
    return kExitOk;
}

}  // namespace

void RegisterDispatch(CLI::App& app) {
    auto* dispatch = app.add_subcommand("dispatch", "dispatch engine: road routing, assignment, vehicle routing");
    dispatch->require_subcommand(1);
    auto args = std::make_shared<RouteArgs>();
    auto* route = dispatch->add_subcommand("route", "fastest route between two nodes (intersection ids)");
    route->add_option("--net", args->net, "CityFlow roadnet .json, or SUMO plain XML (.nod.xml/.edg.xml)")->required();
    route->add_option("--from", args->from, "start node")->required();
    route->add_option("--to", args->to, "destination node")->required();
    route->add_flag("--json", args->json, "machine-readable output");
    route->callback([args] { SetExitCode(Route(*args)); });

    auto a = std::make_shared<AssignArgs>();
    auto* assign = dispatch->add_subcommand(
        "assign", "optimal assignment of units to tasks on a generated problem (travel times by CH)");
    assign->add_option("--net", a->net, "road network (default: the embedded 30x30 district grid)");
    assign->add_option("--units", a->units, "number of units")->capture_default_str();
    assign->add_option("--tasks", a->tasks, "number of tasks")->capture_default_str();
    assign->add_option("--seed", a->seed, "generator seed")->capture_default_str();
    assign->add_flag("--mixed", a->mixed, "four unit kinds with battery ranges, some busy; tasks accept some kinds");
    assign->add_flag("--json", a->json, "machine-readable output");
    assign->callback([a] { SetExitCode(AssignCommand(*a)); });

    auto v = std::make_shared<VrpArgs>();
    auto* vrp = dispatch->add_subcommand("vrp", "multi-stop routes with time windows (Solomon/Homberger text format)");
    vrp->add_option("instance", v->instance, "instance file, e.g. ../shared/data/dispatch/solomon/C101.txt")
        ->required();
    vrp->add_option("--time-limit", v->time_limit_s, "seconds of search")->capture_default_str();
    vrp->add_option("--iterations",
                    v->iterations,
                    "stop after this many steps instead of the time limit (a result that depends only on --seed)");
    vrp->add_option("--seed", v->seed, "random seed")->capture_default_str();
    vrp->add_flag("--routes", v->routes, "print the routes");
    vrp->add_flag("--json", v->json, "machine-readable output");
    vrp->callback([v] { SetExitCode(VrpCommand(*v)); });

    auto sp = std::make_shared<SpeakArgs>();
    auto* speak = app.add_subcommand("speak", "a Mandarin notice as a WAV file (espeak-ng, cmn-latn-pinyin voice)");
    speak->add_option("--text", sp->text, "the notice in Chinese, e.g. 请不要占道经营，谢谢配合")->required();
    speak->add_option("--out", sp->out, "WAV file to write")->required();
    speak->add_flag("--json", sp->json, "machine-readable output");
    speak->callback([sp] { SetExitCode(SpeakCommand(*sp)); });
}

}  // namespace citybrain::apps
