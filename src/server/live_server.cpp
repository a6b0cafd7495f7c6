// SPDX-License-Identifier: Apache-2.0
// Beast's WebSocket and HTTP templates stay in this file (as http_server.cpp does for the API).
#include "server/live_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/listen.hpp"

namespace citybrain::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

struct Document {
    std::string content_type;
    std::shared_ptr<const std::string> body;
};

class WsSession;

}  // namespace

struct LiveServer::Impl {
    explicit Impl(LiveOptions o) : options(std::move(o)), acceptor(net::make_strand(ioc)) {}

    LiveOptions options;
    net::io_context ioc{1};
    tcp::acceptor acceptor;
    std::thread thread;

    mutable std::mutex mu;
    std::unordered_map<std::string, Document> documents;
    std::shared_ptr<const std::string> latest;
    std::vector<std::weak_ptr<WsSession>> clients;

    void Accept();
    void Register(const std::shared_ptr<WsSession>& s);
};

namespace {

/// One browser's feed: at most one write in flight and one frame waiting (the newest).
class WsSession : public std::enable_shared_from_this<WsSession> {
public:
    explicit WsSession(tcp::socket&& socket) : ws_(std::move(socket)) {}

    void Accept(http::request<http::string_body> req, LiveServer::Impl* server) {
        server_ = server;
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
            if (ec) return;
            self->server_->Register(self);
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
    LiveServer::Impl* server_ = nullptr;  // outlives the session: the io_context the session runs in is its member
    beast::flat_buffer in_;
    std::shared_ptr<const std::string> waiting_;
    std::shared_ptr<const std::string> current_;
    bool writing_ = false;
    bool closed_ = false;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
public:
    HttpSession(tcp::socket&& socket, LiveServer::Impl* server) : stream_(std::move(socket)), server_(server) {}

    void Start() {
        net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
    }

private:
    void Read() {
        parser_.emplace();
        parser_->body_limit(16 * 1024);
        stream_.expires_after(std::chrono::seconds(30));
        http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
            self->OnRead(ec);
        });
    }

    void OnRead(beast::error_code ec) {
        if (ec == http::error::end_of_stream) return Close();
        if (ec) {
            if (ec == beast::error::timeout || ec == net::error::operation_aborted) return;
            return Reply(http::status::bad_request, "text/plain", "malformed HTTP request: " + ec.message(), false);
        }
        auto req = parser_->release();
        if (websocket::is_upgrade(req)) {
            if (req.target() != "/ws")
                return Reply(http::status::not_found, "text/plain", "WebSocket is at /ws", false);
            stream_.expires_never();
            std::make_shared<WsSession>(stream_.release_socket())->Accept(std::move(req), server_);
            return;
        }
        if (req.method() != http::verb::get && req.method() != http::verb::head) {
            return Reply(http::status::method_not_allowed, "text/plain", "only GET and HEAD", req.keep_alive());
        }
        std::string path(req.target());
        if (const auto q = path.find('?'); q != std::string::npos) path.resize(q);
        if (path == "/") path = "/index.html";
        Document doc;
        {
            std::lock_guard lock(server_->mu);
            auto it = server_->documents.find(path);
            if (it != server_->documents.end()) doc = it->second;
        }
        if (!doc.body) return Reply(http::status::not_found, "text/plain", "no such page: " + path, req.keep_alive());
        Reply(http::status::ok,
              doc.content_type,
              req.method() == http::verb::head ? std::string() : *doc.body,
              req.keep_alive());
    }

    void Reply(http::status status, const std::string& type, std::string body, bool keep_alive) {
        auto res = std::make_shared<http::response<http::string_body>>(status, 11);
        res->set(http::field::server, "CityBrain");
        res->set(http::field::content_type, type);
        res->set(http::field::cache_control, "no-store");
        res->keep_alive(keep_alive);
        res->body() = std::move(body);
        res->prepare_payload();
        http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
            if (ec || !res->keep_alive()) return self->Close();
            self->Read();
        });
    }

    void Close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    beast::tcp_stream stream_;
    LiveServer::Impl* server_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void LiveServer::Impl::Accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted) return;
        if (!ec) std::make_shared<HttpSession>(std::move(socket), this)->Start();
        Accept();
    });
}

void LiveServer::Impl::Register(const std::shared_ptr<WsSession>& s) {
    std::shared_ptr<const std::string> first;
    {
        std::lock_guard lock(mu);
        clients.push_back(s);
        first = latest;
    }
    if (first) s->Send(std::move(first));
}

LiveServer::LiveServer(LiveOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

LiveServer::~LiveServer() { Stop(); }

void LiveServer::SetDocument(const std::string& path, const std::string& content_type, std::string body) {
    std::lock_guard lock(impl_->mu);
    impl_->documents[path] = {content_type, std::make_shared<const std::string>(std::move(body))};
}

Result<uint16_t> LiveServer::Start() {
    const auto port = Listen(impl_->acceptor, impl_->options.address, impl_->options.port);
    if (!port.ok()) return port.error();
    impl_->Accept();
    impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
    return port;
}

void LiveServer::Publish(std::string frame) {
    auto shared = std::make_shared<const std::string>(std::move(frame));
    std::vector<std::shared_ptr<WsSession>> live;
    {
        std::lock_guard lock(impl_->mu);
        impl_->latest = shared;
        size_t kept = 0;
        for (auto& w : impl_->clients) {
            if (auto s = w.lock()) {
                live.push_back(std::move(s));
                impl_->clients[kept++] = w;
            }
        }
        impl_->clients.resize(kept);
    }
    for (auto& s : live) s->Send(shared);
}

size_t LiveServer::Clients() const {
    std::lock_guard lock(impl_->mu);
    size_t n = 0;
    for (const auto& w : impl_->clients) n += w.expired() ? 0 : 1;
    return n;
}

void LiveServer::Stop() {
    if (!impl_) return;
    impl_->ioc.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace citybrain::server
