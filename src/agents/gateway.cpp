// SPDX-License-Identifier: Apache-2.0
#include "agents/gateway.hpp"

#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <unordered_map>

#include "agents/audit.hpp"
#include "agents/limits.hpp"
#include "agents/routing.hpp"
#include "agents/sse.hpp"
#include "agents/upstream_client.hpp"
#include "core/time.hpp"
#include "core/utf8.hpp"

namespace citybrain::agents {

namespace {

using json = nlohmann::json;
constexpr const char* kJson = "application/json; charset=utf-8";
constexpr size_t kMaxErrorBody = size_t{64} * 1024;
constexpr size_t kMaxAnswer = size_t{16} * 1024 * 1024;

/// OpenAI's error object, which its clients turn into typed exceptions.
std::string ErrorBody(const std::string& message,
                      const std::string& type,
                      const std::string& param,
                      const std::string& code) {
    return json{{"error",
                 {{"message", message},
                  {"type", type},
                  {"param", param.empty() ? json(nullptr) : json(param)},
                  {"code", code}}}}
        .dump();
}

struct Upstream {
    UpstreamAddress address;
    Breaker breaker;
    int inflight = 0;
    int64_t requests = 0;
    int64_t failures = 0;
};

struct Key {
    KeyConfig config;
    KeyUsage usage;
};

/// The text of every message, for a token estimate when the upstream gives none.
std::string MessagesText(const json& messages) {
    std::string out;
    for (const json& m : messages) {
        if (!m.is_object() || !m.contains("content")) continue;
        const json& c = m["content"];
        if (c.is_string()) {
            out += c.get<std::string>();
        } else if (c.is_array()) {
            for (const json& part : c) {
                if (part.is_object() && part.contains("text") && part["text"].is_string()) {
                    out += part["text"].get<std::string>();
                }
            }
        }
        out += '\n';
    }
    return out;
}

std::string LastUserText(const json& messages) {
    for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
        if (it->is_object() && it->value("role", "") == "user") {
            return MessagesText(json::array({*it}));
        }
    }
    return {};
}

}  // namespace

struct Exchange;

struct Gateway::Impl {
    GatewayOptions options;
    std::unique_ptr<AuditLog> audit;
    std::unique_ptr<LocalModel> local;
    std::unique_ptr<UpstreamClient> client;
    mutable std::mutex mu;  // upstreams' state, the router, keys' usage
    std::vector<Upstream> upstreams;
    std::unique_ptr<Router> router;
    std::vector<Key> keys;
    std::unordered_map<std::string, size_t> key_by_hash;

    int64_t Now() const { return options.clock ? options.clock() : core::NowMs(); }

    void Models(const GatewayRequest& request, size_t key, const std::shared_ptr<Responder>& out);
    void Start(const std::shared_ptr<Exchange>& ex);
    void TryNext(const std::shared_ptr<Exchange>& ex);
    void ServeLocal(const std::shared_ptr<Exchange>& ex, const std::string& fallback_reason);
    void Finish(const std::shared_ptr<Exchange>& ex, int status, const std::string& error);
    /// A call answered without an upstream (refused, or the status) leaves its row too: who asked, for what, and
    /// why not.
    void AuditCall(const GatewayRequest& request,
                   size_t key,
                   const std::string& endpoint,
                   int status,
                   const std::string& body,
                   const std::string& error);
    bool Allowed(const KeyConfig& key, const std::string& model) const {
        return key.models.empty() || std::find(key.models.begin(), key.models.end(), model) != key.models.end() ||
               std::find(key.models.begin(), key.models.end(), "*") != key.models.end();
    }
};

/// One call in flight: what was asked, who it is for, which upstream is trying, and what was relayed.
struct Exchange {  // NOLINT(bugprone-exception-escape): its members construct and destroy without throwing
    Gateway::Impl* gw = nullptr;
    std::shared_ptr<Responder> out;
    std::string request_id;
    std::string request_body;
    size_t key = 0;
    std::string endpoint;       // chat.completions | embeddings
    std::string upstream_path;  // /chat/completions | /embeddings
    std::string upstream_body;
    json body;
    std::string model;
    bool stream = false;
    bool client_usage = false;  // the client asked for the usage chunk
    bool json_mode = false;
    int64_t started_ms = 0;
    int64_t prompt_estimate = 0;
    std::vector<size_t> order;
    size_t next = 0;
    std::vector<std::string> failures;
    bool attempted = false;
    // The attempt in progress.
    size_t current = 0;
    int status = 0;
    std::string collected;
    SseSplitter sse;
    bool begun = false;
    bool done_seen = false;
    bool cut = false;
    std::string cut_code, cut_message;
    int64_t tokens_in = 0;
    int64_t tokens_out = 0;
    bool upstream_usage = false;
    int64_t counted = 0;  // tokens already charged to the key while streaming
    std::string answered_by;
    crypto_hash_sha256_state hash{};
    std::string content_log;
    bool finished = false;

