// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "agents/gateway.hpp"
#include "nlp/gazetteer.hpp"

namespace citybrain::apps {

/// Where the gateway's configuration, keys and audit come from (`citybrain gateway`, and `serve`'s /v1/).
struct GatewayArgs {
    std::string config;
    std::string keys_file;
    std::string audit = "gateway-audit.db";
};

/// `prefix` is "" for `citybrain gateway` and "gateway-" for `serve` (--gateway-config, …).
void AddGatewayOptions(CLI::App* cmd, GatewayArgs& args, const std::string& prefix);

/// The gateway from its arguments; citybrain-local names places from `gazetteer` when given.
/// Upstream calls run on `io_context` (the HTTP server's) when given.
Result<std::unique_ptr<agents::Gateway>> OpenGateway(const GatewayArgs& args,
                                                     const nlp::Gazetteer* gazetteer,
                                                     boost::asio::io_context* io_context = nullptr);

}  // namespace citybrain::apps
