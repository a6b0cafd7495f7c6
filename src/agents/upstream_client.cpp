// SPDX-License-Identifier: Apache-2.0
#include "agents/upstream_client.hpp"

#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/url.hpp"

namespace citybrain::agents {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

Result<UpstreamAddress> ParseUpstreamUrl(const std::string& url, const std::string& field) {
    CB_TRY_ASSIGN(core::HttpUrl u, core::ParseHttpUrl(url, field));
    return UpstreamAddress{std::move(u.host), std::move(u.port), std::move(u.path)};
}

namespace {

/// Idle keep-alive connections per upstream, and its resolved addresses: a call at 1,000 per second must not pay
/// for a resolve and a TCP handshake each time.
class Pool {
public:
    std::optional<tcp::socket> Take(const std::string& key) {
        std::lock_guard lock(mu_);
        auto it = idle_.find(key);
        if (it == idle_.end() || it->second.empty()) return std::nullopt;
        tcp::socket s = std::move(it->second.back());
        it->second.pop_back();
        return s;
    }
    void Give(const std::string& key, tcp::socket s) {
        std::lock_guard lock(mu_);
        auto& v = idle_[key];
        if (v.size() < kMaxIdle) v.push_back(std::move(s));
    }
    std::optional<tcp::resolver::results_type> Resolved(const std::string& key) {
        std::lock_guard lock(mu_);
        auto it = resolved_.find(key);
        if (it == resolved_.end()) return std::nullopt;
        return it->second;
    }
    void SetResolved(const std::string& key, const tcp::resolver::results_type& r) {
        std::lock_guard lock(mu_);
        resolved_[key] = r;
    }
    void Forget(const std::string& key) {
        std::lock_guard lock(mu_);
        resolved_.erase(key);
    }

private:
    static constexpr size_t kMaxIdle = 256;
    std::mutex mu_;
    std::unordered_map<std::string, std::vector<tcp::socket>> idle_;
    std::unordered_map<std::string, tcp::resolver::results_type> resolved_;
};

class CallOp : public std::enable_shared_from_this<CallOp> {
public:
    CallOp(net::io_context& ioc, Pool& pool, UpstreamRequest request, UpstreamHandlers handlers)
        : ioc_(ioc), pool_(pool), request_(std::move(request)), handlers_(std::move(handlers)) {
        key_ = request_.address.host + ":" + request_.address.port;
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
        req_.keep_alive(true);
        req_.prepare_payload();
    }

    void Start() {
        parser_.emplace();
        // A stream is as long as the model writes; timeouts bound it. (Not boost::none: Beast 1.74 compares a
        // Content-Length against an empty limit as if it were exceeded.)
        parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
        buffer_.clear();
        if (auto idle = fresh_only_ ? std::nullopt : pool_.Take(key_)) {
            reused_ = true;
            stream_.emplace(std::move(*idle));
            return Send();
        }
        reused_ = false;
        stream_.emplace(net::make_strand(ioc_));
        if (auto resolved = pool_.Resolved(key_)) return Connect(*resolved);
        step_ = "resolve";
        resolver_.emplace(stream_->get_executor());
        // The resolver has no expiry of its own: a timer bounds it.
        timer_.emplace(stream_->get_executor(), Timeout());
        timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
            if (!ec && self->step_ == "resolve") self->resolver_->cancel();
        });
        resolver_->async_resolve(
            request_.address.host,
            request_.address.port,
            [self = shared_from_this()](beast::error_code ec, const tcp::resolver::results_type& r) {
                self->timer_->cancel();
                if (ec) return self->Fail(ec);
                self->pool_.SetResolved(self->key_, r);
                self->Connect(r);
            });
    }

private:
    std::chrono::milliseconds Timeout() const { return std::chrono::milliseconds(request_.timeout_ms); }

