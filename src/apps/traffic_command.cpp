// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/commands.hpp"
#include "district/default_district.hpp"
#include "io/cbengine.hpp"
#include "io/cityflow.hpp"
#include "io/sumo.hpp"
#include "traffic/run.hpp"
#include "traffic/signal/train.hpp"

namespace citybrain::apps {

namespace {

int g_exit_code = kExitOk;

struct TrafficArgs {
    std::string roadnet;
    std::string flow;
    std::string cbengine_roadnet;
    std::string cbengine_flow;
    std::string cbengine_cfg;
    std::string sumo_net;
    std::string sumo_routes;
    std::string sumo_trips;
    std::string controller = "maxpressure";
    std::string controllers = "fixed,webster,sotl,maxpressure";
    double green_s = 25;
    double yellow_s = -1;   // < 0: the format's default
    double all_red_s = -1;  // < 0: the format's default
    double min_green_s = 5;
    double interval_s = -1;  // < 0: the format's default
    double step_s = 1;
    int64_t steps = -1;  // < 0: the format's default (3600, or the .cfg's)
    int threads = 1;
    uint64_t seed = 0;
    std::string phases;
    std::string policy;  // "learned": a policy file (default: the embedded one)
    bool json = false;
    bool skip_bad_routes = false;
    bool quiet = false;
};

struct Scenario {
    core::RoadNetwork net;
    core::Demand demand;
    size_t rejected_flows = 0;
    std::string source;
    traffic::SignalRules rules;  // the format's signal timing
    int64_t steps = 3600;
};

Result<std::vector<int32_t>> ParsePhases(const std::string& text) {
    std::vector<int32_t> out;
    if (text.empty()) return out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        try {
            size_t used = 0;
            const int v = std::stoi(item, &used);
            if (used != item.size() || v < 0) throw std::invalid_argument("bad");
            out.push_back(v);
        } catch (const std::exception&) {
            return InvalidArgument("--phases", "expected comma-separated phase indices, got '" + item + "'");
        }
    }
    return out;
}

Status LoadCbengine(const TrafficArgs& args, Scenario& s) {
    std::string roadnet = args.cbengine_roadnet;
    std::string flow = args.cbengine_flow;
    if (!args.cbengine_cfg.empty()) {
        if (!roadnet.empty() || !flow.empty()) {
            return InvalidArgument("--cbengine-cfg", "names the roadnet and flow; do not give them too");
        }
        CB_TRY_ASSIGN(const io::CbengineConfig cfg, io::LoadCbengineConfig(args.cbengine_cfg));
        if (cfg.start_s != 0) {
            return InvalidArgument(args.cbengine_cfg + " start_time_epoch", "only 0 is supported");
        }
        roadnet = cfg.roadnet_path;
        flow = cfg.flow_path;
        s.steps = cfg.end_s;
    } else if (roadnet.empty() != flow.empty()) {
        return InvalidArgument("--cbengine-roadnet/--cbengine-flow", "give both files");
    }
    io::CbengineImportNotes notes;
    CB_TRY_ASSIGN(s.net, io::LoadCbengineRoadnet(roadnet, &notes));
    CB_TRY_ASSIGN(s.demand, io::LoadCbengineFlows(flow, s.net));
    s.source = flow;
    s.rules = traffic::SignalRules::Cbengine();
    if (!args.quiet) {
        std::fprintf(stderr,
                     "note: %s: %d signalised intersections (8 phases), %d priority junctions, %d boundary nodes; %d "
                     "turns from angles, %d movements no lane permits (all lanes may take them)\n",
                     roadnet.c_str(),
                     notes.signalised,
                     notes.priority,
                     notes.boundary,
                     notes.geometric_turns,
                     notes.permission_fallbacks);
    }
    return {};
}

Status LoadSumo(const TrafficArgs& args, Scenario& s) {
    if (args.sumo_net.empty()) return InvalidArgument("--sumo-net", "is needed with --sumo-routes/--sumo-trips");
    if (args.sumo_routes.empty() == args.sumo_trips.empty()) {
        return InvalidArgument("--sumo-routes/--sumo-trips", "give one of them with --sumo-net");
    }
    const std::string& demand = args.sumo_routes.empty() ? args.sumo_trips : args.sumo_routes;
    io::SumoImportNotes notes;
    CB_TRY_ASSIGN(s.net, io::LoadSumoNet(args.sumo_net, &notes));
    CB_TRY_ASSIGN(s.demand, io::LoadSumoRoutes(demand, s.net));
    s.source = demand;
    if (!args.quiet) {
        std::fprintf(stderr,
                     "note: %s: %d signalised junctions (their programs' phases), %d priority junctions, %d boundary "
                     "nodes; skipped %d U-turn connections, %d lanes closed to cars, %d non-road edges\n",
                     args.sumo_net.c_str(),
                     notes.signalised,
                     notes.priority,
                     notes.boundary,
                     notes.u_turns_skipped,
                     notes.lanes_skipped,
                     notes.edges_skipped);
    }
    return {};
}

Result<Scenario> LoadScenario(const TrafficArgs& args) {
    Scenario s;
    const bool cbengine = !args.cbengine_roadnet.empty() || !args.cbengine_flow.empty() || !args.cbengine_cfg.empty();
    const bool sumo = !args.sumo_net.empty() || !args.sumo_routes.empty() || !args.sumo_trips.empty();
    const bool cityflow = !args.roadnet.empty() || !args.flow.empty();
    if (int(cbengine) + int(sumo) + int(cityflow) > 1) {
        return InvalidArgument(cbengine && sumo ? "--sumo-net" : "--roadnet",
                               "give one scenario: CityFlow, SUMO or CBEngine files");
    }
    if (args.roadnet.empty() != args.flow.empty()) {
        return InvalidArgument("--roadnet/--flow", "give both files, or neither for the embedded default district");
    }
    std::string flow_source = args.flow;
    if (cbengine) {
        CB_TRY(LoadCbengine(args, s));
        flow_source = s.source;
    } else if (sumo) {
        CB_TRY(LoadSumo(args, s));
        flow_source = s.source;
    } else if (args.roadnet.empty()) {
        CB_TRY_ASSIGN(district::District d, district::MakeDistrict({}, args.seed + 1));
        s.net = std::move(d.net);
        s.demand = std::move(d.demand);
        s.source = "embedded default district";
        return s;
    } else {
        CB_TRY_ASSIGN(s.net, io::LoadRoadnet(args.roadnet));
        CB_TRY_ASSIGN(s.demand, io::LoadFlows(args.flow, s.net));
        s.source = args.flow;
    }
    if (s.demand.single_road_dropped > 0 || s.demand.usual_neg_acc_clamped > 0) {
        std::fprintf(stderr,
                     "note: %s: %zu flows with a single-road route dropped (as CityFlow does), %zu flows' usualNegAcc "
                     "clamped to maxNegAcc\n",
                     flow_source.c_str(),
                     s.demand.single_road_dropped,
                     s.demand.usual_neg_acc_clamped);
    }
    const auto problems = core::CheckRoutes(s.net, s.demand);
    if (!problems.empty()) {
        const std::string text = core::DescribeRouteProblems(s.net, s.demand, problems);
        if (!args.skip_bad_routes) {
            return InvalidArgument(flow_source, text + "\n(--skip-bad-routes runs without them)");
        }
        std::fprintf(stderr, "warning: %s: %s\n  skipped.\n", flow_source.c_str(), text.c_str());
        std::vector<bool> bad(s.demand.flows.size(), false);
        for (const auto& p : problems) bad[p.flow_index] = true;
        std::vector<core::Flow> kept;
        for (size_t i = 0; i < s.demand.flows.size(); ++i) {
            if (!bad[i]) kept.push_back(std::move(s.demand.flows[i]));
        }
        s.rejected_flows = s.demand.flows.size() - kept.size();
        s.demand.flows = std::move(kept);
    }
    return s;
}

Result<traffic::RunOptions> MakeRunOptions(const TrafficArgs& args,
                                           const Scenario& scenario,
                                           const std::string& controller) {
    traffic::RunOptions o;
    o.controller = controller;
    o.steps = args.steps >= 0 ? args.steps : scenario.steps;
    o.sim.step_s = args.step_s;
    o.sim.seed = args.seed;
    o.sim.threads = args.threads;
    o.sim.min_green_s = args.min_green_s;
    scenario.rules.ApplyTo(o);
    if (args.all_red_s >= 0) o.sim.all_red_s = args.all_red_s;
    if (args.yellow_s >= 0) o.yellow_s = args.yellow_s;
    o.control.green_s = args.green_s;
    if (args.interval_s >= 0) o.control.action_interval_s = args.interval_s;
    CB_TRY_ASSIGN(o.control.phases, ParsePhases(args.phases));
    if (!args.policy.empty()) {
        CB_TRY_ASSIGN(auto policy, traffic::LoadPolicy(args.policy));
        o.control.policy = std::make_shared<const traffic::SignalPolicy>(std::move(policy));
    }
    o.progress = !args.quiet;
    return o;
}

nlohmann::json ToJson(const traffic::RunResult& r, const Scenario& s) {
    const traffic::Metrics& m = r.metrics;
    return {{"controller", r.controller},
            {"att_s", m.att_s},
            {"att_finished_s", m.att_finished_s},
            {"throughput", m.throughput},
            {"spawned", m.spawned},
            {"in_network_end", m.in_network_end},
            {"waiting_to_enter_end", m.waiting_to_enter},
            {"avg_delay_s", m.avg_delay_s},
            {"avg_queue_veh_per_lane", m.avg_queue_veh},
            {"vehicle_updates", m.vehicle_updates},
            {"vehicle_updates_per_s", r.wall_s > 0 ? static_cast<double>(m.vehicle_updates) / r.wall_s : 0.0},
            {"steps", m.steps},
            {"sim_time_s", m.sim_time_s},
            {"wall_s", r.wall_s},
            {"unroutable", m.unroutable},
            {"rejected_flows", s.rejected_flows},
            {"single_road_flows_dropped", s.demand.single_road_dropped},
            {"usual_neg_acc_clamped", s.demand.usual_neg_acc_clamped},
            {"state_hash", r.state_hash}};
}

void AddScenarioOptions(CLI::App* cmd, TrafficArgs& a) {
    cmd->add_option("--roadnet", a.roadnet, "CityFlow roadnet JSON (omit both files for the embedded district)");
    cmd->add_option("--flow", a.flow, "CityFlow flow JSON");
    cmd->add_option("--sumo-net", a.sumo_net, "SUMO .net.xml (with --sumo-routes or --sumo-trips)");
    cmd->add_option("--sumo-routes", a.sumo_routes, "SUMO .rou.xml: vehicles, routes, flows");
    cmd->add_option("--sumo-trips", a.sumo_trips, "SUMO .trips.xml: trips and flows from/to, routed by free-flow time");
    cmd->add_option("--cbengine-roadnet", a.cbengine_roadnet, "CBEngine (KDD Cup 2021) roadnet .txt");
    cmd->add_option("--cbengine-flow", a.cbengine_flow, "CBEngine flow .txt");
    cmd->add_option("--cbengine-cfg", a.cbengine_cfg, "CBEngine simulator .cfg (names the roadnet, flow and end time)");
    cmd->add_option("--green", a.green_s, "fixed-time green per phase, s (Webster: first cycle)")
        ->capture_default_str();
    cmd->add_option("--yellow", a.yellow_s, "yellow at a switch, s (default 5, own-plan 0; CBEngine 0)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--all-red", a.all_red_s, "all-red after yellow, s (default 0; CBEngine 5)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--min-green", a.min_green_s, "minimum green, s")->capture_default_str();
    cmd->add_option("--action-interval", a.interval_s, "max-pressure decision interval, s (default 15; CBEngine 10)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--phases",
                    a.phases,
                    "phase indices the controllers use, e.g. 1,2,3,4 (default: all but the "
                    "clearance phase; fixed/webster/sotl: a cycle covering each movement once)");
    cmd->add_option("--interval", a.step_s, "simulation step, s")->capture_default_str();
    cmd->add_option("--steps", a.steps, "steps to simulate (default 3600, or the CBEngine .cfg's end)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--threads", a.threads, "worker threads (results do not depend on it)")->capture_default_str();
    cmd->add_option("--seed", a.seed, "random seed")->capture_default_str();
    cmd->add_option("--policy", a.policy, "the learned controller's policy file (default: the embedded one)");
    cmd->add_flag("--json", a.json, "print one JSON object");
    cmd->add_flag(
        "--skip-bad-routes", a.skip_bad_routes, "run without flows whose route cannot be followed (reported)");
    cmd->add_flag("--quiet", a.quiet, "no progress line");
}

int RunCommand(const TrafficArgs& args) {
    auto scenario = LoadScenario(args);
    if (!scenario.ok()) return ReportError(scenario.error(), args.json);
    auto options = MakeRunOptions(args, *scenario, args.controller);
    if (!options.ok()) return ReportError(options.error(), args.json);
    auto result = traffic::RunScenario(scenario->net, scenario->demand, *options);
    if (!result.ok()) return ReportError(result.error(), args.json);
    if (args.json) {
        std::printf("%s\n", ToJson(*result, *scenario).dump().c_str());
        return kExitOk;
    }
    const traffic::Metrics& m = result->metrics;
    std::printf("scenario        %s\n", scenario->source.c_str());
    std::printf("controller      %s\n", result->controller.c_str());
    std::printf("ATT (CityFlow)  %.1f s\n", m.att_s);
    std::printf("ATT (finished)  %.1f s\n", m.att_finished_s);
    std::printf("throughput      %lld of %lld vehicles\n",
                static_cast<long long>(m.throughput),
                static_cast<long long>(m.spawned));
    std::printf("in network end  %lld (%lld waiting to enter)\n",
                static_cast<long long>(m.in_network_end),
                static_cast<long long>(m.waiting_to_enter));
    std::printf("avg delay       %.1f s\n", m.avg_delay_s);
    std::printf("avg queue       %.2f veh/lane\n", m.avg_queue_veh);
    std::printf("wall            %.3f s (%.2f M vehicle-updates/s)\n",
                result->wall_s,
                result->wall_s > 0 ? static_cast<double>(m.vehicle_updates) / result->wall_s / 1e6 : 0.0);
    return kExitOk;
}

int CompareCommand(const TrafficArgs& args) {
    auto scenario = LoadScenario(args);
    if (!scenario.ok()) return ReportError(scenario.error(), args.json);
    std::vector<std::string> names;
    std::stringstream ss(args.controllers);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (!item.empty()) names.push_back(item);
    }
    if (std::find(names.begin(), names.end(), "fixed") == names.end()) names.insert(names.begin(), "fixed");
    std::vector<traffic::RunResult> results;
    for (const std::string& name : names) {
        auto options = MakeRunOptions(args, *scenario, name);
        if (!options.ok()) return ReportError(options.error(), args.json);
        auto result = traffic::RunScenario(scenario->net, scenario->demand, *options);
        if (!result.ok()) return ReportError(result.error(), args.json);
        results.push_back(std::move(result).value());
    }
    double fixed_att = 0;
    for (const auto& r : results) {
        if (r.controller == "fixed") fixed_att = r.metrics.att_s;
    }
    if (args.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& r : results) {
            auto j = ToJson(r, *scenario);
            j["att_change_vs_fixed"] = fixed_att > 0 ? r.metrics.att_s / fixed_att - 1 : 0.0;
            out.push_back(j);
        }
        std::printf("%s\n", nlohmann::json{{"scenario", scenario->source}, {"runs", out}}.dump().c_str());
        return kExitOk;
    }
    std::printf("scenario: %s, %lld steps\n",
                scenario->source.c_str(),
                static_cast<long long>(args.steps >= 0 ? args.steps : scenario->steps));
    std::printf("%-12s %9s %9s %11s %9s %9s %8s %8s %9s\n",
                "controller",
                "ATT s",
                "vs fixed",
                "ATT fin. s",
                "through",
                "in net",
                "delay s",
                "queue",
                "wall s");
    for (const auto& r : results) {
        const auto& m = r.metrics;
        const double change = fixed_att > 0 ? 100.0 * (m.att_s / fixed_att - 1) : 0.0;
        std::printf("%-12s %9.1f %+8.1f%% %11.1f %9lld %9lld %8.1f %8.2f %9.3f\n",
                    r.controller.c_str(),
                    m.att_s,
                    change,
                    m.att_finished_s,
                    static_cast<long long>(m.throughput),
                    static_cast<long long>(m.in_network_end),
                    m.avg_delay_s,
                    m.avg_queue_veh,
                    r.wall_s);
    }
    return kExitOk;
}

