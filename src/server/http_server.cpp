// SPDX-License-Identifier: Apache-2.0
// The only file that knows Boost.Beast (its templates are heavy to compile; keep them here).
#include "server/http_server.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <vector>

#include "agents/gateway.hpp"
#include "core/time.hpp"
#include "server/listen.hpp"

namespace citybrain::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);

struct Document {
    std::string content_type;
    std::shared_ptr<const std::string> body;
};

int64_t SteadyMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// An open connection, as the accept loop sees it: whether it waits idle for a request, and how to close it.
class Conn {
public:
    virtual ~Conn() = default;
    /// Closes the connection from any thread, if it is still idle when its strand gets to it.
    virtual void Shed() = 0;
    /// When it began to wait for a request, as a ticket from `Registry::NextTicket` (strictly increasing, so two
    /// connections that went idle in the same millisecond still have an order); 0 while it is busy or when it is
    /// never shed (a feed).
    std::atomic<uint64_t> idle_since{0};
};

/// Every open connection, so that the server stays under its file-descriptor budget: at the cap the oldest idle
/// keep-alive connection makes room for a new one.
class Registry {
public:
    void Add(const std::shared_ptr<Conn>& c) {
        std::lock_guard lock(mu_);
        open_[c.get()] = c;
    }
    void Remove(Conn* c) {
        std::lock_guard lock(mu_);
        open_.erase(c);
    }
    size_t Size() const {
        std::lock_guard lock(mu_);
        return open_.size();
    }
    uint64_t NextTicket() { return ticket_.fetch_add(1, std::memory_order_relaxed); }
    /// Closes the connection idle longest; false when none is idle. Linear in the open connections: it runs
    /// only at the cap.
    bool ShedOldestIdle() {
        std::shared_ptr<Conn> oldest;
        {
            std::lock_guard lock(mu_);
            uint64_t since = 0;
            for (auto& [raw, weak] : open_) {
                const uint64_t t = raw->idle_since.load(std::memory_order_relaxed);
                if (t == 0 || (since != 0 && t >= since)) continue;
                if (auto c = weak.lock()) {
                    oldest = std::move(c);
                    since = t;
                }
            }
            // Taken off now, so that the next call picks another even before this one has closed.
            if (oldest) open_.erase(oldest.get());
        }
        if (!oldest) return false;
        oldest->Shed();
        return true;
    }

private:
    mutable std::mutex mu_;
    std::unordered_map<Conn*, std::weak_ptr<Conn>> open_;
    std::atomic<uint64_t> ticket_{1};
};

/// One console's live feed: at most one write in flight and one frame waiting (the newest), so a slow browser
/// skips frames and never holds up the brain.
class WsSession : public Conn, public std::enable_shared_from_this<WsSession> {
public:
    WsSession(tcp::socket&& socket, Registry& registry) : ws_(std::move(socket)), registry_(registry) {}
    ~WsSession() override { registry_.Remove(this); }
    void Shed() override {}  // a console's feed is never idle

    template <class Live>
    void Accept(http::request<http::string_body> req, Live* live) {
        registry_.Add(shared_from_this());
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.async_accept(req, [self = shared_from_this(), live](beast::error_code ec) {
            if (ec) return;
            live->Register(self);
            self->ReadLoop();
        });
    }

    /// From any thread.
    void Send(std::shared_ptr<const std::string> frame) {
        net::post(ws_.get_executor(), [self = shared_from_this(), frame = std::move(frame)]() mutable {
            self->waiting_ = std::move(frame);
            if (!self->writing_) self->WriteNext();
        });
    }

private:
    void WriteNext() {
        if (!waiting_ || closed_) return;
        writing_ = true;
        current_ = std::move(waiting_);
        ws_.text(true);
        ws_.async_write(net::buffer(*current_), [self = shared_from_this()](beast::error_code ec, size_t) {
            self->writing_ = false;
            if (ec) {
                self->closed_ = true;
                return;
            }
            self->WriteNext();
        });
    }

    void ReadLoop() {
        // The page sends nothing we act on; reading keeps pings answered and notices a close.
        ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, size_t) {
            if (ec) {
                self->closed_ = true;
                return;
            }
            self->in_.consume(self->in_.size());
            self->ReadLoop();
        });
    }

    websocket::stream<beast::tcp_stream> ws_;
    Registry& registry_;
    beast::flat_buffer in_;
    std::shared_ptr<const std::string> waiting_;
    std::shared_ptr<const std::string> current_;
    bool writing_ = false;
    bool closed_ = false;
};