    void Hash(std::string_view bytes) {
        crypto_hash_sha256_update(&hash, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
        if (gw->options.config.audit_content) content_log.append(bytes);
    }

    /// Charges tokens to the key as they stream; false once the budget is spent.
    bool Charge(int64_t tokens) {
        std::lock_guard lock(gw->mu);
        counted += tokens;
        return gw->keys[key].usage.AddTokens(gw->keys[key].config, gw->Now(), tokens);
    }

    /// Relays one event of a stream to the client: counts it, stops at the budget, begins the response on the
    /// first. False when the relay must stop (budget spent, client gone).
    bool Relay(const std::string& data) {
        if (data == "[DONE]") {
            done_seen = true;
            return true;
        }
        const json event = json::parse(data, nullptr, false);
        if (event.is_discarded() || !event.is_object()) {
            failures.push_back(answered_by + ": a stream event that is not JSON");
            return false;
        }
        if (event.contains("usage") && event["usage"].is_object()) {
            const json& u = event["usage"];
            if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer()) {
                tokens_in = u["prompt_tokens"].get<int64_t>();
                tokens_out = u.value("completion_tokens", int64_t{0});
                upstream_usage = true;
            }
        }
        int64_t tokens = 0;
        if (event.contains("choices") && event["choices"].is_array()) {
            for (const json& c : event["choices"]) {
                if (c.is_object() && c.contains("delta") && c["delta"].is_object()) {
                    const json& d = c["delta"];
                    if (d.contains("content") && d["content"].is_string()) {
                        tokens += EstimateTokens(d["content"].get_ref<const std::string&>());
                    }
                    if (d.contains("tool_calls")) tokens += EstimateTokens(d["tool_calls"].dump());
                }
            }
        }
        const bool usage_only = event.contains("choices") && event["choices"].is_array() && event["choices"].empty();
        if (!begun) {
            begun = true;
            out->Begin(200,
                       "text/event-stream; charset=utf-8",
                       {{"Cache-Control", "no-cache"}, {"X-CityBrain-Upstream", answered_by}});
            tokens += prompt_estimate;
        }
        if (!(usage_only && !client_usage)) {
            std::string piece = "data: " + data + "\n\n";
            Hash(piece);
            if (!out->Write(std::move(piece))) {
                cut = true;
                cut_code = "client_gone";
                cut_message = "the client closed the connection";
                return false;
            }
        }
        if (tokens > 0 && !Charge(tokens)) {
            cut = true;
            cut_code = "budget_exhausted";
            cut_message = "the key's token budget for this period is spent";
            return false;
        }
        return true;
    }
};