    void Connect(const tcp::resolver::results_type& r) {
        step_ = "connect";
        stream_->expires_after(Timeout());
        stream_->async_connect(r, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
            if (ec) {
                self->pool_.Forget(self->key_);  // resolve again next time: the address may have moved
                return self->Fail(ec);
            }
            beast::error_code ignored;
            self->stream_->socket().set_option(tcp::no_delay(true), ignored);
            self->Send();
        });
    }

    void Send() {
        step_ = "send";
        stream_->expires_after(Timeout());
        http::async_write(*stream_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
            if (ec) return self->Retry(ec);
            self->step_ = "answer";
            self->stream_->expires_after(self->Timeout());
            http::async_read_header(
                *self->stream_, self->buffer_, *self->parser_, [self](beast::error_code ec2, size_t) {
                    if (ec2) return self->Retry(ec2);
                    if (self->handlers_.head) self->handlers_.head(self->parser_->get().result_int());
                    self->step_ = "body";
                    self->ReadSome();
                });
        });
    }

    /// A kept-alive connection the upstream had closed fails before any answer: nothing was processed, so the
    /// call goes again on a fresh connection, once.
    void Retry(beast::error_code ec) {
        if (!reused_ || ec == beast::error::timeout) return Fail(ec);
        beast::error_code ignored;
        stream_->socket().close(ignored);
        fresh_only_ = true;
        Start();
    }

    void ReadSome() {
        if (parser_->is_done()) {
            // The whole answer is in: the connection goes back to the pool when both sides keep it alive.
            if (parser_->keep_alive()) {
                stream_->expires_never();
                pool_.Give(key_, stream_->release_socket());
                pooled_ = true;
            }
            return Finish({});
        }
        parser_->get().body().data = chunk_.data();
        parser_->get().body().size = chunk_.size();
        stream_->expires_after(Timeout());
        http::async_read_some(*stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
            if (ec == http::error::need_buffer) ec = {};
            const size_t got = self->chunk_.size() - self->parser_->get().body().size;
            if (got > 0 && !self->handlers_.body(std::string_view(self->chunk_.data(), got))) {
                beast::error_code ignored;
                self->stream_->socket().close(ignored);
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
        if (!pooled_ && stream_) {
            beast::error_code ignored;
            stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
            stream_->socket().close(ignored);
        }
        if (handlers_.done) handlers_.done(std::move(failure));
    }

    net::io_context& ioc_;
    Pool& pool_;
    std::string key_;
    std::optional<beast::tcp_stream> stream_;
    std::optional<tcp::resolver> resolver_;
    std::optional<net::steady_timer> timer_;
    beast::flat_buffer buffer_;
    UpstreamRequest request_;
    UpstreamHandlers handlers_;
    http::request<http::string_body> req_;
    std::optional<http::response_parser<http::buffer_body>> parser_;
    std::array<char, 16384> chunk_{};
    std::string step_;
    bool reused_ = false;
    bool fresh_only_ = false;
    bool pooled_ = false;
    bool finished_ = false;
};

}  // namespace

struct UpstreamClient::Impl {
    std::unique_ptr<net::io_context> own;
    net::io_context* ioc = nullptr;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
    Pool pool;
    std::vector<std::thread> threads;
};

UpstreamClient::UpstreamClient(int threads, boost::asio::io_context* shared) : impl_(std::make_unique<Impl>()) {
    if (shared != nullptr) {
        impl_->ioc = shared;
        return;
    }
    impl_->own = std::make_unique<net::io_context>();
    impl_->ioc = impl_->own.get();
    impl_->work.emplace(impl_->ioc->get_executor());
    for (int i = 0; i < std::max(1, threads); ++i) {
        impl_->threads.emplace_back([this] { impl_->ioc->run(); });
    }
}

UpstreamClient::~UpstreamClient() {
    if (!impl_->own) return;  // the shared context's owner stops it
    impl_->work.reset();
    impl_->ioc->stop();
    for (auto& t : impl_->threads) t.join();
}

void UpstreamClient::Call(UpstreamRequest request, UpstreamHandlers handlers) {
    auto op = std::make_shared<CallOp>(*impl_->ioc, impl_->pool, std::move(request), std::move(handlers));
    // Start runs on a strand of its own until it has a connection, whose strand it then keeps.
    net::dispatch(net::make_strand(*impl_->ioc), [op] { op->Start(); });
}

}  // namespace citybrain::agents
