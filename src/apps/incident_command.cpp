// SPDX-License-Identifier: Apache-2.0
// `citybrain serve` (Open311 + CityBrain JSON API over the incident engine) and `citybrain incidents replay`.
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "agents/citizen_desk.hpp"
#include "apps/commands.hpp"
#include "apps/gateway_args.hpp"
#include "apps/live_args.hpp"
#include "apps/stop_signals.hpp"
#include "clinic/clinic.hpp"
#include "core/time.hpp"
#include "district/brain.hpp"
#include "district/live_world.hpp"
#include "incident/replay.hpp"
#include "server/http_server.hpp"
#include "vision/cameras.hpp"
#include "vision/feeds.hpp"
#include "web/assets.hpp"

namespace citybrain::apps {

namespace {

struct StoreArgs {
    std::string db = "citybrain.db";
    std::string pg;
    std::string taxonomy;
};

struct ServeArgs {
    StoreArgs store;
    ZoneNodeArgs zones;  // --zones: a node of a city of zones instead of a district's server
    ClassifierArgs classifier;
    std::string cameras;
    std::string snapshots = "snapshots";
    std::string detector_model = "build/models/centernet.onnx";
    std::string clinic_db;
    std::string clinic_model;
    std::string address = "127.0.0.1";
    int port = 8311;
    int threads = 2;
    std::string keys_file;
    std::vector<std::string> allowed_origins;
    size_t max_connections = 0;
    // The brain: a district to dispatch on, and the fleet's MQTT broker.
    std::string district;
    std::string landmarks;
    std::string mqtt = "127.0.0.1:1883";
    int units = 0;
    uint64_t seed = 1;
    GatewayArgs gateway;
    DeskArgs desk;
};

struct ReplayArgs {
    StoreArgs store;
    std::string file;
    double speedup = 0;
    size_t batch = 1024;
    bool json = false;
};

Result<incident::Taxonomy> LoadTaxonomy(const std::string& path) {
    if (path.empty()) return incident::Taxonomy::Default();
    return incident::Taxonomy::Load(path);
}

Result<std::unique_ptr<incident::Store>> OpenStore(const StoreArgs& args, bool durable) {
    if (!args.pg.empty()) return incident::OpenPostgresStore(args.pg);
    return incident::OpenSqliteStore(args.db, durable);
}

int Serve(const ServeArgs& args) {
    if (!args.zones.config.empty()) {
        ZoneNodeArgs z = args.zones;
        z.address = args.address;
        z.port = args.port;
        z.keys_file = args.keys_file;
        z.pg = args.store.pg;
        return RunZoneNode(z);
    }
    if (args.port < 0 || args.port > 65535) return ReportError(InvalidArgument("--port", "must be 0 to 65535"), false);
    if (args.threads < 1 || args.threads > 64)
        return ReportError(InvalidArgument("--threads", "must be 1 to 64"), false);
    const sigset_t signals = BlockStopSignals();

    auto keys = server::ApiKeys::Load(std::getenv("CITYBRAIN_API_KEYS"), args.keys_file);
    if (!keys.ok()) return ReportError(keys.error(), false);
    auto taxonomy = LoadTaxonomy(args.store.taxonomy);
    if (!taxonomy.ok()) return ReportError(taxonomy.error(), false);
    ClassifierArgs classifier = args.classifier;
    if (Status s = LoadClassifier(classifier, *taxonomy); !s.ok()) return ReportError(s.error(), false);
    if (!args.district.empty() && args.district != "default") {
        return ReportError(InvalidArgument("--district", "only 'default' (the generated district) is known"), false);
    }
    district::District district;
    district::LiveWorldOptions live;
    if (!args.district.empty()) {
        auto d = FleetDistrict(args.units, args.seed);
        if (!d.ok()) return ReportError(d.error(), false);
        district = std::move(d).value();
        const auto broker = ParseHostPort(args.mqtt, "--mqtt");
        if (!broker.ok()) return ReportError(broker.error(), false);
        live.mqtt_host = broker->host;
        live.mqtt_port = broker->port;
        if (!args.landmarks.empty()) {
            if (Status s = district::LoadLandmarks(args.landmarks, district); !s.ok())
                return ReportError(s.error(), false);
        }
    } else if (args.units != 0) {
        return ReportError(InvalidArgument("--units", "needs --district"), false);
    } else if (!args.landmarks.empty()) {
        return ReportError(InvalidArgument("--landmarks", "needs --district"), false);
    }
    auto store = OpenStore(args.store, true);
    if (!store.ok()) return ReportError(store.error(), false);
    const std::string store_text = args.store.pg.empty() ? "sqlite " + args.store.db : "postgresql";
    // With a district, the brain owns the engine (its intake hooks place, assess and classify), and the server
    // calls the same engine: one process, one case state.
    std::unique_ptr<district::Brain> brain;
    std::unique_ptr<incident::IncidentEngine> own_engine;
    if (!args.district.empty()) {
        const incident::TimeMs start = core::NowMs();
        auto world = district::LiveWorld::Connect(district, live, start);
        if (!world.ok()) {
            Error e = world.error();
            e.message += " (is the MQTT broker at " + args.mqtt + " running?)";
            return ReportError(e, false);
        }
        district::BrainOptions options;
        options.seed = args.seed;
        options.sim_hours = 0;  // until stopped
        options.epoch_ms = start;
        options.taxonomy = &*taxonomy;
        options.classifier = classifier.model;
        options.classifier_threshold = classifier.threshold;
        options.intake_order = classifier.intake_order;
        // Live reports come one by one: a step and a dispatch round every 250 ms keep report-to-order short.
        options.step_ms = 250;
        options.dispatch_interval_ms = 250;
        auto created = district::Brain::Create(district, options, std::move(world).value(), std::move(store).value());
        if (!created.ok()) return ReportError(created.error(), false);
        brain = std::move(created).value();
    } else {
        incident::EngineOptions engine_options;
        if (classifier.model != nullptr) {
            district::UseClassifier(
                engine_options, classifier.model, *taxonomy, classifier.threshold, classifier.intake_order);
        }
        auto engine = incident::IncidentEngine::Open(std::move(store).value(), *taxonomy, engine_options);
        if (!engine.ok()) return ReportError(engine.error(), false);
        own_engine = std::move(engine).value();
    }
    incident::IncidentEngine& engine = brain ? brain->engine() : *own_engine;
    std::function<incident::TimeMs()> clock = core::NowMs;
    if (brain) clock = [b = brain.get()] { return b->ClockMs(); };
    incident::IntakeQueue intake(engine, 1024, clock);

    server::ServerOptions options;
    options.address = args.address;
    options.port = static_cast<uint16_t>(args.port);
    options.threads = args.threads;
    options.allowed_origins = args.allowed_origins;
    options.max_connections = args.max_connections;
    const bool no_keys = keys->empty();
    const size_t key_count = keys->size();
    // With a brain, the console gets an operator's key of its own for this run, handed over in its address.
    const std::string console_key =
        brain ? keys->AddSessionKey("console", server::kRoleOperator | server::kRoleReport) : std::string();
    server::Api api(
        engine, intake, std::move(keys).value(), "http://" + args.address + ":" + std::to_string(args.port), clock);
    server::HttpServer http(api, options);
    // The model gateway on the same port, when it has keys: the agents' calls go through the brain's server.
    std::unique_ptr<agents::Gateway> gateway;
    if (!args.gateway.config.empty() || !args.gateway.keys_file.empty() ||
        std::getenv("CITYBRAIN_GATEWAY_KEYS") != nullptr) {
        // Without a brain, citybrain-local names no places: there is no district to name them from.
        auto opened =
            OpenGateway(args.gateway, brain ? &brain->gazetteer() : nullptr, &http.IoContext(), classifier, *taxonomy);
        if (!opened.ok()) return ReportError(opened.error(), false);
        gateway = std::move(opened).value();
        http.SetGateway(gateway.get());
    }
    // The citizen channel: the agents answer citizens' messages over the same engine and intake, and call any
    // upstream model through the gateway.
    std::function<nlohmann::json(double, double)> traffic;
    if (brain) traffic = [b = brain.get()](double x, double y) { return b->TrafficNear({x, y}, 300); };
    auto desk = OpenDesk(
        args.desk, classifier, engine, intake, brain ? &brain->gazetteer() : nullptr, clock, gateway.get(), traffic);
    if (!desk.ok()) return ReportError(desk.error(), false);
    api.SetCitizenDesk(desk->get());
    // The cameras: frames pushed over HTTP go through the detector, the tracker and the zone rules, and their
    // events come in through the same intake as any sensor's report.
    std::unique_ptr<vision::CameraSet> cameras;
    std::unique_ptr<vision::CameraFeeds> camera_feeds;
    if (!args.cameras.empty()) {
        auto registry = vision::LoadCameras(args.cameras);
        if (!registry.ok()) return ReportError(registry.error(), false);
        vision::CameraSet::Options camera_options;
        camera_options.detector.model = args.detector_model;
        camera_options.snapshot_dir = args.snapshots;
        camera_options.start_ms = clock();
        auto opened = vision::CameraSet::Open(*registry, camera_options);
        if (!opened.ok()) return ReportError(opened.error(), false);
        cameras = std::move(opened).value();
        // The cameras with a source are pulled at their rates; every camera's health is watched, so a silent one
        // becomes a case for whoever keeps the cameras.
        vision::CameraFeeds::Options feed_options;
        feed_options.clock = clock;
        auto started = vision::CameraFeeds::Start(
            *cameras,
            *registry,
            [&intake](incident::Report r, const vision::VisionEvent& e) {
                intake.Submit(std::move(r), [kind = e.kind](const Result<incident::Receipt>& rec) {
                    if (!rec.ok()) {
                        std::fprintf(stderr,
                                     "citybrain serve: a camera's %s was not filed: %s\n",
                                     kind.c_str(),
                                     rec.error().ToString().c_str());
                    }
                });
            },
            feed_options);
        if (!started.ok()) return ReportError(started.error(), false);
        camera_feeds = std::move(started).value();
        api.SetCameras(cameras.get(), camera_feeds.get());
    }
    // Clinic screening: sessions in a SQLite file of their own, on the embedded knowledge base or a trained model.
    std::unique_ptr<clinic::Model> clinic_model;
    std::unique_ptr<clinic::Clinic> clinic;
    if (!args.clinic_db.empty()) {
        if (!args.clinic_model.empty()) {
            auto m = clinic::Model::Load(args.clinic_model);
            if (!m.ok()) return ReportError(m.error(), false);
            clinic_model = std::make_unique<clinic::Model>(std::move(m).value());
        }
        auto opened = clinic::Clinic::Open(args.clinic_db,
                                           clinic_model ? *clinic_model : clinic::Model::Default(),
                                           clinic::Vocabulary::Default(),
                                           clinic::ScreenerOptions{});
        if (!opened.ok()) return ReportError(opened.error(), false);
        clinic = std::move(opened).value();
        api.SetClinic(clinic.get());
    } else if (!args.clinic_model.empty()) {
        return ReportError(InvalidArgument("--clinic-model", "needs --clinic-db, where the sessions are kept"), false);
    }
    if (brain) {
        for (const web::Asset& a : web::Assets()) {
            http.SetDocument(std::string(a.path), std::string(a.content_type), std::string(a.body));
        }
        http.SetDocument("/api/network", "application/json", brain->NetworkJson());
        http.SetDocument("/api/state", "application/json", brain->Frame(true).dump());
    }
    auto port = http.Start();
    if (!port.ok()) return ReportError(port.error(), false);
    std::fprintf(stderr,
                 "citybrain serve: Open311 at http://%s:%u/open311/v2/, cases at /api/v1/ (store %s, %zu API keys)\n",
                 args.address.c_str(),
                 static_cast<unsigned>(*port),
                 store_text.c_str(),
                 key_count);
    std::fprintf(
        stderr,
        "citybrain serve: citizens' messages routed by %s\n",
        district::IntakeDescription(classifier.model.get(), classifier.threshold, classifier.intake_order).c_str());
    if (clinic) {
        std::fprintf(stderr,
                     "citybrain serve: clinic screening at /api/v1/clinic/sessions (%s; sessions in %s)\n",
                     clinic->model().source().c_str(),
                     args.clinic_db.c_str());
    }
    if (gateway) {
        std::fprintf(stderr,
                     "citybrain serve: model gateway at http://%s:%u/v1/ (%zu keys, audit %s)\n",
                     args.address.c_str(),
                     static_cast<unsigned>(*port),
                     gateway->keys(),
                     args.gateway.audit.c_str());
    }
    if (no_keys) {
        std::fprintf(stderr,
                     "citybrain serve: no API keys (CITYBRAIN_API_KEYS or --keys-file): every POST is refused\n");
    }
    if (brain) {
        std::fprintf(
            stderr,
            "citybrain serve: the brain dispatches %zu units over MQTT at %s; console at http://%s:%u/#key=%s\n",
            district.units.size(),
            args.mqtt.c_str(),
            args.address.c_str(),
            static_cast<unsigned>(*port),
            console_key.c_str());
    }
    std::atomic<bool> stopping{false};
    std::atomic<bool> failed{false};
    std::thread ticker([&] {
        if (brain) {
            // The brain steps once per second of wall-clock time (its deadline checks included), and the console
            // gets a frame per step.
            while (!stopping.load()) {
                while (brain->ClockMs() <= core::NowMs() && !stopping.load()) {
                    if (Status s = brain->Step(); !s.ok()) {
                        std::fprintf(stderr, "citybrain serve: the brain stopped: %s\n", s.error().ToString().c_str());
                        failed = true;
                        stopping = true;
                        http.Stop();
                        return;
                    }
                    if (brain->NowMs() % 1000 != 0) continue;  // the console gets a frame a second
                    nlohmann::json state = brain->Frame(true);
                    nlohmann::json frame = state;
                    if (!state["series"].empty()) frame["point"] = state["series"].back();
                    frame.erase("series");
                    http.Publish(frame.dump());
                    http.SetDocument("/api/state", "application/json", state.dump());
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            return;
        }
        // Deadlines are checked every second; escalations are journaled like any other change.
        while (!stopping.load()) {
            auto n = engine.Tick(core::NowMs());
            if (!n.ok())
                std::fprintf(stderr, "citybrain serve: deadline check failed: %s\n", n.error().ToString().c_str());
            for (int i = 0; i < 10 && !stopping.load(); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    RunUntilStopSignal(http, signals, [&stopping](int sig) {
        std::fprintf(stderr, "citybrain serve: signal %d, stopping\n", sig);
        stopping = true;
    });
    stopping = true;
    if (camera_feeds) camera_feeds->Stop();  // its last reports go into the intake before it stops
    intake.Stop();                           // commits what was queued before the process exits
    ticker.join();
    return failed.load() ? kExitInternal : kExitOk;
}

int Replay(const ReplayArgs& args) {
    auto taxonomy = LoadTaxonomy(args.store.taxonomy);
    if (!taxonomy.ok()) return ReportError(taxonomy.error(), args.json);
    if (args.speedup < 0) return ReportError(InvalidArgument("--speedup", "must be positive"), args.json);
    if (args.batch == 0) return ReportError(InvalidArgument("--batch", "must be at least 1"), args.json);
    auto origin = incident::CsvOrigin(args.file);
    if (!origin.ok()) return ReportError(origin.error(), args.json);
    // Without --db the replay works in a scratch file: it is an analysis, not a record to keep.
    StoreArgs store_args = args.store;
    const bool scratch = args.store.db.empty() && args.store.pg.empty();
    if (scratch) {
        store_args.db =
            (std::filesystem::temp_directory_path() / ("citybrain-replay-" + std::to_string(::getpid()) + ".db"))
                .string();
    }
    struct Cleanup {
        std::string path;
        ~Cleanup() {
            if (path.empty()) return;
            for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
        }
    } cleanup{scratch ? store_args.db : std::string()};
    auto store = OpenStore(store_args, !scratch);
    if (!store.ok()) return ReportError(store.error(), args.json);
    incident::EngineOptions options;
    options.origin = *origin;
    // A replay run again must recognise every row an earlier run stored, however long the export spans.
    options.idempotency_window_ms = std::numeric_limits<incident::TimeMs>::max() / 4;
    auto engine = incident::IncidentEngine::Open(std::move(store).value(), *taxonomy, options);
    if (!engine.ok()) return ReportError(engine.error(), args.json);
    incident::ReplayOptions replay;
    replay.speedup = args.speedup;
    replay.batch = args.batch;
    auto result = incident::ReplayCsv(args.file, **engine, replay);
    if (!result.ok()) return ReportError(result.error(), args.json);
    const auto& r = *result;
    const double rate = r.wall_s > 0 ? static_cast<double>(r.reports) / r.wall_s : 0;
    if (args.json) {
        nlohmann::json j = {
            {"file", args.file},
            {"format", r.format},
            {"rows", r.rows},
            {"reports", r.reports},
            {"rows_skipped", r.rows_skipped},
            {"rows_rejected", r.rows_rejected},
            {"rejected_examples", r.rejected_examples},
            {"cases", r.cases},
            {"duplicates_merged", r.duplicates_merged},
            {"cases_per_department", r.cases_per_department},
            {"cases_per_category", r.cases_per_category},
            {"closed", r.closed},
            {"closed_in_time", r.closed_in_time},
            {"escalated", r.escalated},
            {"open_at_end", r.open_at_end},
            {"overdue", r.overdue_at_end},
            {"closures_ignored", r.closures_ignored},
            {"median_time_to_close_s", r.median_close_s ? nlohmann::json(*r.median_close_s) : nlohmann::json()},
            {"first_report", r.first_ms ? core::FormatTimestamp(r.first_ms) : ""},
            {"last_report", r.last_ms ? core::FormatTimestamp(r.last_ms) : ""},
            {"wall_s", r.wall_s},
            {"reports_per_s", rate}};
        if (r.has_labels) {
            j["dedup_eval"] = {{"labelled_duplicates", r.dedup.labelled},
                               {"merged", r.dedup.predicted},
                               {"true_positive", r.dedup.true_positive},
                               {"precision", r.dedup.precision()},
                               {"recall", r.dedup.recall()}};
            nlohmann::json per = nlohmann::json::object();
            for (const auto& [cat, e] : r.dedup_by_category) {
                if (e.labelled == 0 && e.predicted == 0) continue;
                per[cat] = {{"labelled_duplicates", e.labelled},
                            {"merged", e.predicted},
                            {"true_positive", e.true_positive},
                            {"precision", e.precision()},
                            {"recall", e.recall()}};
            }
            j["dedup_eval"]["by_category"] = per;
        }
        std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        return kExitOk;
    }
    std::printf("replayed        %s (%s), %s .. %s\n",
                args.file.c_str(),
                r.format.c_str(),
                r.first_ms ? core::FormatTimestamp(r.first_ms).c_str() : "-",
                r.last_ms ? core::FormatTimestamp(r.last_ms).c_str() : "-");
    std::printf("rows            %lld, reports %lld, rejected %lld, skipped %lld (stored by an earlier run)\n",
                static_cast<long long>(r.rows),
                static_cast<long long>(r.reports),
                static_cast<long long>(r.rows_rejected),
                static_cast<long long>(r.rows_skipped));
    for (const auto& e : r.rejected_examples) std::printf("  rejected: %s\n", e.c_str());
    std::printf("cases           %lld (duplicates merged: %lld)\n",
                static_cast<long long>(r.cases),
                static_cast<long long>(r.duplicates_merged));
    std::printf("per department ");
    for (const auto& [dep, n] : r.cases_per_department) std::printf(" %s=%lld", dep.c_str(), static_cast<long long>(n));
    std::printf("\nclosed          %lld (%lld before any deadline passed); %lld closures before creation ignored\n",
                static_cast<long long>(r.closed),
                static_cast<long long>(r.closed_in_time),
                static_cast<long long>(r.closures_ignored));
    std::printf("escalated       %lld cases missed a step deadline\n", static_cast<long long>(r.escalated));
    std::printf("open at end     %lld, overdue %lld\n",
                static_cast<long long>(r.open_at_end),
                static_cast<long long>(r.overdue_at_end));
    if (r.median_close_s) std::printf("median to close %.1f h\n", *r.median_close_s / 3600);
    if (r.has_labels) {
        std::printf(
            "dedup vs labels precision %.3f, recall %.3f (%lld rows closed as duplicates in the export, %lld merged)\n",
            r.dedup.precision(),
            r.dedup.recall(),
            static_cast<long long>(r.dedup.labelled),
            static_cast<long long>(r.dedup.predicted));
    }
    std::printf("wall            %.2f s (%.0f reports/s with lifecycle)\n", r.wall_s, rate);
    return kExitOk;
}

void AddStoreOptions(CLI::App* cmd, StoreArgs& args, const char* db_help) {
    cmd->add_option("--db", args.db, db_help);
    cmd->add_option(
        "--pg", args.pg, "PostgreSQL connection string (instead of SQLite), e.g. postgresql://user@127.0.0.1/db");
    cmd->add_option("--taxonomy", args.taxonomy, "routing table JSON (default: the embedded config/taxonomy.json)");
}

}  // namespace

void RegisterIncidents(CLI::App& app) {
    auto serve_args = std::make_shared<ServeArgs>();
    auto* serve = app.add_subcommand("serve", "Open311 GeoReport v2 and the CityBrain case API over HTTP");
    AddStoreOptions(serve, serve_args->store, "SQLite file (WAL)");
    serve->add_option("--address", serve_args->address)->capture_default_str();
    serve->add_option("--port", serve_args->port, "0 picks a free port")->capture_default_str();
    serve->add_option("--threads", serve_args->threads, "io threads")->capture_default_str();
    serve->add_option("--keys-file",
                      serve_args->keys_file,
                      "API keys, one per line: KEY [NAME [ROLES]], ROLES from report,device,operator (also "
                      "CITYBRAIN_API_KEYS)");
    serve->add_option("--allow-origin",
                      serve_args->allowed_origins,
                      "another site (scheme://host[:port]) whose pages may open the live feed and call the API (CORS); "
                      "repeatable");
    serve->add_option("--max-connections",
                      serve_args->max_connections,
                      "open connections at most (default: the file-descriptor limit less a reserve)");
    serve->add_option("--district",
                      serve_args->district,
                      "run the brain on this district ('default': the generated one): cases are dispatched to its "
                      "units over MQTT");
    serve->add_option("--mqtt", serve_args->mqtt, "the fleet's MQTT broker, HOST:PORT (with --district)")
        ->capture_default_str();
    serve->add_option(
        "--units", serve_args->units, "size the district's fleet (with --district; fleet-sim must agree)");
    serve->add_option("--seed", serve_args->seed, "the district's seed (fleet-sim must agree)")->capture_default_str();
    serve->add_option(
        "--landmarks",
        serve_args->landmarks,
        "landmarks file (JSON: name with x, y or lat, long) replacing the district's own (with --district)");
    AddGatewayOptions(serve, serve_args->gateway, "gateway-");
    AddDeskOptions(serve, serve_args->desk, "conversations.db");
    AddClassifierOptions(serve, serve_args->classifier);
    serve->add_option("--cameras",
                      serve_args->cameras,
                      "camera registry (JSON): frames POSTed to "
                      "/api/v1/cameras/{id}/frames become reports through the rules");
    serve->add_option("--snapshots", serve_args->snapshots, "where the cameras' event snapshots are written")
        ->capture_default_str();
    serve->add_option("--detector-model", serve_args->detector_model, "the cameras' ONNX CenterNet model")
        ->capture_default_str();
    serve->add_option("--clinic-db",
                      serve_args->clinic_db,
                      "turns on clinic screening (/api/v1/clinic/sessions): the SQLite file of its sessions");
    serve->add_option("--clinic-model",
                      serve_args->clinic_model,
                      "clinic model from `citybrain clinic train` (default: the embedded knowledge base)");
    serve->add_option("--zones",
                      serve_args->zones.config,
                      "serve as a node of a city of zones (a config from `citybrain zones partition`)");
    serve->add_option("--nats", serve_args->zones.nats, "with --zones: the NATS server with JetStream")
        ->capture_default_str();
    serve->add_option("--node", serve_args->zones.node, "with --zones: this node's name, unique in the city");
    serve->add_option("--zones-data",
                      serve_args->zones.data,
                      "with --zones: the directory of the zones' SQLite stores (or --pg: a schema per zone)");
    serve->callback([serve_args] { SetExitCode(Serve(*serve_args)); });

    auto* incidents = app.add_subcommand("incidents", "incident engine tools");
    incidents->require_subcommand(1);
    auto replay_args = std::make_shared<ReplayArgs>();
    replay_args->store.db.clear();
    auto* replay =
        incidents->add_subcommand("replay", "ingest a 311-style CSV (NYC, LA) and report cases, duplicates, deadlines");
    replay->add_option("file", replay_args->file, "CSV export")->required();
    AddStoreOptions(replay, replay_args->store, "keep the result in this SQLite file (default: a scratch file)");
    replay->add_option(
        "--speedup", replay_args->speedup, "pace the replay: X seconds of data per second (default: flat out)");
    replay->add_option("--batch", replay_args->batch, "reports per transaction")->capture_default_str();
    replay->add_flag("--json", replay_args->json, "machine-readable output");
    replay->callback([replay_args] { SetExitCode(Replay(*replay_args)); });
}

}  // namespace citybrain::apps
