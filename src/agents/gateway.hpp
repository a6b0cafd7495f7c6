// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "agents/gateway_config.hpp"
#include "agents/local_model.hpp"
#include "core/error.hpp"

namespace boost::asio {
class io_context;
}

namespace citybrain::agents {

using Headers = std::vector<std::pair<std::string, std::string>>;

/// Where the gateway's answer goes: the HTTP server's connection. Either one `Reply`, or `Begin`, any number of
/// `Write`s and one `End`. May be called from any thread; the implementation hops onto its connection.
class Responder {
public:
    virtual ~Responder() = default;
    virtual void Reply(int status, std::string content_type, std::string body, Headers headers) = 0;
    virtual void Begin(int status, std::string content_type, Headers headers) = 0;
    /// False once the client has gone: the gateway stops the upstream.
    virtual bool Write(std::string piece) = 0;
    virtual void End() = 0;
};

struct GatewayRequest {
    std::string method;
    std::string path;  // without the query
    std::string body;
    std::string api_key;  // the bearer token
    std::string request_id;
};

struct GatewayOptions {
    GatewayConfig config;
    std::string audit_path;                         // SQLite file of the audit log
    int io_threads = 2;                             // for upstream calls, unless they share the HTTP server's
    boost::asio::io_context* io_context = nullptr;  // the HTTP server's (HttpServer::IoContext)
    LocalModelOptions local;
    std::function<int64_t()> clock;  // ms since the epoch; the wall clock by default
};

/// The model gateway (OpenAI-compatible): `GET /v1/models`, `POST /v1/chat/completions` (streamed over SSE when
/// asked, relayed event by event), `POST /v1/embeddings`, and `GET /v1/gateway/status`. Every call needs a virtual
/// key and is held to its limits (429 with Retry-After); it goes to the model's upstreams by priority and weight,
/// fails over on error or timeout, skips upstreams whose breaker is open, and falls back to citybrain-local, which
/// is served in process. Every call ends in one audit row.
class Gateway {
public:
    static Result<std::unique_ptr<Gateway>> Open(GatewayOptions options);
    ~Gateway();
    Gateway(const Gateway&) = delete;
    Gateway& operator=(const Gateway&) = delete;

    /// Answers through `out`, now or later from the upstream threads. Never throws.
    void Handle(const GatewayRequest& request, const std::shared_ptr<Responder>& out);

    /// Upstreams with their breaker state, calls in flight and counts; keys with their period's tokens.
    nlohmann::json Status() const;
    size_t keys() const;

    struct Impl;

private:
    explicit Gateway(std::unique_ptr<Impl> impl);
    void HandleChecked(const GatewayRequest& request, const std::shared_ptr<Responder>& out);
    std::unique_ptr<Impl> impl_;
};

}  // namespace citybrain::agents