/// The console's documents and live feed, shared by every connection.
struct Live {
    std::mutex mu;
    std::unordered_map<std::string, Document> documents;
    std::shared_ptr<const std::string> latest;
    std::vector<std::weak_ptr<WsSession>> clients;

    std::optional<Document> Find(std::string path) {
        if (path == "/") path = "/index.html";
        std::lock_guard lock(mu);
        auto it = documents.find(path);
        if (it == documents.end()) return std::nullopt;
        return it->second;
    }

    void Register(const std::shared_ptr<WsSession>& s) {
        std::shared_ptr<const std::string> first;
        {
            std::lock_guard lock(mu);
            clients.push_back(s);
            first = latest;
        }
        if (first) s->Send(std::move(first));
    }
};

/// What every connection shares: the API, the console's documents, the connection registry and the options.
struct Shared {
    const HttpServer::Handler* handler;  // empty: a gateway-only server
    agents::Gateway* gateway;
    Live& live;
    Registry& registry;
    const ServerOptions& options;
    std::atomic<uint64_t>& ids;
    std::FILE* log;
};

class Session : public Conn, public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, const Shared& shared)
        : stream_(std::move(socket)),
          handler_(shared.handler),
          gateway_(shared.gateway),
          live_(shared.live),
          registry_(shared.registry),
          options_(shared.options),
          body_limit_(shared.options.body_limit),
          ids_(shared.ids),
          log_(shared.log) {}
    ~Session() override { registry_.Remove(this); }

    /// `refuse`: the server is at its connection cap with nothing idle to close; say so and close.
    void Start(bool refuse) {
        registry_.Add(shared_from_this());
        if (refuse) {
            net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
                self->request_id_ = self->ids_.fetch_add(1, std::memory_order_relaxed);
                self->started_ = std::chrono::steady_clock::now();
                self->keep_alive_ = false;
                self->Send(ErrorFor("/",
                                    503,
                                    "connection",
                                    "the server is at its connection limit; try again shortly",
                                    std::to_string(self->request_id_)));
            });
            return;
        }
        net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::Read, shared_from_this()));
    }

    void Shed() override {
        net::post(stream_.get_executor(), [self = shared_from_this()] {
            if (self->idle_since.load() == 0) return;  // a request arrived meanwhile: it is served
            beast::error_code ec;
            self->stream_.socket().close(ec);
        });
    }

