// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "server/api.hpp"

namespace citybrain::agents {
class Gateway;
}

namespace boost::asio {
class io_context;
}

namespace citybrain::server {

struct ServerOptions {
    std::string address = "127.0.0.1";
    uint16_t port = 8311;  // 0 = any free port
    int threads = 2;
    size_t body_limit = size_t{64} * 1024;                // a report is small; anything larger is refused with 413
    size_t gateway_body_limit = size_t{4} * 1024 * 1024;  // a model call carries a conversation
    size_t frame_body_limit = size_t{8} * 1024 * 1024;    // a camera's frame (POST /api/v1/cameras/{id}/frames)
    /// One line per request (time, request id, client, method, target, status, bytes, ms): "-" for stderr, a
    /// file to append to, or "" for none.
    std::string access_log = "-";
    /// Open connections at most (HTTP and WebSocket). 0: from the process's file-descriptor limit, less a reserve
    /// for the store, the broker and the log. At the cap the oldest idle keep-alive connection is closed to make
    /// room; with none idle a new connection gets 503 and is closed.
    size_t max_connections = 0;
    /// Origins (scheme://host[:port]) besides the served host that may open the live feed, and that CORS answers.
    /// Empty: the feed takes only its own page's origin (or a client that sends none) and CORS is off.
    std::vector<std::string> allowed_origins;
};

/// The one HTTP stack: HTTP/1.1 with keep-alive on Boost.Beast, one strand per connection, `threads` io threads.
/// It serves the API (Open311, /api/v1), the console's documents (GET/HEAD at fixed paths) and its live feed (a
/// WebSocket at /ws), all on one port. Every response carries an X-Request-Id. A malformed request gets 400 and
/// the connection closes; the server keeps serving.
class HttpServer {
public:
    HttpServer(Api& api, ServerOptions options);
    /// Any other service on the same stack (the resident's vault): every request that is not a document goes to
    /// `handler`, which calls its `done` exactly once, from any thread.
    using Handler = std::function<void(const ApiRequest&, std::function<void(ApiResponse)>)>;
    HttpServer(Handler handler, ServerOptions options);
    /// A server without the case API (the gateway alone): everything outside /v1/ is 404.
    explicit HttpServer(ServerOptions options);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    /// Binds and starts listening; returns the bound port.
    Result<uint16_t> Start();
    /// Runs the io threads until Stop (from another thread or a signal).
    void Run();
    void Stop();

    /// Hands every request under /v1/ to the model gateway (OpenAI's paths), streamed answers included. Before Start.
    void SetGateway(agents::Gateway* gateway);
    /// The server's io threads' context: the gateway runs its upstream calls here, with no hand-over between
    /// threads (agents::GatewayOptions::io_context).
    boost::asio::io_context& IoContext();

    /// Serves `body` at `path` for GET and HEAD, before the API sees the path ("/" is "/index.html"). Thread-safe.
    void SetDocument(const std::string& path, const std::string& content_type, std::string body);
    /// Sends a frame to every WebSocket client of /ws; one that connects later gets the newest frame first.
    void Publish(std::string frame);
    size_t Clients() const;
    /// Open connections now, and the cap they are held under.
    size_t Connections() const;
    size_t MaxConnections() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace citybrain::server
