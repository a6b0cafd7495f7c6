// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace boost::asio {
class io_context;
}

namespace citybrain::agents {

/// Where an upstream lives, from its base URL ("http://host:port/v1").
struct UpstreamAddress {
    std::string host;
    std::string port = "80";
    std::string base_path;  // without a trailing slash
};
Result<UpstreamAddress> ParseUpstreamUrl(const std::string& url, const std::string& field);

struct UpstreamRequest {
    UpstreamAddress address;
    std::string path;  // appended to the base path, e.g. "/chat/completions"
    std::string method = "POST";
    std::string api_key;
    std::string body;
    int64_t timeout_ms = 30000;  // for connecting and for each wait for bytes
};

/// What a call reports, in order: the status once, the body's bytes as they arrive (any framing: length, chunked
/// or to the end), then `done` exactly once with nothing or the failure. Called on the client's threads.
struct UpstreamHandlers {
    std::function<void(int status)> head;
    std::function<bool(std::string_view bytes)> body;  // false: stop reading, close, done("cancelled")
    std::function<void(std::optional<std::string> failure)> done;
};

/// Asynchronous HTTP/1.1 calls to upstream model servers on its own io threads (Beast), streamed as they arrive,
/// so that a slow upstream holds no thread and a stream is relayed chunk by chunk.
class UpstreamClient {
public:
    /// On its own io threads, or on `shared` (the HTTP server's), so that a call and its client's connection are
    /// served by the same threads without a hand-over between them.
    explicit UpstreamClient(int threads, boost::asio::io_context* shared = nullptr);
    ~UpstreamClient();
    UpstreamClient(const UpstreamClient&) = delete;
    UpstreamClient& operator=(const UpstreamClient&) = delete;

    void Call(UpstreamRequest request, UpstreamHandlers handlers);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace citybrain::agents