private:
    void Read() {
        parser_.emplace();
        // The header first: a model call under /v1/ may carry a longer body than a report. Beast checks a
        // Content-Length against the limit as the header completes, so the header is read under the larger limit
        // and the path's own limit is applied once the path is known.
        parser_->body_limit(
            std::max({body_limit_, gateway_ != nullptr ? options_.gateway_body_limit : 0, options_.frame_body_limit}));
        stream_.expires_after(kIdleTimeout);
        idle_since.store(registry_.NextTicket());
        http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
            if (ec) return self->OnRead(ec, 0);
            self->idle_since.store(0);
            const auto target = self->parser_->get().target();
            const size_t limit = self->LimitFor(std::string_view(target.data(), target.size()));
            if (const auto length = self->parser_->content_length(); length && *length > limit) {
                return self->OnRead(http::error::body_limit, 0);
            }
            self->parser_->body_limit(limit);  // a chunked body is counted against it as it comes
            if (self->parser_->is_done()) return self->OnRead({}, 0);
            http::async_read(self->stream_,
                             self->buffer_,
                             *self->parser_,
                             beast::bind_front_handler(&Session::OnRead, self->shared_from_this()));
        });
    }

    /// The body limit of a request target: a model call's, a camera frame's, or a report's.
    size_t LimitFor(std::string_view target) const {
        const std::string_view path = target.substr(0, target.find('?'));
        if (gateway_ != nullptr && path.substr(0, 4) == "/v1/") return options_.gateway_body_limit;
        if (path.rfind("/api/v1/cameras/", 0) == 0 && path.size() > 7 && path.substr(path.size() - 7) == "/frames")
            return options_.frame_body_limit;
        return body_limit_;
    }

    /// A browser's Origin is allowed when it is the served host itself or on the configured list.
    bool OriginAllowed(std::string_view origin, std::string_view host) const {
        if (origin.empty()) return true;  // not a browser: nothing to forge across sites
        for (const char* scheme : {"http://", "https://"}) {
            if (!host.empty() && origin == std::string(scheme) + std::string(host)) return true;
        }
        return std::find(options_.allowed_origins.begin(), options_.allowed_origins.end(), origin) !=
               options_.allowed_origins.end();
    }

    void OnRead(beast::error_code ec, size_t) {
        idle_since.store(0);
        if (ec == http::error::end_of_stream || ec == net::error::eof) return Close();
        if (ec == beast::error::timeout || ec == net::error::operation_aborted || ec == net::error::connection_reset) {
            return;
        }
        request_id_ = ids_.fetch_add(1, std::memory_order_relaxed);
        started_ = std::chrono::steady_clock::now();
        if (ec) {
            // Malformed HTTP: say why, then close; the parser's state is not trustworthy past this point. Where
            // the header was read, the error takes the shape its path's clients expect (Open311 or ours).
            const int status = ec == http::error::body_limit ? 413 : 400;
            method_.clear();
            target_.clear();
            // The request line is parsed before any header (an oversized Content-Length is refused in the header),
            // so the target is known unless the request line itself was bad.
            method_ = std::string(parser_->get().method_string().substr(0, 16));
            target_ = std::string(parser_->get().target().substr(0, 256));
            const std::string path = target_.substr(0, target_.find('?'));
            keep_alive_ = false;
            return Send(ErrorFor(path,
                                 status,
                                 status == 413 ? "body" : "http",
                                 status == 413 ? "request body larger than " + std::to_string(LimitFor(path)) + " bytes"
                                               : "malformed HTTP request: " + ec.message(),
                                 std::to_string(request_id_)));
        }
        auto& req = parser_->get();
        keep_alive_ = req.keep_alive();
        version_ = req.version();
        method_ = std::string(req.method_string().substr(0, 16));
        target_ = std::string(req.target().substr(0, 256));
        std::string path(req.target().substr(0, req.target().find('?')));
        const std::string origin(req[http::field::origin]);
        // CORS is answered only for a listed origin; the served host needs none (same origin).
        cors_origin_.clear();
        if (!origin.empty() && std::find(options_.allowed_origins.begin(), options_.allowed_origins.end(), origin) !=
                                   options_.allowed_origins.end()) {
            cors_origin_ = origin;
        }
        if (websocket::is_upgrade(req)) {
            keep_alive_ = false;
            if (path != "/ws") {
                return Send(ErrorFor(path, 404, "path", "the live feed is at /ws", std::to_string(request_id_)));
            }
            if (!OriginAllowed(origin, std::string(req[http::field::host]))) {
                // Another site's page must not read the brain's live state through a visitor's browser.
                return Send(ErrorFor(path,
                                     403,
                                     "Origin",
                                     "'" + std::string(origin.substr(0, 128)) +
                                         "' may not open the live feed (allowed: this host, --allow-origin)",
                                     std::to_string(request_id_)));
            }
            Log(101, 0);
            stream_.expires_never();
            std::make_shared<WsSession>(stream_.release_socket(), registry_)->Accept(parser_->release(), &live_);
            return;
        }
        if (req.method() == http::verb::options && !cors_origin_.empty()) {
            // A CORS preflight from a listed origin.
            ApiResponse r;
            r.status = 204;
            r.allow = "GET, HEAD, POST, OPTIONS";
            preflight_ = true;
            return Send(std::move(r));
        }
        if (req.method() == http::verb::get || req.method() == http::verb::head) {
            if (auto doc = live_.Find(path)) {
                ApiResponse r;
                r.content_type = doc->content_type;
                r.body = *doc->body;  // Send leaves it out for HEAD, but counts it
                return Send(std::move(r));
            }
        }
        std::string bearer;
        if (const std::string auth(req[http::field::authorization]); auth.rfind("Bearer ", 0) == 0) {
            bearer = auth.substr(7);
        }
        if (gateway_ != nullptr && path.rfind("/v1/", 0) == 0) {
            // A model call may wait on its upstream for as long as that upstream's timeout, then stream for
            // minutes: no deadline while the gateway works; each write has its own.
            stream_.expires_never();
            agents::GatewayRequest call;
            call.method = std::string(req.method_string());
            call.path = path;
            call.body = std::move(req.body());
            call.api_key = bearer.empty() ? std::string(req["X-API-Key"]) : bearer;
            call.request_id = std::to_string(request_id_);
            gateway_->Handle(call, std::make_shared<GatewayReply>(shared_from_this()));
            return;
        }
        if (handler_ == nullptr || !*handler_) {
            return Send(ErrorFor(path,
                                 404,
                                 "path",
                                 "this server answers only the model gateway's /v1/ paths",
                                 std::to_string(request_id_)));
        }
        ApiRequest in;
        in.method = std::string(req.method_string());
        in.target = std::string(req.target());
        in.body = req.body();
        in.content_type = std::string(req[http::field::content_type]);
        in.idempotency_key = std::string(req["Idempotency-Key"]);
        in.request_id = std::to_string(request_id_);
        in.api_key = std::string(req["X-API-Key"]);
        if (in.api_key.empty()) in.api_key = bearer;
        // The API may answer from the intake writer's thread: hop back onto this connection's strand.
        (*handler_)(in, [self = shared_from_this()](ApiResponse r) {
            net::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable { self->Send(std::move(r)); });
        });
    }

    /// The access log's line for this request.
    void Log(int status, size_t bytes) {
        if (log_ == nullptr) return;
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
        beast::error_code ec;
        const auto remote = stream_.socket().remote_endpoint(ec);
        // Control characters in a target would forge log lines: they are replaced.
        std::string target = target_;
        for (char& c : target) {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
        }
        std::fprintf(log_,
                     "%s id=%llu %s %s %s %d %zu %.1fms\n",
                     core::FormatTimestamp(core::NowMs()).c_str(),
                     static_cast<unsigned long long>(request_id_),
                     ec ? "-" : remote.address().to_string().c_str(),
                     method_.empty() ? "-" : method_.c_str(),
                     target.empty() ? "-" : target.c_str(),
                     status,
                     bytes,
                     ms);
    }

    void Send(ApiResponse r) {
        Log(r.status, r.body.size());
        auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version_);
        res->set(http::field::server, "CityBrain");
        res->set(http::field::content_type, r.content_type);
        res->set("X-Request-Id", std::to_string(request_id_));
        if (!r.allow.empty()) res->set(http::field::allow, r.allow);
        for (const auto& [name, value] : r.headers) res->set(name, value);
        SetCors(*res);
        res->keep_alive(keep_alive_);
        const size_t length = r.body.size();
        if (method_ != "HEAD") res->body() = std::move(r.body);
        res->prepare_payload();
        // HEAD: the headers GET would send, Content-Length included, and no body.
        if (method_ == "HEAD") res->content_length(length);
        stream_.expires_after(kIdleTimeout);
        http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
            if (ec || !self->keep_alive_) return self->Close();
            self->Read();
        });
    }

    template <class Message>
    void SetCors(Message& res) {
        if (!cors_origin_.empty()) {
            res.set(http::field::access_control_allow_origin, cors_origin_);
            res.set(http::field::vary, "Origin");
            res.set(http::field::access_control_expose_headers, "X-Request-Id");
            if (preflight_) {
                res.set(http::field::access_control_allow_methods, "GET, HEAD, POST");
                res.set(http::field::access_control_allow_headers,
                        "Content-Type, X-API-Key, Authorization, Idempotency-Key");
                res.set(http::field::access_control_max_age, "600");
                preflight_ = false;
            }
        }
    }

    /// The gateway's answer, from any thread, onto this connection's strand: a whole response, or a stream as
    /// HTTP chunks (one per relayed event, written as soon as it comes).
    class GatewayReply : public agents::Responder {
    public:
        explicit GatewayReply(std::shared_ptr<Session> s) : s_(std::move(s)) {}
        void Reply(int status, std::string content_type, std::string body, agents::Headers headers) override {
            ApiResponse r;
            r.status = status;
            r.content_type = std::move(content_type);
            r.body = std::move(body);
            r.headers = std::move(headers);
            net::post(s_->stream_.get_executor(), [s = s_, r = std::move(r)]() mutable { s->Send(std::move(r)); });
        }
        void Begin(int status, std::string content_type, agents::Headers headers) override {
            net::post(s_->stream_.get_executor(),
                      [s = s_, status, ct = std::move(content_type), h = std::move(headers)]() mutable {
                          s->BeginStream(status, ct, h);
                      });
        }
        bool Write(std::string piece) override {
            if (s_->gone_.load()) return false;
            net::post(s_->stream_.get_executor(), [s = s_, p = std::move(piece)] { s->QueueChunk(p); });
            return true;
        }
        void End() override {
            net::post(s_->stream_.get_executor(), [s = s_] {
                s->stream_ended_ = true;
                s->Queue("0\r\n\r\n");
            });
        }

    private:
        std::shared_ptr<Session> s_;
    };

    void BeginStream(int status, const std::string& content_type, const agents::Headers& headers) {
        stream_status_ = status;
        streamed_ = 0;
        stream_ended_ = false;
        http::response<http::empty_body> res{static_cast<http::status>(status), version_};
        res.set(http::field::server, "CityBrain");
        res.set(http::field::content_type, content_type);
        res.set("X-Request-Id", std::to_string(request_id_));
        for (const auto& [name, value] : headers) res.set(name, value);
        SetCors(res);
        res.keep_alive(keep_alive_);
        res.chunked(true);
        std::ostringstream head;
        head << res.base();
        Queue(head.str());
    }

    void QueueChunk(const std::string& piece) {
        if (piece.empty()) return;  // an empty chunk would end the body
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
        streamed_ += piece.size();
        Queue(size + piece + "\r\n");
    }

    void Queue(std::string bytes) {
        if (gone_.load()) return;
        out_.push_back(std::move(bytes));
        if (!writing_) WriteNext();
    }

    void WriteNext() {
        if (out_.empty()) {
            writing_ = false;
            if (stream_ended_) {
                stream_ended_ = false;
                Log(stream_status_, streamed_);
                if (keep_alive_) return Read();
                return Close();
            }
            return;
        }
        writing_ = true;
        // A client that reads nothing for this long has gone.
        stream_.expires_after(kIdleTimeout);
        net::async_write(stream_, net::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, size_t) {
            self->out_.pop_front();
            if (ec) {
                self->gone_.store(true);
                self->out_.clear();
                self->writing_ = false;
                return self->Close();
            }
            self->WriteNext();
        });
    }

    void Close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    const HttpServer::Handler* handler_;
    agents::Gateway* gateway_;
    Live& live_;
    Registry& registry_;
    const ServerOptions& options_;
    size_t body_limit_;
    std::atomic<uint64_t>& ids_;
    std::FILE* log_;
    uint64_t request_id_ = 0;
    std::chrono::steady_clock::time_point started_;
    std::string method_, target_;
    std::string cors_origin_;
    bool preflight_ = false;
    bool keep_alive_ = true;
    // A streamed answer: the bytes waiting to be written, in order.
    std::deque<std::string> out_;
    bool writing_ = false;
    bool stream_ended_ = false;
    int stream_status_ = 200;
    size_t streamed_ = 0;
    std::atomic<bool> gone_{false};
    unsigned version_ = 11;
};

}  // namespace

