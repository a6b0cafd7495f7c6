// SPDX-License-Identifier: Apache-2.0
// The only file that knows Boost.Beast (its templates are heavy to compile; keep them here).
#include "server/http_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>
#include <vector>

#include "server/listen.hpp"

namespace citybrain::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, Api& api, size_t body_limit)
        : stream_(std::move(socket)), api_(api), body_limit_(body_limit) {}

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
        if (ec) {
            // Malformed HTTP: say why, then close; the parser's state is not trustworthy past this point.
            ApiResponse r;
            r.status = ec == http::error::body_limit ? 413 : 400;
            r.body = std::string("{\"errors\":[{\"code\":") + std::to_string(r.status) +
                     ",\"field\":\"http\",\"description\":\"" +
                     (r.status == 413 ? "request body larger than " + std::to_string(body_limit_) + " bytes"
                                      : "malformed HTTP request: " + ec.message()) +
                     "\"}]}";
            keep_alive_ = false;
            return Send(std::move(r));
        }
        const auto& req = parser_->get();
        keep_alive_ = req.keep_alive();
        ApiRequest in;
        in.method = std::string(req.method_string());
        in.target = std::string(req.target());
        in.body = req.body();
        in.content_type = std::string(req[http::field::content_type]);
        in.idempotency_key = std::string(req["Idempotency-Key"]);
        in.api_key = std::string(req["X-API-Key"]);
        if (in.api_key.empty()) {
            const std::string auth(req[http::field::authorization]);
            if (auth.rfind("Bearer ", 0) == 0) in.api_key = auth.substr(7);
        }
        version_ = req.version();
        // The API may answer from the intake writer's thread: hop back onto this connection's strand.
        api_.Handle(in, [self = shared_from_this()](ApiResponse r) {
            net::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable { self->Send(std::move(r)); });
        });
    }

    void Send(ApiResponse r) {
        auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version_);
        res->set(http::field::server, "CityBrain");
        res->set(http::field::content_type, r.content_type);
        res->keep_alive(keep_alive_);
        res->body() = std::move(r.body);
        res->prepare_payload();
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
    size_t body_limit_;
    bool keep_alive_ = true;
    unsigned version_ = 11;
};

}  // namespace

struct HttpServer::Impl {
    Impl(Api& a, ServerOptions o)
        : api(a), options(std::move(o)), ioc(options.threads), acceptor(net::make_strand(ioc)) {}

    void Accept() {
        acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
            if (ec == net::error::operation_aborted) return;
            if (!ec) std::make_shared<Session>(std::move(socket), api, options.body_limit)->Start();
            Accept();
        });
    }

    Api& api;
    ServerOptions options;
    net::io_context ioc;
    tcp::acceptor acceptor;
};

HttpServer::HttpServer(Api& api, ServerOptions options) : impl_(std::make_unique<Impl>(api, std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

Result<uint16_t> HttpServer::Start() {
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

}  // namespace citybrain::server
