// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "agents/citizen_desk.hpp"
#include "agents/gateway.hpp"
#include "district/brain.hpp"
#include "nlp/gazetteer.hpp"
#include "nlp/message_model.hpp"

namespace citybrain::apps {

/// Where the gateway's configuration, keys and audit come from (`citybrain gateway`, and `serve`'s /v1/).
struct GatewayArgs {
    std::string config;
    std::string keys_file;
    std::string audit = "gateway-audit.db";
};

/// The intake classifier (`serve`, `run`, `gateway`): a model `nlp train` made from a message board's domains,
/// routed to categories by the taxonomy's `domains`.
struct ClassifierArgs {
    std::string path;
    double threshold = 0.6;
    std::string order = "keywords";
    district::IntakeOrder intake_order = district::IntakeOrder::kKeywordsFirst;  // set by LoadClassifier
    std::shared_ptr<const nlp::MessageModel> model;                              // set by LoadClassifier
};

void AddClassifierOptions(CLI::App* cmd, ClassifierArgs& args);

/// Loads --classifier, when given, and checks its labels against the taxonomy's domains.
Status LoadClassifier(ClassifierArgs& args, const incident::Taxonomy& taxonomy);

/// citybrain-local's `classify` from the loaded classifier (empty when there is none); `taxonomy` must outlive it.
void UseClassifier(agents::LocalModelOptions& local, const ClassifierArgs& args, const incident::Taxonomy& taxonomy);

/// `prefix` is "" for `citybrain gateway` and "gateway-" for `serve` (--gateway-config, …).
void AddGatewayOptions(CLI::App* cmd, GatewayArgs& args, const std::string& prefix);

/// The gateway from its arguments; citybrain-local names places from `gazetteer` when given.
/// Upstream calls run on `io_context` (the HTTP server's) when given. citybrain-local classifies with
/// `classifier`'s model when it has one, through `taxonomy`.
Result<std::unique_ptr<agents::Gateway>> OpenGateway(const GatewayArgs& args,
                                                     const nlp::Gazetteer* gazetteer,
                                                     boost::asio::io_context* io_context,
                                                     const ClassifierArgs& classifier,
                                                     const incident::Taxonomy& taxonomy);

/// The citizen channel's agents (`serve`, `run`).
struct DeskArgs {
    std::string conversations;
    std::string agents;
    std::string knowledge;
    std::string jieba_dict = agents::kJiebaDict;
    std::string vault_keys;
};

void AddDeskOptions(CLI::App* cmd, DeskArgs& args, const std::string& conversations);

/// The desk over the brain's engine and intake: agent files from --agents, or a front desk (with --knowledge's
/// documents) and one agent per department. Agents on an upstream model call it through `gateway` with the key
/// in CITYBRAIN_AGENTS_KEY.
Result<std::unique_ptr<agents::CitizenDesk>> OpenDesk(const DeskArgs& args,
                                                      const ClassifierArgs& classifier,
                                                      incident::IncidentEngine& engine,
                                                      incident::IntakeQueue& intake,
                                                      const nlp::Gazetteer* gazetteer,
                                                      std::function<incident::TimeMs()> clock,
                                                      agents::Gateway* gateway,
                                                      std::function<nlohmann::json(double, double)> traffic = {});

}  // namespace citybrain::apps