struct HttpServer::Impl {
    Impl(HttpServer::Handler h, ServerOptions o)
        : handler(std::move(h)),
          options(std::move(o)),
          cap(options.max_connections > 0 ? options.max_connections : DefaultCap()),
          ioc(options.threads),
          acceptor(net::make_strand(ioc)),
          retry(acceptor.get_executor()) {}
    ~Impl() {
        if (own_log) std::fclose(log);
    }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    /// The file-descriptor limit less a reserve for what else the process holds open (the store's files and
    /// connections, the broker, the log, the io machinery).
    static size_t DefaultCap() {
        rlimit limit{};
        if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 16384;
        const auto n = static_cast<size_t>(limit.rlim_cur);
        const size_t reserve = std::max<size_t>(32, n / 8);
        return n > reserve + 16 ? n - reserve : 16;
    }

    void Accept() {
        acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
            if (ec == net::error::operation_aborted) return;
            if (ec) {
                // Out of descriptors (EMFILE, ENFILE) or buffers: the pending connection stays queued in the
                // kernel. Free a descriptor and wait a moment instead of retrying at once, which would spin.
                const bool shed = registry.ShedOldestIdle();
                const int64_t now = SteadyMs();
                if (log != nullptr && now - last_warning >= 1000) {
                    last_warning = now;
                    std::fprintf(log,
                                 "%s accept failed: %s (%zu connections open%s)\n",
                                 core::FormatTimestamp(core::NowMs()).c_str(),
                                 ec.message().c_str(),
                                 registry.Size(),
                                 shed ? "; closed the oldest idle one" : "");
                }
                retry.expires_after(std::chrono::milliseconds(50));
                retry.async_wait([this](beast::error_code wait) {
                    if (wait != net::error::operation_aborted) Accept();
                });
                return;
            }
            bool refuse = false;
            if (registry.Size() >= cap) refuse = !registry.ShedOldestIdle();
            std::make_shared<Session>(std::move(socket), shared)->Start(refuse);
            Accept();
        });
    }

    HttpServer::Handler handler;
    ServerOptions options;
    Live live;
    Registry registry;
    std::atomic<uint64_t> ids{1};
    std::FILE* log = nullptr;
    bool own_log = false;
    Shared shared{&handler, nullptr, live, registry, options, ids, nullptr};
    size_t cap;
    int64_t last_warning = 0;
    // The io objects are declared last, so they go first: with the io_context go the handlers that still hold
    // connections, and each connection unregisters itself from `registry`, which must still be there.
    net::io_context ioc;
    tcp::acceptor acceptor;
    net::steady_timer retry;
};

