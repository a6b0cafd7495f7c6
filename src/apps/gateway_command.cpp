// SPDX-License-Identifier: Apache-2.0
// `citybrain gateway`: the model gateway alone on one port (the same /v1/ endpoints `serve` mounts).
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "apps/commands.hpp"
#include "apps/gateway_args.hpp"
#include "apps/live_args.hpp"
#include "apps/stop_signals.hpp"
#include "district/brain.hpp"
#include "server/http_server.hpp"

namespace citybrain::apps {

void AddClassifierOptions(CLI::App* cmd, ClassifierArgs& args) {
    cmd->add_option("--classifier",
                    args.path,
                    "intake classifier: a model from `citybrain nlp train` whose labels are the taxonomy's domains "
                    "(default: the taxonomy's keywords alone)");
    cmd->add_option("--classifier-threshold",
                    args.threshold,
                    "below this confidence the model's answer is not taken: keywords, then the human queue decide")
        ->capture_default_str();
    cmd->add_option("--classifier-order",
                    args.order,
                    "keywords: the taxonomy's keywords first, the model for what they miss; model: the model first")
        ->capture_default_str();
}

Status LoadClassifier(ClassifierArgs& args, const incident::Taxonomy& taxonomy) {
    CB_TRY_ASSIGN(args.intake_order, district::ParseIntakeOrder(args.order));
    if (args.path.empty()) return {};
    if (!(args.threshold >= 0 && args.threshold <= 1))
        return InvalidArgument("--classifier-threshold", "must be within [0, 1]");
    CB_TRY_ASSIGN(nlp::MessageModel model, nlp::MessageModel::Load(args.path));
    CB_TRY(district::CheckClassifier(model, taxonomy));
    args.model = std::make_shared<const nlp::MessageModel>(std::move(model));
    return {};
}

void UseClassifier(agents::LocalModelOptions& local, const ClassifierArgs& args, const incident::Taxonomy& taxonomy) {
    if (args.model == nullptr) return;
    local.classify =
        [model = args.model, &taxonomy, threshold = args.threshold, order = args.intake_order](std::string_view text) {
            const district::Routing r = district::RouteMessage(model.get(), taxonomy, text, threshold, order);
            // Only the model's answers are the classifier's; citybrain-local routes by keywords itself, by name.
            std::vector<agents::LocalGuess> out;
            if (r.by == "model") out.push_back({r.category->code, r.confidence});
            return out;
        };
    local.classifier_name = args.model->kind();
}

Result<std::unique_ptr<agents::Gateway>> OpenGateway(const GatewayArgs& args,
                                                     const nlp::Gazetteer* gazetteer,
                                                     boost::asio::io_context* io_context,
                                                     const ClassifierArgs& classifier,
                                                     const incident::Taxonomy& taxonomy) {
    agents::GatewayOptions options;
    if (!args.config.empty()) {
        CB_TRY_ASSIGN(options.config, agents::LoadGatewayConfig(args.config));
    }
    if (!args.keys_file.empty()) {
        CB_TRY_ASSIGN(auto keys, agents::LoadKeysFile(args.keys_file));
        for (auto& k : keys) options.config.keys.push_back(std::move(k));
    }
    if (const char* env = std::getenv("CITYBRAIN_GATEWAY_KEYS"); env != nullptr) {
        CB_TRY_ASSIGN(auto keys, agents::KeysFromEnv(env));
        for (auto& k : keys) options.config.keys.push_back(std::move(k));
    }
    if (options.config.keys.empty()) {
        return InvalidArgument("--gateway-keys-file",
                               "the gateway has no keys: set CITYBRAIN_GATEWAY_KEYS or give a keys file (citybrain "
                               "gateway --new-key NAME makes one)");
    }
    options.audit_path = args.audit;
    options.io_context = io_context;
    if (gazetteer != nullptr) options.local.locate = agents::LocateWith(*gazetteer);
    options.local.taxonomy = &taxonomy;
    UseClassifier(options.local, classifier, taxonomy);
    return agents::Gateway::Open(std::move(options));
}

void AddGatewayOptions(CLI::App* cmd, GatewayArgs& args, const std::string& prefix) {
    cmd->add_option("--" + prefix + "config",
                    args.config,
                    "gateway configuration (JSON): upstreams, keys, breaker, fallback_local, audit");
    cmd->add_option("--" + prefix + "keys-file",
                    args.keys_file,
                    "virtual keys (JSON {\"keys\": [...]}, each with the key's sha256 and its limits); also "
                    "CITYBRAIN_GATEWAY_KEYS");
    cmd->add_option(
           "--" + prefix + "audit", args.audit, "the gateway's audit log: a SQLite file, or a postgresql:// URL")
        ->capture_default_str();
}

void AddDeskOptions(CLI::App* cmd, DeskArgs& args, const std::string& conversations) {
    args.conversations = conversations;
    cmd->add_option("--conversations",
                    args.conversations,
                    conversations.empty() ? "the citizen channel's conversations (SQLite; default: the --db file's "
                                            "name with .conversations, replaced at start)"
                                          : "the citizen channel's conversations (SQLite)")
        ->capture_default_str();
    cmd->add_option("--agents",
                    args.agents,
                    "agent files (*.json) for the citizen channel (default: a front desk and one agent per "
                    "department)");
    cmd->add_option("--knowledge", args.knowledge, "policy documents (*.md) for the default front desk");
    cmd->add_option("--jieba-dict", args.jieba_dict, "jieba's dictionary, for searching the documents")
        ->capture_default_str();
    cmd->add_option("--vault-keys",
                    args.vault_keys,
                    "a folder of department keys, <agent name>.key (citybrain vault keygen), for the agents that "
                    "may request residents' data from their vaults (request_resident_data)");
}

Result<std::unique_ptr<agents::CitizenDesk>> OpenDesk(const DeskArgs& args,
                                                      const ClassifierArgs& classifier,
                                                      incident::IncidentEngine& engine,
                                                      incident::IntakeQueue& intake,
                                                      const nlp::Gazetteer* gazetteer,
                                                      std::function<incident::TimeMs()> clock,
                                                      agents::Gateway* gateway,
                                                      std::function<nlohmann::json(double, double)> traffic) {
    agents::DeskOptions o;
    if (!args.agents.empty()) {
        if (!args.knowledge.empty()) {
            return InvalidArgument("--knowledge", "with --agents, each agent file lists its own documents");
        }
        CB_TRY_ASSIGN(o.agents, agents::LoadAgentDir(args.agents));
    } else {
        o.agents = agents::DefaultAgents(engine.taxonomy());
        if (!args.knowledge.empty()) {
            std::error_code ec;
            if (!std::filesystem::is_directory(args.knowledge, ec)) {
                return InvalidArgument("--knowledge", "'" + args.knowledge + "' is not a folder");
            }
            std::vector<std::string> docs;
            for (const auto& e : std::filesystem::directory_iterator(args.knowledge, ec)) {
                if (e.is_regular_file() && e.path().extension() == ".md") docs.push_back(e.path().string());
            }
            std::sort(docs.begin(), docs.end());
            if (docs.empty()) return InvalidArgument("--knowledge", "'" + args.knowledge + "' has no *.md documents");
            o.agents.front().knowledge = docs;  // the front desk's
        }
    }
    UseClassifier(o.local, classifier, engine.taxonomy());
    o.conversations_path = args.conversations;
    o.jieba_dict = args.jieba_dict;
    o.vault_keys_dir = args.vault_keys;
    o.gazetteer = gazetteer;
    o.clock = std::move(clock);
    o.gateway = gateway;
    o.traffic = std::move(traffic);
    if (const char* key = std::getenv("CITYBRAIN_AGENTS_KEY"); key != nullptr) o.gateway_key = key;
    if (gateway != nullptr && o.gateway_key.empty()) {
        for (const auto& a : o.agents) {
            if (a.model != agents::kLocalModel) {
                return InvalidArgument("CITYBRAIN_AGENTS_KEY",
                                       "agent '" + a.name + "' calls " + a.model +
                                           " through the gateway and needs a key of the gateway's for it");
            }
        }
    }
    return agents::CitizenDesk::Open(std::move(o), engine, intake);
}

namespace {

struct GatewayCommandArgs {
    GatewayArgs gateway;
    std::string address = "127.0.0.1";
    int port = 8400;
    int threads = 2;
    std::string district = "default";
    std::string access_log = "-";
    std::string new_key;
    std::string agent, team;
    ClassifierArgs classifier;
};

int PrintNewKey(const GatewayCommandArgs& a) {
    const std::string key = agents::NewKey();
    nlohmann::json entry = {{"name", a.new_key}, {"sha256", agents::Sha256Hex(key)}};
    if (!a.agent.empty()) entry["agent"] = a.agent;
    if (!a.team.empty()) entry["team"] = a.team;
    std::printf("key (give it to the agent; it is not stored anywhere): %s\n", key.c_str());
    std::printf("keys-file entry (add limits: rpm, tpm, budget_tokens, period, models):\n%s\n", entry.dump().c_str());
    return kExitOk;
}

int RunGateway(const GatewayCommandArgs& a) {
    if (!a.new_key.empty()) return PrintNewKey(a);
    if (a.port < 0 || a.port > 65535) return ReportError(InvalidArgument("--port", "must be 0 to 65535"), false);
    if (a.threads < 1 || a.threads > 64) return ReportError(InvalidArgument("--threads", "must be 1 to 64"), false);
    const sigset_t signals = BlockStopSignals();

    std::optional<nlp::Gazetteer> gazetteer;
    if (a.district == "default") {
        auto district = FleetDistrict(0, 1);
        if (!district.ok()) return ReportError(district.error(), false);
        auto gz = district::DistrictGazetteer(*district);
        if (!gz.ok()) return ReportError(gz.error(), false);
        gazetteer = std::move(gz).value();
    } else if (a.district != "none") {
        return ReportError(InvalidArgument("--district", "'default' (the generated district) or 'none'"), false);
    }
    server::ServerOptions options;
    options.address = a.address;
    options.port = static_cast<uint16_t>(a.port);
    options.threads = a.threads;
    options.access_log = a.access_log;
    ClassifierArgs classifier = a.classifier;
    const incident::Taxonomy& taxonomy = incident::Taxonomy::Default();
    if (Status s = LoadClassifier(classifier, taxonomy); !s.ok()) return ReportError(s.error(), false);
    server::HttpServer http(options);
    auto gateway = OpenGateway(a.gateway, gazetteer ? &*gazetteer : nullptr, &http.IoContext(), classifier, taxonomy);
    if (!gateway.ok()) return ReportError(gateway.error(), false);
    http.SetGateway(gateway->get());
    auto port = http.Start();
    if (!port.ok()) return ReportError(port.error(), false);
    std::printf("citybrain gateway on http://%s:%u/v1 (%zu keys, audit %s, models: citybrain-local%s)\n",
                a.address.c_str(),
                static_cast<unsigned>(*port),
                (*gateway)->keys(),
                a.gateway.audit.c_str(),
                a.gateway.config.empty() ? "" : " and the configured upstreams'");
    std::fflush(stdout);
    RunUntilStopSignal(http, signals);
    return kExitOk;
}

}  // namespace

void RegisterGateway(CLI::App& app) {
    auto args = std::make_shared<GatewayCommandArgs>();
    auto* cmd = app.add_subcommand(
        "gateway", "the model gateway: OpenAI-compatible /v1 with keys, limits, failover, audit and citybrain-local");
    AddGatewayOptions(cmd, args->gateway, "");
    cmd->add_option("--address", args->address)->capture_default_str();
    cmd->add_option("--port", args->port, "0 picks a free port")->capture_default_str();
    cmd->add_option("--threads", args->threads, "io threads for clients")->capture_default_str();
    cmd->add_option("--district", args->district, "whose places citybrain-local names: default or none")
        ->capture_default_str();
    cmd->add_option("--access-log", args->access_log, "- for stderr, a file, or '' for none")->capture_default_str();
    cmd->add_option("--new-key", args->new_key, "print a fresh key named NAME and its keys-file entry, then exit");
    cmd->add_option("--agent", args->agent, "with --new-key: the agent that holds it");
    cmd->add_option("--team", args->team, "with --new-key: the team that holds it");
    AddClassifierOptions(cmd, args->classifier);
    cmd->callback([args] { SetExitCode(RunGateway(*args)); });
}

}  // namespace citybrain::apps