struct GenerateArgs {
    core::GridSpec grid;
    traffic::DemandSpec demand;
    std::string out_roadnet;
    std::string out_flow;
};

int GenerateCommand(const GenerateArgs& args) {
    auto net = core::GenerateGrid(args.grid);
    if (!net.ok()) return ReportError(net.error(), false);
    auto demand = traffic::GenerateDemand(*net, args.demand);
    if (!demand.ok()) return ReportError(demand.error(), false);
    std::ofstream r(args.out_roadnet);
    std::ofstream f(args.out_flow);
    if (!r || !f)
        return ReportError(InvalidArgument("--out-roadnet/--out-flow", "cannot write the output files"), false);
    r << io::WriteRoadnet(*net);
    f << io::WriteFlows(*net, *demand);
    std::printf("wrote %s (%zu intersections, %zu roads) and %s (%zu vehicles)\n",
                args.out_roadnet.c_str(),
                net->intersections.size(),
                net->roads.size(),
                args.out_flow.c_str(),
                demand->flows.size());
    return kExitOk;
}

struct TrainArgs {
    std::vector<std::string> scenarios;  // ROADNET,FLOW (CityFlow files)
    traffic::TrainOptions train;
    std::string start;
    std::string out;
    int64_t steps = 3600;
    bool json = false;
};