HttpServer::HttpServer(Api& api, ServerOptions options)
    : impl_(std::make_unique<Impl>(
          [&api](const ApiRequest& r, std::function<void(ApiResponse)> done) { api.Handle(r, std::move(done)); },
          std::move(options))) {}
HttpServer::HttpServer(Handler handler, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(handler), std::move(options))) {}
HttpServer::HttpServer(ServerOptions options) : impl_(std::make_unique<Impl>(nullptr, std::move(options))) {}

void HttpServer::SetGateway(agents::Gateway* gateway) { impl_->shared.gateway = gateway; }
boost::asio::io_context& HttpServer::IoContext() { return impl_->ioc; }

HttpServer::~HttpServer() { Stop(); }

Result<uint16_t> HttpServer::Start() {
    for (const std::string& origin : impl_->options.allowed_origins) {
        const size_t host = origin.rfind("http://", 0) == 0 ? 7 : origin.rfind("https://", 0) == 0 ? 8 : 0;
        if (host == 0 || origin.size() == host || origin.find('/', host) != std::string::npos) {
            return InvalidArgument("--allow-origin",
                                   "'" + origin + "' is not an origin (scheme://host[:port], no path)");
        }
    }
    if (impl_->options.access_log == "-") {
        impl_->log = stderr;
    } else if (!impl_->options.access_log.empty() && impl_->log == nullptr) {
        impl_->log = std::fopen(impl_->options.access_log.c_str(), "a");
        if (impl_->log == nullptr) {
            return InvalidArgument("--access-log", "cannot append to '" + impl_->options.access_log + "'");
        }
        std::setvbuf(impl_->log, nullptr, _IOLBF, 0);
        impl_->own_log = true;
    }
    impl_->shared.log = impl_->log;
    const auto port = Listen(impl_->acceptor, impl_->options.address, impl_->options.port);
    if (!port.ok()) return port.error();
    impl_->Accept();
    return *port;
}