void Gateway::Impl::Models(const GatewayRequest& request, size_t key, const std::shared_ptr<Responder>& out) {
    std::map<std::string, std::set<std::string>> models;
    models[std::string(kLocalModel)].insert("citybrain");
    for (const auto& u : options.config.upstreams) {
        for (const auto& m : u.models) {
            if (m != "*") models[m].insert(u.name);
        }
    }
    json data = json::array();
    for (const auto& [id, owners] : models) {
        if (!Allowed(keys[key].config, id)) continue;
        std::string owned;
        for (const auto& o : owners) owned += (owned.empty() ? "" : ",") + o;
        data.push_back({{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", owned}});
    }
    const std::string body = json{{"object", "list"}, {"data", data}}.dump();
    AuditRecord r;
    r.ts_ms = Now();
    r.request_id = request.request_id;
    r.key_name = keys[key].config.name;
    r.agent = keys[key].config.agent;
    r.team = keys[key].config.team;
    r.endpoint = "models";
    r.status = 200;
    r.usage_source = "none";
    r.content_sha256 = Sha256Hex(body);
    if (auto s = audit->Append(r); !s.ok()) std::fprintf(stderr, "gateway: %s\n", s.error().ToString().c_str());
    out->Reply(200, kJson, body, {});
}

void Gateway::Impl::Start(const std::shared_ptr<Exchange>& ex) {
    if (ex->model == kLocalModel) return ServeLocal(ex, "");
    {
        std::lock_guard lock(mu);
        ex->order = router->Order(ex->model);
    }
    TryNext(ex);
}

void Gateway::Impl::TryNext(const std::shared_ptr<Exchange>& ex) {
    size_t pick = SIZE_MAX;
    int64_t retry_after_s = 1;
    {
        std::lock_guard lock(mu);
        const int64_t now = Now();
        while (ex->next < ex->order.size()) {
            const size_t i = ex->order[ex->next++];
            Upstream& u = upstreams[i];
            const auto& cfg = options.config.upstreams[i];
            if (u.inflight >= cfg.max_concurrency) {
                ex->failures.push_back(cfg.name + ": at its limit of " + std::to_string(cfg.max_concurrency) +
                                       " calls in flight");
                continue;
            }
            if (!u.breaker.Admit(now)) {
                ex->failures.push_back(cfg.name + ": breaker open");
                retry_after_s = std::max<int64_t>(retry_after_s, options.config.breaker_cooldown_ms / 1000);
                continue;
            }
            ++u.inflight;
            ++u.requests;
            pick = i;
            break;
        }
    }
    if (pick == SIZE_MAX) {
        if (options.config.fallback_local && ex->endpoint == "chat.completions") {
            std::string reason;
            for (const auto& f : ex->failures) reason += (reason.empty() ? "" : "; ") + f;
            return ServeLocal(ex, reason.empty() ? "no upstream serves " + ex->model : reason);
        }
        std::string reasons;
        for (const auto& f : ex->failures) reasons += (reasons.empty() ? "" : "; ") + f;
        const int status = ex->attempted ? 502 : 503;
        const std::string message = "no upstream answered for model " + ex->model + ": " + reasons;
        const std::string body = ErrorBody(message, "upstream_error", "", "upstream_unavailable");
        ex->Hash(body);
        Finish(ex, status, message);
        Headers h;
        if (status == 503) h.emplace_back("Retry-After", std::to_string(retry_after_s));
        ex->out->Reply(status, kJson, body, h);
        return;
    }
    ex->attempted = true;
    ex->current = pick;
    ex->status = 0;
    ex->collected.clear();
    ex->sse = SseSplitter();
    ex->answered_by = options.config.upstreams[pick].name;
    UpstreamRequest req;
    req.address = upstreams[pick].address;
    req.path = ex->upstream_path;
    req.api_key = options.config.upstreams[pick].api_key;
    req.body = ex->upstream_body;
    req.timeout_ms = options.config.upstreams[pick].timeout_ms;
    UpstreamHandlers h;
    h.head = [ex](int status) { ex->status = status; };
    h.body = [ex](std::string_view bytes) {
        if (ex->status != 200 || !ex->stream) {
            if (ex->collected.size() + bytes.size() > (ex->status == 200 ? kMaxAnswer : kMaxErrorBody)) return false;
            ex->collected.append(bytes);
            return true;
        }
        for (const std::string& data : ex->sse.Feed(bytes)) {
            if (!ex->Relay(data)) return false;
        }
        return true;
    };
    h.done = [this, ex](std::optional<std::string> failure) {
        const int64_t now = Now();
        const auto& cfg = options.config.upstreams[ex->current];
        auto settle = [&](bool ok) {
            std::lock_guard lock(mu);
            Upstream& u = upstreams[ex->current];
            --u.inflight;
            if (ok) {
                u.breaker.Success();
            } else {
                ++u.failures;
                u.breaker.Failure(now);
            }
        };
        if (ex->begun) {
            // Bytes went to the client: no failover now. End the stream, with an error event if it broke.
            const bool broke = (failure && !ex->cut) || (!ex->cut && !ex->done_seen && ex->status != 200);
            settle(!broke || ex->cut);
            if (ex->cut || broke) {
                const std::string code = ex->cut ? ex->cut_code : "upstream_broken";
                const std::string message =
                    ex->cut ? ex->cut_message : cfg.name + " broke off the stream: " + failure.value_or("");
                if (code != "client_gone") {
                    std::string piece =
                        "data: " +
                        json::parse(ErrorBody(message,
                                              code == "budget_exhausted" ? "insufficient_quota" : "upstream_error",
                                              "",
                                              code))
                            .dump() +
                        "\n\n";
                    ex->Hash(piece);
                    Finish(ex, 200, message);
                    ex->out->Write(std::move(piece));
                } else {
                    Finish(ex, 499, message);
                }
                ex->out->End();
                return;
            }
            std::string last = "data: [DONE]\n\n";
            ex->Hash(last);
            Finish(ex, 200, "");
            ex->out->Write(std::move(last));
            ex->out->End();
            return;
        }
        if (failure) {
            settle(false);
            ex->failures.push_back(cfg.name + ": " + *failure);
            return TryNext(ex);
        }
        if (ex->status >= 500 || ex->status == 429 || ex->status == 408) {
            // A busy upstream (429) is not a broken one: it does not count against its breaker.
            settle(ex->status == 429);
            ex->failures.push_back(cfg.name + ": HTTP " + std::to_string(ex->status));
            return TryNext(ex);
        }
        if (ex->status != 200) {
            // The upstream refused the request itself (400, 404, …): the client gets its answer as it is.
            settle(true);
            json doc = json::parse(ex->collected, nullptr, false);
            std::string body = doc.is_object() && doc.contains("error")
                                   ? doc.dump()
                                   : ErrorBody(cfg.name + " answered HTTP " + std::to_string(ex->status),
                                               "invalid_request_error",
                                               "",
                                               "upstream_refused");
            ex->Hash(body);
            Finish(ex, ex->status, "refused by " + cfg.name);
            ex->out->Reply(ex->status, kJson, std::move(body), {{"X-CityBrain-Upstream", cfg.name}});
            return;
        }
        if (ex->stream) {
            // A stream that ended before its first event: nothing was relayed, so the next upstream may try.
            settle(false);
            ex->failures.push_back(cfg.name + ": the stream ended before any event");
            return TryNext(ex);
        }
        json doc = json::parse(ex->collected, nullptr, false);
        const bool valid =
            doc.is_object() &&
            ((ex->endpoint == "chat.completions" && doc.contains("choices") && doc["choices"].is_array()) ||
             (ex->endpoint == "embeddings" && doc.contains("data") && doc["data"].is_array()));
        if (!valid) {
            settle(false);
            ex->failures.push_back(cfg.name + ": an answer that is not the protocol's JSON");
            return TryNext(ex);
        }
        settle(true);
        if (doc.contains("usage") && doc["usage"].is_object() && doc["usage"].contains("prompt_tokens") &&
            doc["usage"]["prompt_tokens"].is_number_integer()) {
            ex->tokens_in = doc["usage"]["prompt_tokens"].get<int64_t>();
            ex->tokens_out = doc["usage"].value("completion_tokens", int64_t{0});
            ex->upstream_usage = true;
        } else {
            ex->tokens_in = ex->prompt_estimate;
            ex->tokens_out = 0;
            if (ex->endpoint == "chat.completions") {
                for (const json& c : doc["choices"]) {
                    if (c.is_object() && c.contains("message") && c["message"].is_object() &&
                        c["message"].contains("content") && c["message"]["content"].is_string()) {
                        ex->tokens_out += EstimateTokens(c["message"]["content"].get_ref<const std::string&>());
                    }
                }
            }
        }
        ex->Hash(ex->collected);
        std::string tried;
        for (const auto& f : ex->failures) tried += (tried.empty() ? "" : "; ") + f;
        Finish(ex, 200, tried);
        Headers headers{{"X-CityBrain-Upstream", cfg.name}};
        if (!tried.empty()) headers.emplace_back("X-CityBrain-Failover", tried.substr(0, 400));
        ex->out->Reply(200, kJson, std::move(ex->collected), std::move(headers));
    };
    client->Call(std::move(req), std::move(h));
}

void Gateway::Impl::ServeLocal(const std::shared_ptr<Exchange>& ex, const std::string& fallback_reason) {
    ex->answered_by = std::string(kLocalModel);
    Headers headers{{"X-CityBrain-Upstream", std::string(kLocalModel)}};
    if (!fallback_reason.empty()) headers.emplace_back("X-CityBrain-Fallback", fallback_reason.substr(0, 400));
    const int64_t now_s = Now() / 1000;
    const std::string id = "chatcmpl-" + ex->request_id;
    if (ex->endpoint == "embeddings") {
        const json& input = ex->body["input"];
        json data = json::array();
        std::string all;
        const json inputs = input.is_array() ? input : json::array({input});
        const bool base64 = ex->body.value("encoding_format", "float") == "base64";
        for (size_t i = 0; i < inputs.size(); ++i) {
            const std::string& text = inputs[i].get_ref<const std::string&>();
            all += text;
            const std::vector<float> v = LocalModel::Embed(text);
            json vector = v;
            if (base64) {
                // OpenAI's compact form (what its clients ask for by default): the float32s, little-endian.
                static_assert(std::endian::native == std::endian::little);
                const size_t bytes = v.size() * sizeof(float);
                std::string encoded(sodium_base64_encoded_len(bytes, sodium_base64_VARIANT_ORIGINAL), '\0');
                sodium_bin2base64(encoded.data(),
                                  encoded.size(),
                                  reinterpret_cast<const unsigned char*>(v.data()),
                                  bytes,
                                  sodium_base64_VARIANT_ORIGINAL);
                encoded.resize(std::strlen(encoded.c_str()));
                vector = encoded;
            }
            data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", vector}});
        }
        ex->tokens_in = EstimateTokens(all);
        const std::string body = json{{"object", "list"},
                                      {"data", data},
                                      {"model", kLocalModel},
                                      {"usage", {{"prompt_tokens", ex->tokens_in}, {"total_tokens", ex->tokens_in}}}}
                                     .dump();
        ex->upstream_usage = true;
        ex->Hash(body);
        Finish(ex, 200, fallback_reason);
        ex->out->Reply(200, kJson, body, headers);
        return;
    }
    auto analysis = local->Analyse(LastUserText(ex->body["messages"]));
    if (!analysis.ok()) {
        const std::string body =
            ErrorBody("citybrain-local needs a user message with text: " + analysis.error().message,
                      "invalid_request_error",
                      "messages",
                      "invalid_value");
        ex->Hash(body);
        Finish(ex, 400, analysis.error().message);
        ex->out->Reply(400, kJson, body, headers);
        return;
    }
    const std::string content = LocalModel::Content(analysis.value(), ex->json_mode);
    ex->tokens_in = ex->prompt_estimate;
    ex->tokens_out = EstimateTokens(content);
    ex->upstream_usage = true;  // the local model's own count is exact for it
    const json usage = {{"prompt_tokens", ex->tokens_in},
                        {"completion_tokens", ex->tokens_out},
                        {"total_tokens", ex->tokens_in + ex->tokens_out}};
    if (!ex->stream) {
        const std::string body = json{
            {"id", id},
            {"object", "chat.completion"},
            {"created", now_s},
            {"model", kLocalModel},
            {"choices",
             json::array({{{"index", 0},
                           {"message", {{"role", "assistant"}, {"content", content}}},
                           {"finish_reason", "stop"}}})},
            {"usage", usage}}.dump();
        ex->Hash(body);
        Finish(ex, 200, fallback_reason);
        ex->out->Reply(200, kJson, body, headers);
        return;
    }
    // Streamed as a model would: a role chunk, the content a few characters at a time, the stop, the usage.
    const int64_t in = ex->tokens_in;
    const int64_t out_tokens = ex->tokens_out;
    ex->tokens_in = ex->tokens_out = 0;
    ex->upstream_usage = false;
    auto chunk = [&](const json& delta, const json& finish) {
        return json{{"id", id},
                    {"object", "chat.completion.chunk"},
                    {"created", now_s},
                    {"model", kLocalModel},
                    {"choices", json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}}
            .dump();
    };
    std::vector<std::string> events{chunk({{"role", "assistant"}, {"content", ""}}, nullptr)};
    for (size_t i = 0; i < content.size();) {
        size_t end = i;
        for (int n = 0; n < 4 && end < content.size(); ++n) {
            const auto c = static_cast<unsigned char>(content[end]);
            end += core::Utf8SequenceLength(c);
        }
        end = std::min(end, content.size());
        events.push_back(chunk({{"content", content.substr(i, end - i)}}, nullptr));
        i = end;
    }
    events.push_back(chunk(json::object(), "stop"));
    events.push_back(json{
        {"id", id},
        {"object", "chat.completion.chunk"},
        {"created", now_s},
        {"model", kLocalModel},
        {"choices", json::array()},
        {"usage", usage}}.dump());
    for (const std::string& e : events) {
        if (!ex->Relay(e)) break;
    }
    ex->tokens_in = in;
    ex->tokens_out = out_tokens;
    ex->upstream_usage = true;
    (void)headers;  // Relay began the stream with the upstream header; the fallback reason is in the audit
    if (ex->cut) {
        if (ex->cut_code != "client_gone") {
            std::string piece = "data: " + ErrorBody(ex->cut_message, "insufficient_quota", "", ex->cut_code) + "\n\n";
            ex->Hash(piece);
            Finish(ex, 200, ex->cut_message);
            ex->out->Write(std::move(piece));
        } else {
            Finish(ex, 499, ex->cut_message);
        }
        ex->out->End();
        return;
    }
    std::string last = "data: [DONE]\n\n";
    ex->Hash(last);
    Finish(ex, 200, fallback_reason);
    ex->out->Write(std::move(last));
    ex->out->End();
}

void Gateway::Impl::Finish(const std::shared_ptr<Exchange>& ex, int status, const std::string& error) {
    if (ex->finished) return;
    ex->finished = true;
    const int64_t now = Now();
    int64_t total = 0;
    std::string source = "upstream";
    if (ex->upstream_usage) {
        total = ex->tokens_in + ex->tokens_out;
    } else if (ex->counted > 0) {
        // A stream without usage: what was counted as it went is the estimate.
        source = "estimate";
        ex->tokens_in = std::min(ex->prompt_estimate, ex->counted);
        ex->tokens_out = ex->counted - ex->tokens_in;
        total = ex->counted;
    } else {
        source = "none";
    }
    {
        std::lock_guard lock(mu);
        if (total != ex->counted) keys[ex->key].usage.AddTokens(keys[ex->key].config, now, total - ex->counted);
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&ex->hash, digest);
    AuditRecord r;
    r.content_sha256 = Hex(digest, sizeof digest);
    r.ts_ms = now;
    r.request_id = ex->request_id;
    const KeyConfig& k = keys[ex->key].config;
    r.key_name = k.name;
    r.agent = k.agent;
    r.team = k.team;
    r.endpoint = ex->endpoint;
    r.model = ex->model;
    r.upstream = ex->answered_by;
    r.status = status;
    r.tokens_in = ex->tokens_in;
    r.tokens_out = ex->tokens_out;
    r.usage_source = source;
    r.latency_ms = now - ex->started_ms;
    r.stream = ex->stream;
    if (options.config.audit_content) r.content = ex->request_body + "\n" + ex->content_log;
    r.error = error;
    if (auto s = audit->Append(r); !s.ok()) std::fprintf(stderr, "gateway: %s\n", s.error().ToString().c_str());
}

void Gateway::Impl::AuditCall(const GatewayRequest& request,
                              size_t key,
                              const std::string& endpoint,
                              int status,
                              const std::string& body,
                              const std::string& error) {
    AuditRecord r;
    r.ts_ms = Now();
    r.request_id = request.request_id;
    if (key < keys.size()) {
        r.key_name = keys[key].config.name;
        r.agent = keys[key].config.agent;
        r.team = keys[key].config.team;
    } else {
        r.key_name = "-";
    }
    r.endpoint = endpoint;
    const json doc = json::parse(request.body, nullptr, false);
    if (doc.is_object() && doc.contains("model") && doc["model"].is_string()) r.model = doc["model"].get<std::string>();
    r.status = status;
    r.usage_source = "none";
    r.content_sha256 = Sha256Hex(request.body + body);
    r.error = error;
    if (auto s = audit->Append(r); !s.ok()) std::fprintf(stderr, "gateway: %s\n", s.error().ToString().c_str());
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() {
    // The upstream threads end first: their callbacks use the rest.
    impl_->client.reset();
}

Result<std::unique_ptr<Gateway>> Gateway::Open(GatewayOptions options) {
    if (sodium_init() < 0) return Error{ErrorCode::kInternal, "libsodium failed to initialise", "gateway"};
    auto impl = std::make_unique<Impl>();
    impl->options = std::move(options);
    const GatewayConfig& config = impl->options.config;
    for (size_t i = 0; i < config.upstreams.size(); ++i) {
        CB_TRY_ASSIGN(UpstreamAddress a,
                      ParseUpstreamUrl(config.upstreams[i].url, "upstreams[" + std::to_string(i) + "].url"));
        impl->upstreams.push_back(
            Upstream{std::move(a), Breaker(config.breaker_failures, config.breaker_cooldown_ms), 0, 0, 0});
    }
    impl->router = std::make_unique<Router>(impl->options.config.upstreams);
    CB_TRY_ASSIGN(impl->audit, AuditLog::Open(impl->options.audit_path));
    CB_TRY_ASSIGN(LocalModel local, LocalModel::Create(impl->options.local));
    impl->local = std::make_unique<LocalModel>(std::move(local));
    const int64_t now = impl->Now();
    for (const KeyConfig& k : config.keys) {
        Key key{k, {}};
        CB_TRY_ASSIGN(const int64_t used, impl->audit->TokensSince(k.name, PeriodStartMs(k.period, now)));
        key.usage.SetPeriodTokens(k, now, used);
        if (!impl->key_by_hash.emplace(k.sha256, impl->keys.size()).second) {
            return InvalidArgument("keys", "the key '" + k.name + "' is listed twice");
        }
        impl->keys.push_back(std::move(key));
    }
    impl->client = std::make_unique<UpstreamClient>(impl->options.io_threads, impl->options.io_context);
    return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

size_t Gateway::keys() const { return impl_->keys.size(); }

json Gateway::Status() const {
    std::lock_guard lock(impl_->mu);
    const int64_t now = impl_->Now();
    json ups = json::array();
    for (size_t i = 0; i < impl_->upstreams.size(); ++i) {
        const auto& u = impl_->upstreams[i];
        const auto& c = impl_->options.config.upstreams[i];
        ups.push_back({{"name", c.name},
                       {"models", c.models},
                       {"priority", c.priority},
                       {"weight", c.weight},
                       {"breaker", BreakerStateName(u.breaker.state(now))},
                       {"consecutive_failures", u.breaker.consecutive_failures()},
                       {"in_flight", u.inflight},
                       {"requests", u.requests},
                       {"failures", u.failures}});
    }
    json keys = json::array();
    for (const auto& k : impl_->keys) {
        keys.push_back({{"name", k.config.name},
                        {"agent", k.config.agent},
                        {"team", k.config.team},
                        {"period_tokens", k.usage.period_tokens()},
                        {"budget_tokens", k.config.budget_tokens}});
    }
    return {{"upstreams", ups}, {"keys", keys}, {"local_model", kLocalModel}};
}

void Gateway::Handle(const GatewayRequest& request, const std::shared_ptr<Responder>& out) {
    try {
        HandleChecked(request, out);
    } catch (const std::exception& e) {
        // A body shaped in a way no check above foresaw: the client hears it, the gateway goes on.
        out->Reply(400,
                   kJson,
                   ErrorBody(std::string("body: ") + e.what(), "invalid_request_error", "body", "invalid_value"),
                   {});
    }
}

void Gateway::HandleChecked(const GatewayRequest& request, const std::shared_ptr<Responder>& out_in) {
    std::shared_ptr<Responder> out = out_in;
    Impl& gw = *impl_;
    const std::string& path = request.path;
    const bool chat = path == "/v1/chat/completions";
    const bool embeddings = path == "/v1/embeddings";
    const bool models = path == "/v1/models";
    const bool status = path == "/v1/gateway/status";
    const std::string endpoint = chat ? "chat.completions" : embeddings ? "embeddings" : models ? "models" : "status";
    size_t key = SIZE_MAX;
    auto fail = [&](int code_status,
                    const std::string& message,
                    const std::string& type,
                    const std::string& param,
                    const std::string& code,
                    Headers h = {}) {
        std::string body = ErrorBody(message, type, param, code);
        if (chat || embeddings || models || status) gw.AuditCall(request, key, endpoint, code_status, body, message);
        out->Reply(code_status, kJson, std::move(body), std::move(h));
    };
    if (!chat && !embeddings && !models && !status) {
        return fail(404, "no such endpoint: " + path.substr(0, 200), "invalid_request_error", "", "unknown_url");
    }
    const bool post = chat || embeddings;
    if ((post && request.method != "POST") || (!post && request.method != "GET" && request.method != "HEAD")) {
        return fail(405,
                    path + " takes " + (post ? "POST" : "GET"),
                    "invalid_request_error",
                    "",
                    "method_not_allowed",
                    {{"Allow", post ? "POST" : "GET, HEAD"}});
    }
    if (request.api_key.empty()) {
        return fail(
            401, "an API key is required: Authorization: Bearer KEY", "invalid_request_error", "", "missing_api_key");
    }
    const auto found = gw.key_by_hash.find(Sha256Hex(request.api_key));
    if (found == gw.key_by_hash.end()) {
        return fail(401, "the API key is not known to this gateway", "invalid_request_error", "", "invalid_api_key");
    }
    key = found->second;
    {
        std::lock_guard lock(gw.mu);
        const auto v = gw.keys[key].usage.Admit(gw.keys[key].config, gw.Now());
        if (!v.ok) {
            Headers h;
            if (v.retry_after_s > 0) h.emplace_back("Retry-After", std::to_string(v.retry_after_s));
            return fail(429,
                        v.message,
                        v.limit == "budget" ? "insufficient_quota" : "rate_limit_error",
                        "",
                        v.limit == "budget" ? "budget_exhausted" : "rate_limit_" + v.limit,
                        std::move(h));
        }
    }
    if (models) return gw.Models(request, key, out);
    if (status) {
        std::string body = Status().dump();
        gw.AuditCall(request, key, endpoint, 200, body, "");
        return out->Reply(200, kJson, std::move(body), {});
    }

    auto ex = std::make_shared<Exchange>();
    ex->gw = &gw;
    ex->request_id = request.request_id;
    ex->key = key;
    ex->started_ms = gw.Now();
    crypto_hash_sha256_init(&ex->hash);
    ex->body = json::parse(request.body, nullptr, false);
    auto invalid = [&](const std::string& param, const std::string& message) {
        fail(400, param + ": " + message, "invalid_request_error", param, "invalid_value");
    };
    if (ex->body.is_discarded()) return invalid("body", "not valid JSON");
    if (!ex->body.is_object()) return invalid("body", "must be a JSON object");
    if (!ex->body.contains("model") || !ex->body["model"].is_string() || ex->body["model"].get<std::string>().empty()) {
        return invalid("model", "required, a model name");
    }
    ex->model = ex->body["model"].get<std::string>();
    if (chat) {
        ex->endpoint = "chat.completions";
        ex->upstream_path = "/chat/completions";
        const json& m = ex->body.contains("messages") ? ex->body["messages"] : json();
        if (!m.is_array() || m.empty()) return invalid("messages", "required, a non-empty array");
        static const std::set<std::string> kRoles{"system", "developer", "user", "assistant", "tool", "function"};
        for (size_t i = 0; i < m.size(); ++i) {
            const std::string at = "messages[" + std::to_string(i) + "]";
            if (!m[i].is_object()) return invalid(at, "must be an object");
            if (!m[i].contains("role") || !m[i]["role"].is_string() || kRoles.count(m[i]["role"]) == 0) {
                return invalid(at + ".role", "must be one of system, developer, user, assistant, tool");
            }
            if (m[i].contains("content") && !m[i]["content"].is_string() && !m[i]["content"].is_array() &&
                !m[i]["content"].is_null()) {
                return invalid(at + ".content", "must be a string, an array of parts or null");
            }
        }
        if (ex->body.contains("stream")) {
            if (!ex->body["stream"].is_boolean()) return invalid("stream", "must be true or false");
            ex->stream = ex->body["stream"].get<bool>();
        }
        if (ex->body.contains("stream_options") && ex->body["stream_options"].is_object()) {
            const json& so = ex->body["stream_options"];
            ex->client_usage =
                so.contains("include_usage") && so["include_usage"].is_boolean() && so["include_usage"].get<bool>();
        }
        if (ex->body.contains("response_format") && ex->body["response_format"].is_object()) {
            const json& rf = ex->body["response_format"];
            ex->json_mode = rf.contains("type") && rf["type"] == "json_object";
        }
        const std::string text = MessagesText(m);
        if (!core::ValidUtf8(text)) return invalid("messages", "not valid UTF-8");
        ex->prompt_estimate = EstimateTokens(text);
        json forwarded = ex->body;
        if (ex->stream) forwarded["stream_options"]["include_usage"] = true;  // so that streams are counted exactly
        ex->upstream_body = forwarded.dump();
    } else {
        ex->endpoint = "embeddings";
        ex->upstream_path = "/embeddings";
        const json& in = ex->body.contains("input") ? ex->body["input"] : json();
        const bool ok =
            in.is_string() || (in.is_array() && !in.empty() &&
                               std::all_of(in.begin(), in.end(), [](const json& x) { return x.is_string(); }));
        if (!ok) return invalid("input", "required, a string or a non-empty array of strings");
        if (ex->body.contains("encoding_format") &&
            (!ex->body["encoding_format"].is_string() ||
             (ex->body["encoding_format"] != "float" && ex->body["encoding_format"] != "base64"))) {
            return invalid("encoding_format", "must be float or base64");
        }
        std::string all;
        for (const json& x : in.is_array() ? in : json::array({in})) all += x.get<std::string>();
        if (!core::ValidUtf8(all)) return invalid("input", "not valid UTF-8");
        ex->prompt_estimate = EstimateTokens(all);
        ex->upstream_body = request.body;
    }
    if (!gw.Allowed(gw.keys[key].config, ex->model)) {
        return fail(403,
                    "the key '" + gw.keys[key].config.name + "' may not use the model " + ex->model,
                    "permission_error",
                    "model",
                    "model_not_allowed");
    }
    bool served = ex->model == kLocalModel;
    for (size_t i = 0; i < gw.upstreams.size() && !served; ++i) served = gw.router->Serves(i, ex->model);
    if (!served) {
        return fail(404,
                    "the model " + ex->model + " is not served here (GET /v1/models lists them)",
                    "invalid_request_error",
                    "model",
                    "model_not_found");
    }
    ex->request_body = request.body;
    ex->Hash(request.body);
    ex->content_log.clear();  // the request goes into the log once, in Finish
    ex->out = std::move(out);
    gw.Start(ex);
}

}  // namespace citybrain::agents