int TrainCommand(const TrainArgs& args) {
    if (args.out.empty()) return ReportError(InvalidArgument("--out", "name the policy file to write"), args.json);
    std::vector<Scenario> loaded;
    loaded.reserve(args.scenarios.size());  // TrainScenario points into it
    std::vector<traffic::TrainScenario> scenarios;
    std::string names;
    for (const std::string& spec : args.scenarios) {
        const size_t comma = spec.find(',');
        if (comma == std::string::npos) {
            return ReportError(InvalidArgument("--scenario", "expected ROADNET,FLOW, got '" + spec + "'"), args.json);
        }
        TrafficArgs ta;
        ta.roadnet = spec.substr(0, comma);
        ta.flow = spec.substr(comma + 1);
        ta.quiet = true;
        auto s = LoadScenario(ta);
        if (!s.ok()) return ReportError(s.error(), args.json);
        loaded.push_back(std::move(s).value());
        ta.steps = args.steps;
        auto o = MakeRunOptions(ta, loaded.back(), "learned");
        if (!o.ok()) return ReportError(o.error(), args.json);
        const std::string name = std::filesystem::path(ta.flow).filename().string();
        scenarios.push_back({name, &loaded.back().net, &loaded.back().demand, std::move(o).value()});
        names += (names.empty() ? "" : ", ") + name;
    }
    traffic::TrainOptions options = args.train;
    if (args.start.empty()) {
        options.start.weights = {
            1, 2, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0};  // advanced-mp's pressure: queue + 2 moving - exit queue
    } else {
        auto start = traffic::LoadPolicy(args.start);
        if (!start.ok()) return ReportError(start.error(), args.json);
        options.start = std::move(start).value();
    }
    if (!std::ofstream(args.out)) {  // before minutes of training, not after (and after --start was read)
        return ReportError(InvalidArgument("--out", "cannot write " + args.out), args.json);
    }
    const std::string trained_on = names + " (" + std::to_string(args.steps) + " s each)";
    auto result = traffic::TrainPolicy(scenarios, options, [&](const traffic::TrainIteration& it) {
        traffic::SignalPolicy best = it.best;
        best.trained_on = trained_on;
        std::ofstream checkpoint(args.out);  // a long run can be stopped and its best so far kept
        checkpoint << traffic::PolicyToJson(best);
        if (!args.json) {
            std::fprintf(
                stderr, "iteration %3d  score %.4f  best %.4f\n", it.iteration, it.center_score, it.best_score);
        }
    });
    if (!result.ok()) return ReportError(result.error(), args.json);
    result->policy.trained_on = trained_on;
    std::ofstream f(args.out);
    f << traffic::PolicyToJson(result->policy);
    if (!f.flush()) return ReportError(InvalidArgument("--out", "cannot write " + args.out), args.json);
    if (args.json) {
        nlohmann::json j;
        j["policy"] = args.out;
        j["train_score"] = result->policy.train_score;
        j["weights"] = result->policy.weights;
        nlohmann::json per = nlohmann::json::array();
        for (size_t i = 0; i < scenarios.size(); ++i) {
            per.push_back({{"scenario", scenarios[i].name},
                           {"maxpressure_att_s", result->baseline_att[i]},
                           {"learned_att_s", result->policy_att[i]}});
        }
        j["scenarios"] = per;
        std::printf("%s\n", j.dump().c_str());
        return kExitOk;
    }
    std::printf("wrote %s: mean ATT %.1f %% of max-pressure's on the training scenarios\n",
                args.out.c_str(),
                100 * result->policy.train_score);
    for (size_t i = 0; i < scenarios.size(); ++i) {
        std::printf("  %-40s max-pressure %7.1f s  learned %7.1f s\n",
                    scenarios[i].name.c_str(),
                    result->baseline_att[i],
                    result->policy_att[i]);
    }
    return kExitOk;
}

}  // namespace