void HttpServer::Run() {
    std::vector<std::thread> threads;
    for (int i = 1; i < impl_->options.threads; ++i) threads.emplace_back([this] { impl_->ioc.run(); });
    impl_->ioc.run();
    for (auto& t : threads) t.join();
}

void HttpServer::Stop() { impl_->ioc.stop(); }

void HttpServer::SetDocument(const std::string& path, const std::string& content_type, std::string body) {
    std::lock_guard lock(impl_->live.mu);
    impl_->live.documents[path] = {content_type, std::make_shared<const std::string>(std::move(body))};
}

void HttpServer::Publish(std::string frame) {
    auto shared = std::make_shared<const std::string>(std::move(frame));
    std::vector<std::shared_ptr<WsSession>> live;
    {
        std::lock_guard lock(impl_->live.mu);
        impl_->live.latest = shared;
        size_t kept = 0;
        for (auto& w : impl_->live.clients) {
            if (auto s = w.lock()) {
                live.push_back(std::move(s));
                impl_->live.clients[kept++] = w;
            }
        }
        impl_->live.clients.resize(kept);
    }
    for (auto& s : live) s->Send(shared);
}

size_t HttpServer::Connections() const { return impl_->registry.Size(); }
size_t HttpServer::MaxConnections() const { return impl_->cap; }

size_t HttpServer::Clients() const {
    std::lock_guard lock(impl_->live.mu);
    size_t n = 0;
    for (const auto& w : impl_->live.clients) n += w.expired() ? 0 : 1;
    return n;
}

}  // namespace citybrain::server
