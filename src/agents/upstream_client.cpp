// SPDX-License-Identifier: Apache-2.0
#include "agents/upstream_client.hpp"

#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <limits>
#include <thread>
#include <vector>

namespace citybrain::agents {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

Result<UpstreamAddress> ParseUpstreamUrl(const std::string& url, const std::string& field) {
    constexpr std::string_view kScheme = "http://";
    if (url.rfind(kScheme, 0) != 0) return InvalidArgument(field, "must start with http://");
    UpstreamAddress a;
    const std::string rest = url.substr(kScheme.size());
    const size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    a.base_path = slash == std::string::npos ? "" : rest.substr(slash);
    while (!a.base_path.empty() && a.base_path.back() == '/') a.base_path.pop_back();
    if (const size_t colon = authority.rfind(':'); colon != std::string::npos) {
        a.port = authority.substr(colon + 1);
        authority.resize(colon);
        if (a.port.empty() || a.port.size() > 5 || a.port.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(a.port) > 65535) {
            return InvalidArgument(field, "bad port in '" + url + "'");
        }
    }
    if (authority.empty()) return InvalidArgument(field, "no host in '" + url + "'");
    a.host = authority;
    return a;
}

namespace {

class CallOp : public std::enable_shared_from_this<CallOp> {
public:
    CallOp(net::io_context& ioc, UpstreamRequest request, UpstreamHandlers handlers)
        : strand_(net::make_strand(ioc)),
          resolver_(strand_),
          stream_(strand_),
          request_(std::move(request)),
          handlers_(std::move(handlers)) {}

    net::strand<net::io_context::executor_type> executor() const { return strand_; }

    void Start() {
        const auto& a = request_.address;
        req_.method(request_.method == "GET" ? http::verb::get : http::verb::post);
        req_.target(a.base_path + request_.path);
        req_.version(11);
        req_.set(http::field::host, a.host + ":" + a.port);
        req_.set(http::field::user_agent, "CityBrain-gateway");
        req_.set(http::field::accept, "application/json, text/event-stream");
        if (!request_.api_key.empty()) req_.set(http::field::authorization, "Bearer " + request_.api_key);
        if (req_.method() == http::verb::post) {
            req_.set(http::field::content_type, "application/json");
            req_.body() = std::move(request_.body);
        }
        req_.keep_alive(false);
        req_.prepare_payload();
        // A stream is as long as the model writes; timeouts bound it. (Not boost::none: Beast 1.74 compares a
        // Content-Length against an empty limit as if it were exceeded.)
        parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
        step_ = "resolve";
        // The resolver has no expiry of its own: a timer bounds it.
        timer_ = std::make_unique<net::steady_timer>(strand_, Timeout());
        timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
            if (!ec && self->step_ == "resolve") self->resolver_.cancel();
        });
        resolver_.async_resolve(
            a.host, a.port, [self = shared_from_this()](beast::error_code ec, const tcp::resolver::results_type& r) {
                self->timer_->cancel();
                if (ec) return self->Fail(ec);
                self->step_ = "connect";
                self->stream_.expires_after(self->Timeout());
                self->stream_.async_connect(r, [self](beast::error_code ec2, const tcp::endpoint&) {
                    if (ec2) return self->Fail(ec2);
                    self->step_ = "send";
                    http::async_write(self->stream_, self->req_, [self](beast::error_code ec3, size_t) {
                        if (ec3) return self->Fail(ec3);
                        self->step_ = "answer";
                        self->stream_.expires_after(self->Timeout());
                        http::async_read_header(
                            self->stream_, self->buffer_, self->parser_, [self](beast::error_code ec4, size_t) {
                                if (ec4) return self->Fail(ec4);
                                if (self->handlers_.head) self->handlers_.head(self->parser_.get().result_int());
                                self->step_ = "body";
                                self->ReadSome();
                            });
                    });
                });
            });
    }

private:
    std::chrono::milliseconds Timeout() const { return std::chrono::milliseconds(request_.timeout_ms); }

    void ReadSome() {
        if (parser_.is_done()) return Finish({});
        parser_.get().body().data = chunk_.data();
        parser_.get().body().size = chunk_.size();
        stream_.expires_after(Timeout());
        http::async_read_some(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
            if (ec == http::error::need_buffer) ec = {};
            const size_t got = self->chunk_.size() - self->parser_.get().body().size;
            if (got > 0 && !self->handlers_.body(std::string_view(self->chunk_.data(), got))) {
                beast::error_code ignored;
                self->stream_.socket().close(ignored);
                return self->Finish(std::string("cancelled"));
            }
            if (ec) return self->Fail(ec);
            self->ReadSome();
        });
    }

    void Fail(beast::error_code ec) {
        if (ec == beast::error::timeout || ec == net::error::operation_aborted) {
            return Finish("no answer within " + std::to_string(request_.timeout_ms) + " ms (at " + step_ + ")");
        }
        return Finish(step_ + " failed: " + ec.message());
    }

    void Finish(std::optional<std::string> failure) {
        if (finished_) return;
        finished_ = true;
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        if (handlers_.done) handlers_.done(std::move(failure));
    }

    net::strand<net::io_context::executor_type> strand_;
    tcp::resolver resolver_;
    beast::tcp_stream stream_;
    std::unique_ptr<net::steady_timer> timer_;
    beast::flat_buffer buffer_;
    UpstreamRequest request_;
    UpstreamHandlers handlers_;
    http::request<http::string_body> req_;
    http::response_parser<http::buffer_body> parser_;
    std::array<char, 16384> chunk_{};
    std::string step_;
    bool finished_ = false;
};

}  // namespace

struct UpstreamClient::Impl {
    net::io_context ioc;
    net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
    std::vector<std::thread> threads;
};

UpstreamClient::UpstreamClient(int threads) : impl_(std::make_unique<Impl>()) {
    for (int i = 0; i < std::max(1, threads); ++i) {
        impl_->threads.emplace_back([this] { impl_->ioc.run(); });
    }
}

UpstreamClient::~UpstreamClient() {
    impl_->work.reset();
    impl_->ioc.stop();
    for (auto& t : impl_->threads) t.join();
}

void UpstreamClient::Call(UpstreamRequest request, UpstreamHandlers handlers) {
    auto op = std::make_shared<CallOp>(impl_->ioc, std::move(request), std::move(handlers));
    net::dispatch(op->executor(), [op] { op->Start(); });
}

}  // namespace citybrain::agents