int ExitCode() { return g_exit_code; }
void SetExitCode(int code) { g_exit_code = code; }

int ReportError(const Error& error, bool json) {
    const bool bad_input = error.code == ErrorCode::kInvalidArgument || error.code == ErrorCode::kNotFound;
    std::fprintf(stderr, "error: %s\n", error.ToString().c_str());
    if (json) {
        std::printf(
            "%s\n",
            nlohmann::json{
                {"error", {{"code", ErrorCodeName(error.code)}, {"where", error.where}, {"message", error.message}}}}
                .dump()
                .c_str());
    }
    return bad_input ? kExitBadInput : kExitInternal;
}

void RegisterTraffic(CLI::App& app) {
    auto* traffic = app.add_subcommand("traffic", "traffic engine: simulate, compare signal controllers, generate");
    traffic->require_subcommand(1);

    auto run_args = std::make_shared<TrafficArgs>();
    auto* run = traffic->add_subcommand("run", "simulate a scenario under one signal controller");
    AddScenarioOptions(run, *run_args);
    run->add_option("--controller",
                    run_args->controller,
                    "own-plan|fixed|webster|sotl|maxpressure|advanced-mp|learned|predictive|auto")
        ->capture_default_str();
    run->callback([run_args] { SetExitCode(RunCommand(*run_args)); });

    auto cmp_args = std::make_shared<TrafficArgs>();
    auto* cmp =
        traffic->add_subcommand("compare", "run several controllers on one scenario; change against fixed-time");
    AddScenarioOptions(cmp, *cmp_args);
    cmp->add_option("--controllers", cmp_args->controllers, "comma-separated controllers")->capture_default_str();
    cmp->callback([cmp_args] { SetExitCode(CompareCommand(*cmp_args)); });

    auto train_args = std::make_shared<TrainArgs>();
    auto* train = traffic->add_subcommand(
        "train",
        "train the learned signal policy (evolution strategies) on CityFlow scenarios; same seed, same policy");
    train->add_option("--scenario", train_args->scenarios, "ROADNET,FLOW: a training scenario (repeat for more)")
        ->required();
    train->add_option("--out", train_args->out, "the policy file to write")->required();
    train->add_option("--start", train_args->start, "a policy file to start from (default: advanced-mp's weights)");
    train->add_option("--iterations", train_args->train.iterations)->capture_default_str();
    train->add_option("--pairs", train_args->train.pairs, "perturbation pairs per iteration")->capture_default_str();
    train->add_option("--sigma", train_args->train.sigma, "perturbation size")->capture_default_str();
    train->add_option("--step", train_args->train.step, "learning rate (in sigmas)")->capture_default_str();
    train->add_option("--seed", train_args->train.seed)->capture_default_str();
    train->add_option("--threads", train_args->train.threads, "scenarios run in parallel (results do not depend on it)")
        ->capture_default_str();
    train->add_option("--steps", train_args->steps, "simulated seconds per scenario")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    train->add_flag("--json", train_args->json, "print one JSON object");
    train->callback([train_args] { SetExitCode(TrainCommand(*train_args)); });

    auto gen_args = std::make_shared<GenerateArgs>();
    auto* gen = traffic->add_subcommand("generate", "write a synthetic grid district and its demand as CityFlow JSON");
    gen->add_option("--rows", gen_args->grid.rows)->capture_default_str();
    gen->add_option("--cols", gen_args->grid.cols)->capture_default_str();
    gen->add_option("--block", gen_args->grid.block_m, "block length, m")->capture_default_str();
    gen->add_option("--lanes", gen_args->grid.lanes, "lanes per direction")->capture_default_str();
    gen->add_option("--arterial-every", gen_args->grid.arterial_every, "every k-th row is an arterial (0: none)")
        ->capture_default_str();
    gen->add_option("--vehicles-per-hour", gen_args->demand.vehicles_per_hour)->capture_default_str();
    gen->add_option("--duration", gen_args->demand.duration_s, "demand horizon, s")->capture_default_str();
    gen->add_option("--peak-ratio", gen_args->demand.peak_ratio)->capture_default_str();
    gen->add_option("--seed", gen_args->demand.seed)->capture_default_str();
    gen->add_option("--out-roadnet", gen_args->out_roadnet)->required();
    gen->add_option("--out-flow", gen_args->out_flow)->required();
    gen->callback([gen_args] { SetExitCode(GenerateCommand(*gen_args)); });
}

}  // namespace citybrain::apps
