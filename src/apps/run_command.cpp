// SPDX-License-Identifier: Apache-2.0
// `citybrain run`: the main job. The embedded district (or a CityFlow network) under the brain: traffic with
// adaptive signals, vendors, rain and citizen messages turned into cases, units dispatched and notices played,
// with the live dashboard; at the end the results against a fixed-time run of the same seed and demand.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "apps/commands.hpp"
#include "apps/flood_cameras.hpp"
#include "apps/gateway_args.hpp"
#include "core/pace.hpp"
#include "district/brain.hpp"
#include "district/default_district.hpp"
#include "incident/engine.hpp"
#include "io/cbengine.hpp"
#include "io/cityflow.hpp"
#include "io/sumo.hpp"
#include "server/api.hpp"
#include "server/http_server.hpp"
#include "traffic/run.hpp"
#include "web/assets.hpp"

namespace citybrain::apps {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void OnStopSignal(int) { g_stop.store(true); }

struct RunArgs {
    uint64_t seed = 1;
    double sim_hours = 1;
    int threads = 1;
    std::string roadnet;
    std::string flow;
    std::string sumo_net;
    std::string sumo_routes;
    std::string cbengine_roadnet;
    std::string cbengine_flow;
    std::string landmarks;
    std::string report;
    std::string adaptive = "auto";
    std::string speedup;  // "max", a number, or empty for the default (60 with the dashboard, max without)
    std::string db = "citybrain-run.db";
    double demand = 0;  // vehicles per hour at the peak; 0 = the district's default
    std::string grid;   // ROWSxCOLS of the generated district; "" = the default 6x6
    int port = 8080;
    std::string keys_file;
    std::vector<std::string> allowed_origins;
    DeskArgs desk;
    ClassifierArgs classifier;
    bool no_serve = false;
    bool hold = false;
    bool json = false;
    bool vision = false;
    std::string detector_model = "build/models/centernet.onnx";
};

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string SimClock(double t_s) {
    // Simulated second 0 is 07:00 Beijing time.
    const long s = static_cast<long>(t_s) + 7L * 3600;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", (s / 3600) % 24, (s / 60) % 60, s % 60);
    return buf;
}

int Run(const RunArgs& args) {
    const auto start = Clock::now();
    if (!(args.sim_hours > 0) || args.sim_hours > 48) {
        return ReportError(InvalidArgument("--sim-hours", "must be in (0, 48]"), args.json);
    }
    if (args.port < 0 || args.port > 65535)
        return ReportError(InvalidArgument("--port", "must be 0..65535"), args.json);
    double speedup = 0;  // 0 = as fast as it goes
    if (args.speedup.empty()) {
        speedup = args.no_serve ? 0 : 60;
    } else if (args.speedup != "max") {
        try {
            size_t used = 0;
            speedup = std::stod(args.speedup, &used);
            if (used != args.speedup.size() || !(speedup > 0) || speedup > 1e6) throw std::invalid_argument("");
        } catch (const std::exception&) {
            return ReportError(
                InvalidArgument("--speedup", "must be 'max' or a number in (0, 1e6], not '" + args.speedup + "'"),
                args.json);
        }
    }
    if (args.roadnet.empty() != args.flow.empty()) {
        return ReportError(InvalidArgument("--roadnet/--flow", "give both files, or neither"), args.json);
    }
    if (args.sumo_net.empty() != args.sumo_routes.empty()) {
        return ReportError(InvalidArgument("--sumo-net/--sumo-routes", "give both files, or neither"), args.json);
    }
    if (args.cbengine_roadnet.empty() != args.cbengine_flow.empty()) {
        return ReportError(InvalidArgument("--cbengine-roadnet/--cbengine-flow", "give both files, or neither"),
                           args.json);
    }
    const std::string network_file = !args.roadnet.empty()    ? args.roadnet
                                     : !args.sumo_net.empty() ? args.sumo_net
                                                              : args.cbengine_roadnet;
    const std::string demand_file = !args.roadnet.empty()    ? args.flow
                                    : !args.sumo_net.empty() ? args.sumo_routes
                                                             : args.cbengine_flow;
    if (int(!args.roadnet.empty()) + int(!args.sumo_net.empty()) + int(!args.cbengine_roadnet.empty()) > 1) {
        return ReportError(InvalidArgument("--roadnet", "give one network: CityFlow, SUMO or CBEngine"), args.json);
    }
    if (!args.grid.empty() && !network_file.empty()) {
        return ReportError(InvalidArgument("--grid", "sets the generated district; --roadnet gives a network"),
                           args.json);
    }
    if (args.demand < 0 || args.demand > 200000 || (args.demand > 0 && !network_file.empty())) {
        return ReportError(InvalidArgument("--demand",
                                           args.demand < 0 || args.demand > 200000
                                               ? "must be 0..200000 vehicles per hour"
                                               : "sets the generated district's demand; --flow sets a file's"),
                           args.json);
    }
    if (!args.report.empty()) {
        std::ofstream probe(args.report, std::ios::app);
        if (!probe) return ReportError(InvalidArgument("--report", "cannot write '" + args.report + "'"), args.json);
    }

    district::District district;
    std::string source = "embedded default district (seed " + std::to_string(args.seed) + ")";
    if (network_file.empty()) {
        district::DistrictSpec spec;
        if (!args.grid.empty()) {
            int rows = 0, cols = 0;
            char x = 0, extra = 0;
            if (std::sscanf(args.grid.c_str(), "%d%c%d%c", &rows, &x, &cols, &extra) != 3 || x != 'x' || rows < 2 ||
                cols < 2 || rows > 40 || cols > 40) {
                return ReportError(
                    InvalidArgument("--grid", "must be ROWSxCOLS with 2 to 40 of each, got '" + args.grid + "'"),
                    args.json);
            }
            spec.grid.rows = rows;
            spec.grid.cols = cols;
        }
        spec.demand.duration_s = 3600 * args.sim_hours;
        spec.demand.peak_at_s = spec.demand.duration_s / 2;
        if (args.demand > 0) spec.demand.vehicles_per_hour = args.demand;
        auto d = district::MakeDistrict(spec, args.seed);
        if (!d.ok()) return ReportError(d.error(), args.json);
        district = std::move(d).value();
    } else {
        auto n = !args.roadnet.empty()    ? io::LoadRoadnet(network_file)
                 : !args.sumo_net.empty() ? io::LoadSumoNet(network_file)
                                          : io::LoadCbengineRoadnet(network_file);
        if (!n.ok()) return ReportError(n.error(), args.json);
        district.net = std::move(n).value();
        auto f = !args.roadnet.empty()    ? io::LoadFlows(demand_file, district.net)
                 : !args.sumo_net.empty() ? io::LoadSumoRoutes(demand_file, district.net)
                                          : io::LoadCbengineFlows(demand_file, district.net);
        if (!f.ok()) return ReportError(f.error(), args.json);
        district.demand = std::move(f).value();
        if (!args.cbengine_roadnet.empty()) district.signal_rules = traffic::SignalRules::Cbengine();
        const auto problems = core::CheckRoutes(district.net, district.demand);
        if (!problems.empty()) {
            return ReportError(
                InvalidArgument(demand_file, core::DescribeRouteProblems(district.net, district.demand, problems)),
                args.json);
        }
        if (Status s = district::EquipDistrict(district, args.seed); !s.ok()) {
            return ReportError(Error{s.error().code, s.error().message, network_file}, args.json);
        }
        source = network_file;
    }
    if (!args.landmarks.empty()) {
        if (Status s = district::LoadLandmarks(args.landmarks, district); !s.ok())
            return ReportError(s.error(), args.json);
    }

    district::BrainOptions options;
    options.seed = args.seed;
    options.sim_hours = args.sim_hours;
    options.adaptive = args.adaptive;
    options.threads = args.threads;
    options.db_path = args.db;
    ClassifierArgs classifier = args.classifier;
    if (Status s = LoadClassifier(classifier, incident::Taxonomy::Default()); !s.ok())
        return ReportError(s.error(), args.json);
    options.classifier = classifier.model;
    options.classifier_threshold = classifier.threshold;
    options.intake_order = classifier.intake_order;
    std::unique_ptr<FloodCameraPipeline> flood_cameras;
    if (args.vision) {
        // The events' snapshots beside the run's store, served to the console with the cases.
        auto opened =
            FloodCameraPipeline::Open(district, args.detector_model, args.no_serve ? "" : args.db + ".snapshots");
        if (!opened.ok()) return ReportError(opened.error(), args.json);
        flood_cameras = std::move(opened).value();
        options.flood_cameras = flood_cameras->Hook();
    }
    auto created = district::Brain::Create(district, options);
    if (!created.ok()) return ReportError(created.error(), args.json);
    district::Brain& brain = **created;

    g_stop.store(false);
    std::signal(SIGINT, OnStopSignal);
    std::signal(SIGTERM, OnStopSignal);

    // The fixed-time baseline: the same network, demand and seed, traffic only, on a thread of its own.
    traffic::RunOptions fixed_options;
    fixed_options.controller = "fixed";
    fixed_options.sim.seed = args.seed;
    fixed_options.sim.threads = args.threads;
    district.signal_rules.ApplyTo(fixed_options);
    fixed_options.steps = static_cast<int64_t>(brain.Duration());
    fixed_options.cancel = &g_stop;
    // Its ATT minute by minute, so that the dashboard compares both at the same simulated time.
    std::mutex fixed_mu;
    std::vector<double> fixed_by_minute;
    fixed_options.on_step = [&fixed_mu, &fixed_by_minute](const traffic::Simulator& sim) {
        if (sim.StepCount() % 60 != 0) return;
        const double att = sim.GetMetrics().att_s;
        std::lock_guard lock(fixed_mu);
        fixed_by_minute.push_back(att);
    };
    std::optional<double> att_fixed;
    std::optional<Result<traffic::RunResult>> fixed;

    // The brain's one server: Open311 and /api/v1 over the brain's own incident engine, the console's page and
    // its live feed, on one port. Reports posted here become cases that the brain dispatches like any other.
    std::unique_ptr<incident::IntakeQueue> intake;
    std::unique_ptr<agents::CitizenDesk> desk;  // after the server that calls it is gone, before the intake
    std::unique_ptr<server::Api> api;
    std::unique_ptr<server::HttpServer> live;
    std::thread io;
    if (!args.no_serve) {
        auto keys = server::ApiKeys::Load(std::getenv("CITYBRAIN_API_KEYS"), args.keys_file);
        if (!keys.ok()) return ReportError(keys.error(), args.json);
        // The console's own key for this run: an operator's, handed over in the address's fragment (which the
        // browser never sends), so that the page reads cases and acts through the same authenticated API.
        const std::string console_key = keys->AddSessionKey("console", server::kRoleOperator | server::kRoleReport);
        const auto clock = [&brain] { return brain.ClockMs(); };
        intake = std::make_unique<incident::IntakeQueue>(brain.engine(), 4096, clock);
        server::ServerOptions server_options;
        server_options.address = "127.0.0.1";
        server_options.port = static_cast<uint16_t>(args.port);
        server_options.threads = 1;
        server_options.allowed_origins = args.allowed_origins;
        api = std::make_unique<server::Api>(
            brain.engine(), *intake, std::move(keys).value(), "http://127.0.0.1:" + std::to_string(args.port), clock);
        if (flood_cameras) api->SetCameras(flood_cameras->set());  // their registry and snapshots, to operators
        // The citizen channel, fresh like the run's store: citizens' messages become the run's cases.
        DeskArgs desk_args = args.desk;
        if (desk_args.conversations.empty()) desk_args.conversations = args.db + ".conversations";
        std::remove(desk_args.conversations.c_str());
        auto opened = OpenDesk(desk_args,
                               classifier,
                               brain.engine(),
                               *intake,
                               &brain.gazetteer(),
                               clock,
                               nullptr,
                               [&brain](double x, double y) {
                                   return brain.TrafficNear({x, y}, 300);
                               });
        if (!opened.ok()) return ReportError(opened.error(), args.json);
        desk = std::move(opened).value();
        api->SetCitizenDesk(desk.get());
        live = std::make_unique<server::HttpServer>(*api, server_options);
        for (const web::Asset& a : web::Assets()) {
            live->SetDocument(std::string(a.path), std::string(a.content_type), std::string(a.body));
        }
        live->SetDocument("/api/network", "application/json", brain.NetworkJson());
        live->SetDocument("/api/state", "application/json", brain.Frame(true).dump());
        auto port = live->Start();
        if (!port.ok()) {
            Error e = port.error();
            e.message += " (choose another --port, --port 0 for any free one, or --no-serve)";
            return ReportError(e, args.json);
        }
        io = std::thread([server = live.get()] { server->Run(); });
        std::fprintf(stderr,
                     "citybrain run: dashboard at http://127.0.0.1:%u/#key=%s, Open311 at /open311/v2/, cases at "
                     "/api/v1/ (%.2f s after start)\n",
                     static_cast<unsigned>(*port),
                     console_key.c_str(),
                     Seconds(Clock::now() - start));
    }
    // Stops the server before the brain (and its engine) go: no request may reach a destroyed engine.
    const auto stop_server = [&] {
        if (!live) return;
        live->Stop();
        if (io.joinable()) io.join();
        intake->Stop();
        live.reset();
        api.reset();
        intake.reset();
    };
    struct OnExit {
        std::function<void()> run;
        ~OnExit() { run(); }
    } server_guard{stop_server};
    // Started once the page is up, so that a refused port does not wait for a whole baseline run.
    auto baseline = std::async(std::launch::async, [&district, fixed_options] {
        return traffic::RunScenario(district.net, district.demand, fixed_options);
    });
    if (!args.json) {
        std::fprintf(stderr,
                     "citybrain run: %s, %zu signals, %zu vehicles, %zu units, %.1f simulated hours at %s\n",
                     source.c_str(),
                     static_cast<size_t>(district.net.NumSignalised()),
                     district.demand.flows.size(),
                     district.units.size(),
                     args.sim_hours,
                     speedup > 0 ? ("x" + std::to_string(static_cast<int>(speedup))).c_str() : "full speed");
    }

    size_t frames = 0;
    double frame_s = 0, frame_bytes = 0;
    const auto publish = [&](bool finished, double achieved) {
        if (!live) return;
        const auto built = Clock::now();
        nlohmann::json state = brain.Frame(true);
        state["speedup"] = achieved;
        state["finished"] = finished;
        if (finished && att_fixed) {
            state["kpi"]["att_fixed_s"] = *att_fixed;
        } else {
            const auto minute = static_cast<long>(brain.Now() / 60) - 1;
            std::lock_guard lock(fixed_mu);
            if (minute >= 0 && static_cast<size_t>(minute) < fixed_by_minute.size()) {
                state["kpi"]["att_fixed_s"] = fixed_by_minute[static_cast<size_t>(minute)];
                state["kpi"]["att_adaptive_minute_s"] = state["series"].back()[4];
            }
        }
        // The page gets the history once (/api/state) and then one point per frame.
        nlohmann::json frame = state;
        if (!state["series"].empty()) frame["point"] = state["series"].back();
        frame.erase("series");
        std::string text = frame.dump();
        frame_bytes += static_cast<double>(text.size());
        live->Publish(std::move(text));
        live->SetDocument("/api/state", "application/json", state.dump());
        frame_s += Seconds(Clock::now() - built);
        ++frames;
    };
    const auto poll_baseline = [&] {
        if (!fixed && baseline.valid() && baseline.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
            fixed = baseline.get();
        }
    };

    const auto loop_start = Clock::now();
    const core::Pacer pacer(speedup);
    auto last_frame = loop_start, last_status = loop_start;
    const bool status_line = !args.json && isatty(fileno(stderr));
    while (!brain.Finished() && !g_stop.load()) {
        if (Status s = brain.Step(); !s.ok()) return ReportError(s.error(), args.json);
        const auto now = Clock::now();
        // Simulated time may not run ahead of wall time × speed-up (naps short enough for Ctrl-C to be prompt).
        pacer.WaitFor(brain.Now(), [] { return g_stop.load(); });
        if (live && now - last_frame >= std::chrono::milliseconds(200)) {
            poll_baseline();
            publish(false, brain.Now() / std::max(1e-9, Seconds(now - loop_start)));
            last_frame = now;
        }
        if (now - last_status >= std::chrono::seconds(1) && !args.json) {
            std::fprintf(stderr,
                         "%s[run] %s  x%.0f  vehicles %lld  open cases %zu%s",
                         status_line ? "\r" : "",
                         SimClock(brain.Now()).c_str(),
                         brain.Now() / std::max(1e-9, Seconds(now - loop_start)),
                         static_cast<long long>(brain.Vehicles()),
                         brain.OpenCases(),
                         status_line ? "   " : "\n");
            last_status = now;
        }
    }
    const double loop_wall = Seconds(Clock::now() - loop_start);
    const bool stopped = !brain.Finished();
    if (status_line) std::fprintf(stderr, "\n");
    if (stopped)
        std::fprintf(stderr, "citybrain run: stopped at %s; the store is consistent\n", SimClock(brain.Now()).c_str());
    if (!fixed && baseline.valid()) fixed = baseline.get();
    // A stopped run has no like-for-like baseline: the fixed-time run went on to the end.
    if (fixed && fixed->ok() && !stopped) att_fixed = (*fixed)->metrics.att_s;
    const double achieved = brain.Now() / std::max(1e-9, loop_wall);
    publish(true, achieved);

    nlohmann::json report = brain.Results();
    report["scenario"] = source;
    report["seed"] = args.seed;
    report["sim_hours"] = args.sim_hours;
    report["adaptive_controller"] = args.adaptive;
    report["att_fixed_s"] = att_fixed ? nlohmann::json(*att_fixed) : nlohmann::json(nullptr);
    if (att_fixed && *att_fixed > 0) report["att_change"] = report["att_adaptive_s"].get<double>() / *att_fixed - 1;
    if (fixed && fixed->ok() && !stopped) report["throughput_fixed"] = (*fixed)->metrics.throughput;
    // What the cameras' detections came from: the vision pipeline for the cameras at low points, or the scenario.
    report["camera_detections"] = flood_cameras ? "vision pipeline at low points (rendered frames); vendors synthetic"
                                                : "synthetic (the scenario's)";
    if (flood_cameras) report["vision"] = flood_cameras->Status();
    report["stopped"] = stopped;
    report["wall_s"] = loop_wall;
    report["speedup"] = achieved;
    report["db"] = args.db;
    if (frames > 0) {
        report["frames"] = frames;
        report["frame_build_ms"] = 1000 * frame_s / static_cast<double>(frames);
        report["frame_kb"] = frame_bytes / static_cast<double>(frames) / 1024;
    }
    if (!args.report.empty()) {
        std::ofstream out(args.report);
        if (!out) return ReportError(InvalidArgument("--report", "cannot write '" + args.report + "'"), args.json);
        out << report.dump(2) << "\n";
    }
    if (args.json) {
        std::printf("%s\n", report.dump().c_str());
    } else {
        const auto& r = report;
        std::printf("\n%-36s %14s %14s\n", "", "fixed-time", args.adaptive.c_str());
        if (att_fixed) {
            std::printf(
                "%-36s %14.1f %14.1f\n", "average travel time, s", *att_fixed, r["att_adaptive_s"].get<double>());
        } else {
            std::printf("%-36s %14s %14.1f\n", "average travel time, s", "-", r["att_adaptive_s"].get<double>());
        }
        if (att_fixed) {
            std::printf(
                "adaptive control changes average travel time by %+.1f %% against fixed-time (same seed and demand)\n",
                100.0 * r["att_change"].get<double>());
        }
        std::printf("\ncases by category:");
        for (const auto& [cat, n] : r["cases"].items()) std::printf(" %s %d", cat.c_str(), n.get<int>());
        std::printf("\n%-36s %d (%d closed, %d rejected, %d open)\n",
                    "cases",
                    r["cases_total"].get<int>(),
                    r["cases_closed"].get<int>(),
                    r["cases_rejected"].get<int>(),
                    r["open_cases"].get<int>());
        std::printf("%-36s %d\n", "duplicate reports merged", r["duplicates_merged"].get<int>());
        std::printf("%-36s p50 %.0f s, p95 %.0f s (%d reached)\n",
                    "first report to unit on site",
                    r["p50_response_s"].get<double>(),
                    r["p95_response_s"].get<double>(),
                    r["reached"].get<int>());
        std::printf("%-36s %.1f %%\n", "deadlines met", 100 * r["deadline_met_ratio"].get<double>());
        std::printf("%-36s %.1f %%\n", "unit utilisation", 100 * r["unit_utilisation"].get<double>());
        std::printf("%-36s %d of %d located, %d classified on intake (%d right)\n",
                    "citizen messages",
                    r["messages_located"].get<int>(),
                    r["messages"].get<int>(),
                    r["classified_on_intake"].get<int>(),
                    r["classified_correct"].get<int>());
        std::printf("%-36s %d\n", "spoken notices", r["notices_played"].get<int>());
        std::printf("%-36s %.1f s wall, x%.0f real time; cases in %s\n", "run", loop_wall, achieved, args.db.c_str());
    }
    if (live && args.hold && !stopped) {
        std::fprintf(stderr, "citybrain run: finished; the dashboard stays up until Ctrl-C\n");
        while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    stop_server();
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    return kExitOk;
}

}  // namespace

void RegisterRun(CLI::App& app) {
    auto args = std::make_shared<RunArgs>();
    auto* cmd =
        app.add_subcommand("run", "run the district brain with its live dashboard; report against fixed-time signals");
    cmd->add_option("--seed", args->seed, "scenario seed")->capture_default_str();
    cmd->add_option("--sim-hours", args->sim_hours, "simulated hours")->capture_default_str();
    cmd->add_option("--speedup",
                    args->speedup,
                    "simulated seconds per wall second, or 'max' (default 60 with the dashboard, max without)");
    cmd->add_option("--demand", args->demand, "generated district: vehicles per hour (default 3000)");
    cmd->add_option("--threads", args->threads, "traffic simulation threads")->capture_default_str();
    cmd->add_option("--grid", args->grid, "generated district: ROWSxCOLS junctions (default 6x6)");
    cmd->add_option("--roadnet", args->roadnet, "run on a CityFlow network instead of the generated district");
    cmd->add_option("--flow", args->flow, "CityFlow flow file for --roadnet");
    cmd->add_option("--sumo-net", args->sumo_net, "run on a SUMO .net.xml (with --sumo-routes)");
    cmd->add_option("--sumo-routes", args->sumo_routes, "SUMO .rou.xml or .trips.xml for --sumo-net");
    cmd->add_option(
        "--cbengine-roadnet", args->cbengine_roadnet, "run on a CBEngine roadnet .txt (with --cbengine-flow)");
    cmd->add_option("--cbengine-flow", args->cbengine_flow, "CBEngine flow .txt for --cbengine-roadnet");
    cmd->add_option("--landmarks",
                    args->landmarks,
                    "landmarks file (JSON: name with x, y or lat, long) replacing the district's own");
    cmd->add_option("--adaptive",
                    args->adaptive,
                    "adaptive controller (auto = predictive, learned, advanced-mp, maxpressure, sotl, webster)")
        ->capture_default_str();
    cmd->add_option("--db", args->db, "the run's case store (SQLite; replaced at start)")->capture_default_str();
    AddDeskOptions(cmd, args->desk, "");  // "": the --db file's name with .conversations
    AddClassifierOptions(cmd, args->classifier);
    cmd->add_option("--report", args->report, "write the results as JSON to this file");
    cmd->add_option("--port", args->port, "dashboard port (0: any free port)")->capture_default_str();
    cmd->add_option(
        "--keys-file", args->keys_file, "API keys, one per line: KEY [NAME [ROLES]] (also CITYBRAIN_API_KEYS)");
    cmd->add_option("--allow-origin",
                    args->allowed_origins,
                    "another site (scheme://host[:port]) whose pages may open the live feed and call the API (CORS); "
                    "repeatable");
    cmd->add_flag("--no-serve", args->no_serve, "headless (no server: no dashboard, no API)");
    cmd->add_flag("--hold", args->hold, "keep the dashboard up after the run until Ctrl-C");
    cmd->add_flag("--json", args->json, "print the results as one JSON object");
    cmd->add_flag("--vision",
                  args->vision,
                  "the cameras at low points through the vision pipeline: rendered frames of a stock street with the "
                  "simulation's water, the detector and the waterlogging rule (default: the scenario's synthetic "
                  "detections)");
    cmd->add_option("--detector-model", args->detector_model, "the cameras' ONNX CenterNet model (with --vision)")
        ->capture_default_str();
    cmd->callback([args] { SetExitCode(Run(*args)); });
}

}  // namespace citybrain::apps
