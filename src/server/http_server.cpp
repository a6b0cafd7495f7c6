// SPDX-License-Identifier: Apache-2.0
// The only file that knows Boost.Beast (its templates are heavy to compile; keep them here).
#include "server/http_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

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

/// One console's live feed: at most one write in flight and one frame waiting (the newest), so a slow browser
/// skips frames and never holds up the brain.
class WsSession : public std::enable_shared_from_this<WsSession> {
public:
    explicit WsSession(tcp::socket&& socket) : ws_(std::move(socket)) {}

    template <class Registry>
    void Accept(http::request<http::string_body> req, Registry* registry) {
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.async_accept(req, [self = shared_from_this(), registry](beast::error_code ec) {
            if (ec) return;
            registry->Register(self);
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

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, Api& api, Live& live, size_t body_limit, std::atomic<uint64_t>& ids, std::FILE* log)
        : stream_(std::move(socket)), api_(api), live_(live), body_limit_(body_limit), ids_(ids), log_(log) {}

    void Start() {
        net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::Read, shared_from_this()));
    }

private:
    void Read() {
        parser_.emplace();
        parser_->body_limit(body_limit_);
        stream_.expires_after(kIdleTimeout);
        http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, shared_from_this()));
    }

    void OnRead(beast::error_code ec, size_t) {
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
                                 status == 413 ? "request body larger than " + std::to_string(body_limit_) + " bytes"
                                               : "malformed HTTP request: " + ec.message(),
                                 std::to_string(request_id_)));
        }
        auto& req = parser_->get();
        keep_alive_ = req.keep_alive();
        version_ = req.version();
        method_ = std::string(req.method_string().substr(0, 16));
        target_ = std::string(req.target().substr(0, 256));
        std::string path(req.target().substr(0, req.target().find('?')));
        if (websocket::is_upgrade(req)) {
            if (path != "/ws") {
                keep_alive_ = false;
                return Send(ErrorFor(path, 404, "path", "the live feed is at /ws", std::to_string(request_id_)));
            }
            Log(101, 0);
            stream_.expires_never();
            std::make_shared<WsSession>(stream_.release_socket())->Accept(parser_->release(), &live_);
            return;
        }
        if (req.method() == http::verb::get || req.method() == http::verb::head) {
            if (auto doc = live_.Find(path)) {
                ApiResponse r;
                r.content_type = doc->content_type;
                r.body = *doc->body;  // Send leaves it out for HEAD, but counts it
                return Send(std::move(r));
            }
        }
        ApiRequest in;
        in.method = std::string(req.method_string());
        in.target = std::string(req.target());
        in.body = req.body();
        in.content_type = std::string(req[http::field::content_type]);
        in.idempotency_key = std::string(req["Idempotency-Key"]);
        in.request_id = std::to_string(request_id_);
        in.api_key = std::string(req["X-API-Key"]);
        if (in.api_key.empty()) {
            const std::string auth(req[http::field::authorization]);
            if (auth.rfind("Bearer ", 0) == 0) in.api_key = auth.substr(7);
        }
        // The API may answer from the intake writer's thread: hop back onto this connection's strand.
        api_.Handle(in, [self = shared_from_this()](ApiResponse r) {
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
        res->keep_alive(keep_alive_);
        const size_t length = r.body.size();
        if (method_ != "HEAD") res->body() = std::move(r.body);
        res->prepare_payload();
        // HEAD: the headers GET would send, Content-Length included, and no body.
        if (method_ == "HEAD") res->content_length(length);
        http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
            if (ec || !self->keep_alive_) return self->Close();
            self->Read();
        });
    }

    void Close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    Api& api_;
    Live& live_;
    size_t body_limit_;
    std::atomic<uint64_t>& ids_;
    std::FILE* log_;
    uint64_t request_id_ = 0;
    std::chrono::steady_clock::time_point started_;
    std::string method_, target_;
    bool keep_alive_ = true;
    unsigned version_ = 11;
};

}  // namespace

struct HttpServer::Impl {
    Impl(Api& a, ServerOptions o)
        : api(a), options(std::move(o)), ioc(options.threads), acceptor(net::make_strand(ioc)) {}
    ~Impl() {
        if (own_log) std::fclose(log);
    }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    void Accept() {
        acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
            if (ec == net::error::operation_aborted) return;
            if (!ec) std::make_shared<Session>(std::move(socket), api, live, options.body_limit, ids, log)->Start();
            Accept();
        });
    }

    Api& api;
    ServerOptions options;
    net::io_context ioc;
    tcp::acceptor acceptor;
    Live live;
    std::atomic<uint64_t> ids{1};
    std::FILE* log = nullptr;
    bool own_log = false;
};

HttpServer::HttpServer(Api& api, ServerOptions options) : impl_(std::make_unique<Impl>(api, std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

Result<uint16_t> HttpServer::Start() {
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

size_t HttpServer::Clients() const {
    std::lock_guard lock(impl_->live.mu);
    size_t n = 0;
    for (const auto& w : impl_->live.clients) n += w.expired() ? 0 : 1;
    return n;
}

}  // namespace citybrain::server
