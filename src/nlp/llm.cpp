// SPDX-License-Identifier: Apache-2.0
#include "nlp/llm.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/url.hpp"
#include "core/utf8.hpp"

namespace citybrain::nlp {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

Result<core::HttpUrl> ParseUrl(const std::string& url) { return core::ParseHttpUrl(url, "--llm-url"); }

}  // namespace

Status ValidateLlmOptions(const LlmOptions& options) {
    if (!options.url.empty()) {
        auto e = ParseUrl(options.url);
        if (!e.ok()) return e.error();
    }
    if (!(options.timeout_s > 0) || options.timeout_s > 120) {
        return InvalidArgument("--llm-timeout", "must be in (0, 120] seconds");
    }
    if (options.model.empty()) return InvalidArgument("--llm-model", "must not be empty");
    return {};
}

Result<std::string> ChatCompletion(const LlmOptions& options, const std::string& system, const std::string& user) {
    CB_TRY(ValidateLlmOptions(options));
    CB_TRY_ASSIGN(const core::HttpUrl e, ParseUrl(options.url));
    const nlohmann::json body = {
        {"model", options.model},
        {"temperature", 0.3},
        {"max_tokens", 300},
        {"messages", {{{"role", "system"}, {"content", system}}, {{"role", "user"}, {"content", user}}}}};

    // One io_context per call, run until done or the deadline: every step (resolve, connect, write, read) is
    // bounded by the same clock, so a hung server cannot hold the caller.
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    beast::flat_buffer buffer;
    http::request<http::string_body> req{http::verb::post, e.path + "/chat/completions", 11};
    req.set(http::field::host, e.host);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "CityBrain");
    if (!options.api_key.empty()) req.set(http::field::authorization, "Bearer " + options.api_key);
    req.body() = body.dump();
    req.prepare_payload();
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    beast::error_code failure;
    std::string step = "resolve";
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<int64_t>(std::ceil(options.timeout_s * 1000)));
    stream.expires_at(deadline);

    resolver.async_resolve(e.host, e.port, [&](beast::error_code ec, const tcp::resolver::results_type& results) {
        if (ec) return void(failure = ec);
        step = "connect";
        stream.async_connect(results, [&](beast::error_code ec2, const tcp::endpoint&) {
            if (ec2) return void(failure = ec2);
            step = "send";
            http::async_write(stream, req, [&](beast::error_code ec3, size_t) {
                if (ec3) return void(failure = ec3);
                step = "answer";
                http::async_read(stream, buffer, parser, [&](beast::error_code ec4, size_t) {
                    if (ec4) return void(failure = ec4);
                    step = "done";
                });
            });
        });
    });
    // The resolver has no expiry of its own: run_until bounds it too.
    ioc.run_until(deadline + std::chrono::milliseconds(50));
    const std::string where = options.url;
    if (step != "done") {
        if (!failure || failure == beast::error::timeout || failure == net::error::operation_aborted) {
            char limit[32];
            std::snprintf(limit, sizeof limit, "%g", options.timeout_s);
            return Error{
                ErrorCode::kUnavailable, "no answer within " + std::string(limit) + " s (at " + step + ")", where};
        }
        return Error{ErrorCode::kUnavailable, step + " failed: " + failure.message(), where};
    }
    const auto& res = parser.get();
    if (res.result_int() != 200) {
        return Error{ErrorCode::kUnavailable, "HTTP " + std::to_string(res.result_int()) + " from the model", where};
    }
    auto content = ParseChatCompletion(res.body());
    if (!content.ok()) return Error{ErrorCode::kUnavailable, content.error().message, where};
    return content;
}

Result<std::string> ParseChatCompletion(std::string_view body) {
    const auto doc = nlohmann::json::parse(body, nullptr, false);
    if (doc.is_discarded()) return Error{ErrorCode::kInvalidArgument, "the answer is not JSON", "answer"};
    if (!doc.is_object() || !doc.contains("choices") || !doc["choices"].is_array() || doc["choices"].empty() ||
        !doc["choices"][0].is_object() || !doc["choices"][0].contains("message") ||
        !doc["choices"][0]["message"].is_object() || !doc["choices"][0]["message"].contains("content") ||
        !doc["choices"][0]["message"]["content"].is_string()) {
        return Error{ErrorCode::kInvalidArgument, "choices[0].message.content: missing or not a string", "answer"};
    }
    std::string content = doc["choices"][0]["message"]["content"].get<std::string>();
    if (!core::ValidUtf8(content)) return Error{ErrorCode::kInvalidArgument, "the reply is not valid UTF-8", "answer"};
    return content;
}

DraftedReply DraftReply(const LlmOptions& options,
                        const std::string& message,
                        const std::string& template_reply,
                        const std::vector<std::string>& facts) {
    DraftedReply out{template_reply, false, {}};
    if (options.url.empty()) {
        out.fallback_reason = "no model configured";
        return out;
    }
    const std::string system =
        "你是深圳市龙岗区政务服务热线的回复助手。请根据市民的留言，把给出的受理回复改写得更亲切、更有针对性，"
        "不超过120字。必须原样保留案件编号、承办部门和办理时限，不得编造任何承诺。只输出回复正文。";
    const std::string user = "市民留言：" + message + "\n受理回复：" + template_reply;
    auto drafted = ChatCompletion(options, system, user);
    if (!drafted.ok()) {
        out.fallback_reason = drafted.error().ToString();
        return out;
    }
    std::string text = std::move(drafted).value();
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (text.empty()) {
        out.fallback_reason = "the model answered with nothing";
        return out;
    }
    if (core::Utf8Length(text) > 400) {
        out.fallback_reason = "the draft is longer than 400 characters";
        return out;
    }
    for (const std::string& fact : facts) {
        if (text.find(fact) == std::string::npos) {
            out.fallback_reason = "the draft dropped '" + fact + "'";
            return out;
        }
    }
    out.text = std::move(text);
    out.from_model = true;
    return out;
}

}  // namespace citybrain::nlp
