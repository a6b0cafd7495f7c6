// SPDX-License-Identifier: Apache-2.0
#include "agents/gateway.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "agents/audit.hpp"
#include "agents/gateway_config.hpp"
#include "agents/limits.hpp"
#include "agents/routing.hpp"
#include "agents/sse.hpp"

namespace citybrain::agents {
namespace {

using nlohmann::json;

TEST(GatewayConfigTest, ErrorsNameTheField) {
    auto bad = [](const std::string& text) { return ParseGatewayConfig(text, "cfg").error().where; };
    EXPECT_EQ(bad(R"({"upstreams":[{"name":"a","url":"https://x/v1","models":["m"]}]})"), "upstreams[0].url");
    EXPECT_EQ(bad(R"({"upstreams":[{"name":"a","url":"http://x/v1","models":[]}]})"), "upstreams[0].models");
    EXPECT_EQ(bad(R"({"upstreams":[{"name":"a","url":"http://x/v1","models":["m"],"timeout_s":0}]})"),
              "upstreams[0].timeout_s");
    EXPECT_EQ(bad(R"({"upstreams":[{"name":"a","url":"http://x/v1","models":["m"],"wieght":2}]})"),
              "upstreams[0].wieght");
    EXPECT_EQ(bad(R"({"keys":[{"name":"k","sha256":"abc"}]})"), "keys[0].sha256");
    EXPECT_EQ(bad(R"({"keys":[{"name":"k","sha256":")" + Sha256Hex("secret-1") + R"(","period":"week"}]})"),
              "keys[0].period");
    EXPECT_EQ(bad(R"({"breaker":{"failures":0}})"), "breaker.failures");
    EXPECT_EQ(bad(R"({"":[]})"), "\"\"");  // found by gateway_fuzz: an empty field name is still named
    EXPECT_EQ(bad(R"({"upstreams":[{"name":"a","url":"http://x/v1","models":["citybrain-local"]}]})"),
              "upstreams[0].models");
    auto ok = ParseGatewayConfig(
        R"({"upstreams":[{"name":"a","url":"http://127.0.0.1:9/v1","models":["m"],"weight":3,"timeout_s":0.5}],
            "breaker":{"failures":2,"cooldown_s":1.5}})",
        "cfg");
    ASSERT_TRUE(ok.ok()) << ok.error().ToString();
    EXPECT_EQ(ok.value().upstreams[0].timeout_ms, 500);
    EXPECT_EQ(ok.value().upstreams[0].weight, 3);
    EXPECT_EQ(ok.value().breaker_cooldown_ms, 1500);
}

TEST(GatewayConfigTest, EnvKeysAreHashedAndNamed) {
    auto keys = KeysFromEnv("alpha-key-1, team=beta-key-22");
    ASSERT_TRUE(keys.ok());
    ASSERT_EQ(keys.value().size(), 2u);
    EXPECT_EQ(keys.value()[0].name, "env-1");
    EXPECT_EQ(keys.value()[0].sha256, Sha256Hex("alpha-key-1"));
    EXPECT_EQ(keys.value()[1].name, "team");
    EXPECT_EQ(keys.value()[1].sha256, Sha256Hex("beta-key-22"));
    EXPECT_FALSE(KeysFromEnv("short").ok());
    // The well-known vector.
    EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(LimitsTest, MinuteWindowForgetsAfterSixtySeconds) {
    MinuteWindow w;
    w.Add(1'000, 5);
    w.Add(30'500, 2);
    EXPECT_EQ(w.Sum(30'999), 7);
    EXPECT_EQ(w.Sum(60'999), 7);  // seconds 1 … 60 are the last minute at second 60
    EXPECT_EQ(w.Sum(61'000), 2);  // and second 1 has left it at 61
    EXPECT_EQ(w.Sum(91'000), 0);
    // With 7 in the window and a limit of 6, the 5 from second 1 must leave: at second 61, 30.5 s from now.
    EXPECT_EQ(w.SecondsUntilBelow(30'999, 6), 31);
}

TEST(LimitsTest, RpmAndBudgetRefuseWithRetryAfter) {
    KeyConfig k;
    k.name = "k";
    k.rpm = 3;
    KeyUsage u;
    const int64_t t = 1'760'000'000'000;
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(u.Admit(k, t + i).ok);
    auto v = u.Admit(k, t + 10);
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.limit, "rpm");
    EXPECT_GE(v.retry_after_s, 1);
    EXPECT_LE(v.retry_after_s, 60);
    EXPECT_TRUE(u.Admit(k, t + 61'000).ok);

    KeyConfig b;
    b.name = "b";
    b.budget_tokens = 100;
    KeyUsage ub;
    EXPECT_TRUE(ub.Admit(b, t).ok);
    EXPECT_TRUE(ub.AddTokens(b, t, 60));
    EXPECT_FALSE(ub.AddTokens(b, t, 40));  // spent exactly
    auto refused = ub.Admit(b, t + 1);
    EXPECT_FALSE(refused.ok);
    EXPECT_EQ(refused.limit, "budget");
    EXPECT_EQ(refused.retry_after_s, (PeriodEndMs(BudgetPeriod::kDay, t + 1) - (t + 1) + 999) / 1000);
    EXPECT_TRUE(ub.Admit(b, PeriodEndMs(BudgetPeriod::kDay, t)).ok);  // a new day
}

TEST(LimitsTest, PeriodsFollowTheDistrictsCalendar) {
    // 2026-06-15 23:30 in Shenzhen is 15:30 UTC; the day began at 2026-06-14 16:00 UTC.
    const int64_t t = 1'781'537'400'000;  // 2026-06-15T15:30:00Z
    EXPECT_EQ(PeriodStartMs(BudgetPeriod::kDay, t), 1'781'452'800'000 + 0);
    EXPECT_EQ(PeriodEndMs(BudgetPeriod::kDay, t) - PeriodStartMs(BudgetPeriod::kDay, t), 86'400'000);
    // June began in Shenzhen at 2026-05-31T16:00Z and ends at 2026-06-30T16:00Z.
    EXPECT_EQ(PeriodStartMs(BudgetPeriod::kMonth, t), 1'780'243'200'000);
    EXPECT_EQ(PeriodEndMs(BudgetPeriod::kMonth, t), 1'782'835'200'000);
    EXPECT_EQ(PeriodStartMs(BudgetPeriod::kTotal, t), 0);
}

TEST(LimitsTest, TokenEstimateCountsChineseByCharacter) {
    EXPECT_EQ(EstimateTokens("井盖缺失"), 4);
    EXPECT_EQ(EstimateTokens("abcdefgh"), 2);
    EXPECT_EQ(EstimateTokens(""), 0);
}

TEST(BreakerTest, OpensHalfOpensAndRecovers) {
    Breaker b(3, 1000);
    EXPECT_TRUE(b.Admit(0));
    b.Failure(0);
    b.Failure(0);
    EXPECT_EQ(b.state(0), Breaker::State::kClosed);
    b.Failure(10);
    EXPECT_EQ(b.state(10), Breaker::State::kOpen);
    EXPECT_FALSE(b.Admit(500));
    EXPECT_EQ(b.state(1010), Breaker::State::kHalfOpen);
    EXPECT_TRUE(b.Admit(1010));   // the one trial
    EXPECT_FALSE(b.Admit(1011));  // no second while it is out
    b.Failure(1020);              // the trial failed: open again
    EXPECT_EQ(b.state(1500), Breaker::State::kOpen);
    EXPECT_FALSE(b.Admit(1500));
    EXPECT_TRUE(b.Admit(2020));
    b.Success();
    EXPECT_EQ(b.state(2021), Breaker::State::kClosed);
    EXPECT_TRUE(b.Admit(2021));
    EXPECT_TRUE(b.Admit(2021));
}

TEST(BreakerTest, ALostTrialIsGivenUpAfterACooldown) {
    Breaker b(1, 1000);
    b.Failure(0);
    EXPECT_TRUE(b.Admit(1000));
    EXPECT_FALSE(b.Admit(1500));
    EXPECT_TRUE(b.Admit(2000));  // the first trial never reported back
}

TEST(RouterTest, WeightsAndPrioritiesDecideTheOrder) {
    std::vector<UpstreamConfig> ups(3);
    ups[0] = {"a", "http://a/v1", "", {"m"}, 3, 0, 1000, 8};
    ups[1] = {"b", "http://b/v1", "", {"m", "n"}, 1, 0, 1000, 8};
    ups[2] = {"c", "http://c/v1", "", {"*"}, 1, 1, 1000, 8};
    Router r(ups);
    std::map<size_t, int> first;
    for (int i = 0; i < 400; ++i) {
        const auto order = r.Order("m");
        ASSERT_EQ(order.size(), 3u);
        EXPECT_EQ(order.back(), 2u);  // the lower priority is only for failover
        ++first[order.front()];
    }
    EXPECT_EQ(first[0], 300);  // exactly 3:1
    EXPECT_EQ(first[1], 100);
    EXPECT_EQ(r.Order("n"), (std::vector<size_t>{1, 2}));
    EXPECT_EQ(r.Order("other"), (std::vector<size_t>{2}));
}

TEST(SseTest, SplitsEventsWhateverThePieces) {
    const std::string stream =
        "data: {\"a\":1}\n\n: comment\n\ndata: {\"b\":\r\ndata: 2}\r\n\r\nevent: x\ndata: [DONE]\n\n";
    for (size_t piece : {1, 3, 7, 1000}) {
        SseSplitter s;
        std::vector<std::string> got;
        for (size_t i = 0; i < stream.size(); i += piece) {
            for (auto& e : s.Feed(std::string_view(stream).substr(i, piece))) got.push_back(e);
        }
        EXPECT_EQ(got, (std::vector<std::string>{"{\"a\":1}", "{\"b\":\n2}", "[DONE]"})) << piece;
        EXPECT_EQ(s.pending(), 0u);
    }
}

/// A responder that keeps what the gateway said.
class Recorder : public Responder {
public:
    void Reply(int status, std::string, std::string body, Headers headers) override {
        std::lock_guard lock(mu_);
        status_ = status;
        body_ = std::move(body);
        headers_ = std::move(headers);
        done_ = true;
        cv_.notify_all();
    }
    void Begin(int status, std::string, Headers headers) override {
        std::lock_guard lock(mu_);
        status_ = status;
        headers_ = std::move(headers);
    }
    bool Write(std::string piece) override {
        std::lock_guard lock(mu_);
        body_ += piece;
        return true;
    }
    void End() override {
        std::lock_guard lock(mu_);
        done_ = true;
        cv_.notify_all();
    }
    void Wait() {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::seconds(20), [&] { return done_; });
    }
    std::string Header(const std::string& name) const {
        for (const auto& [k, v] : headers_) {
            if (k == name) return v;
        }
        return {};
    }
    int status_ = 0;
    std::string body_;
    Headers headers_;

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
};

class GatewayTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("cb_gateway_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::unique_ptr<Gateway> Open(GatewayConfig config) {
        GatewayOptions o;
        o.config = std::move(config);
        o.audit_path = (dir_ / "audit.db").string();
        o.clock = [this] { return now_; };
        auto g = Gateway::Open(std::move(o));
        EXPECT_TRUE(g.ok()) << g.error().ToString();
        return std::move(g).value();
    }
    std::shared_ptr<Recorder> Call(Gateway& g,
                                   const std::string& key,
                                   const std::string& path,
                                   const json& body,
                                   const std::string& method = "POST") {
        auto r = std::make_shared<Recorder>();
        g.Handle({method, path, body.is_null() ? "" : body.dump(), key, std::to_string(++ids_)}, r);
        r->Wait();
        return r;
    }
    static KeyConfig Key(const std::string& name, const std::string& secret) {
        KeyConfig k;
        k.name = name;
        k.sha256 = Sha256Hex(secret);
        k.agent = name + "-agent";
        return k;
    }
    static json Chat(const std::string& text, bool stream = false) {
        return {{"model", "citybrain-local"},
                {"stream", stream},
                {"messages", json::array({{{"role", "user"}, {"content", text}}})}};
    }

    std::filesystem::path dir_;
    int64_t now_ = 1'781'500'000'000;
    int ids_ = 0;
};

TEST_F(GatewayTest, KeysAreRequiredAndChecked) {
    GatewayConfig c;
    c.keys.push_back(Key("urban", "secret-urban-1"));
    auto g = Open(c);
    EXPECT_EQ(Call(*g, "", "/v1/models", nullptr, "GET")->status_, 401);
    auto wrong = Call(*g, "secret-urban-2", "/v1/models", nullptr, "GET");
    EXPECT_EQ(wrong->status_, 401);
    EXPECT_EQ(json::parse(wrong->body_)["error"]["code"], "invalid_api_key");
    auto ok = Call(*g, "secret-urban-1", "/v1/models", nullptr, "GET");
    ASSERT_EQ(ok->status_, 200);
    EXPECT_EQ(json::parse(ok->body_)["data"][0]["id"], "citybrain-local");
    EXPECT_EQ(Call(*g, "secret-urban-1", "/v1/models", json::object())->status_, 405);
    EXPECT_EQ(Call(*g, "secret-urban-1", "/v1/nothing", nullptr, "GET")->status_, 404);
}

TEST_F(GatewayTest, BadBodiesNameTheField) {
    GatewayConfig c;
    c.keys.push_back(Key("urban", "secret-urban-1"));
    auto g = Open(c);
    auto param = [&](const json& body) {
        auto r = Call(*g, "secret-urban-1", "/v1/chat/completions", body);
        EXPECT_EQ(r->status_, 400) << r->body_;
        return json::parse(r->body_)["error"]["param"].get<std::string>();
    };
    EXPECT_EQ(param(json::array()), "body");
    EXPECT_EQ(param({{"messages", json::array()}}), "model");
    EXPECT_EQ(param({{"model", "citybrain-local"}}), "messages");
    EXPECT_EQ(param({{"model", "citybrain-local"}, {"messages", json::array({{{"role", "boss"}}})}}),
              "messages[0].role");
    EXPECT_EQ(param({{"model", "citybrain-local"},
                     {"stream", "yes"},
                     {"messages", json::array({{{"role", "user"}, {"content", "x"}}})}}),
              "stream");
    auto unknown =
        Call(*g, "secret-urban-1", "/v1/chat/completions", {{"model", "gpt-x"}, {"messages", Chat("x")["messages"]}});
    EXPECT_EQ(unknown->status_, 404);
    EXPECT_EQ(json::parse(unknown->body_)["error"]["code"], "model_not_found");
}

TEST_F(GatewayTest, TheLocalModelRoutesACitizensMessage) {
    GatewayConfig c;
    c.keys.push_back(Key("urban", "secret-urban-1"));
    auto g = Open(c);
    json body = Chat("小区门口的井盖丢了，晚上很危险，有小孩掉进去怎么办");
    body["response_format"] = {{"type", "json_object"}};
    auto r = Call(*g, "secret-urban-1", "/v1/chat/completions", body);
    ASSERT_EQ(r->status_, 200) << r->body_;
    const json answer = json::parse(r->body_);
    EXPECT_EQ(answer["model"], "citybrain-local");
    const json content = json::parse(answer["choices"][0]["message"]["content"].get<std::string>());
    EXPECT_FALSE(content["department_name"].get<std::string>().empty());
    EXPECT_LE(content["priority"].get<int>(), 2);  // a child and a missing cover raise it
    EXPECT_NE(content["reply"].get<std::string>().find(content["department_name"].get<std::string>()),
              std::string::npos);
    EXPECT_GT(answer["usage"]["total_tokens"].get<int>(), 0);
    EXPECT_EQ(r->Header("X-CityBrain-Upstream"), "citybrain-local");
}

TEST_F(GatewayTest, ALocalStreamIsChunkedAndEndsWithDone) {
    GatewayConfig c;
    c.keys.push_back(Key("urban", "secret-urban-1"));
    auto g = Open(c);
    auto r = Call(*g, "secret-urban-1", "/v1/chat/completions", Chat("路灯不亮了", true));
    ASSERT_EQ(r->status_, 200);
    SseSplitter s;
    auto events = s.Feed(r->body_);
    ASSERT_GE(events.size(), 4u);
    EXPECT_EQ(events.back(), "[DONE]");
    std::string text;
    for (size_t i = 0; i + 1 < events.size(); ++i) {
        const json e = json::parse(events[i]);
        EXPECT_EQ(e["object"], "chat.completion.chunk");
        EXPECT_TRUE(e["choices"].empty() || !e["choices"][0]["delta"].is_null());
        if (!e["choices"].empty() && e["choices"][0]["delta"].contains("content")) {
            text += e["choices"][0]["delta"]["content"].get<std::string>();
        }
    }
    EXPECT_NE(text.find("承办部门"), std::string::npos);
}

TEST_F(GatewayTest, BudgetStopsAStreamMidwayAndRefusesTheNextCall) {
    GatewayConfig c;
    KeyConfig k = Key("small", "secret-small-1");
    k.budget_tokens = 40;
    c.keys.push_back(k);
    auto g = Open(c);
    auto r = Call(*g, "secret-small-1", "/v1/chat/completions", Chat("路灯不亮了", true));
    ASSERT_EQ(r->status_, 200);
    SseSplitter s;
    auto events = s.Feed(r->body_);
    ASSERT_FALSE(events.empty());
    EXPECT_NE(events.back(), "[DONE]");
    EXPECT_EQ(json::parse(events.back())["error"]["code"], "budget_exhausted");
    auto next = Call(*g, "secret-small-1", "/v1/chat/completions", Chat("路灯不亮了"));
    EXPECT_EQ(next->status_, 429);
    EXPECT_FALSE(next->Header("Retry-After").empty());
    EXPECT_EQ(json::parse(next->body_)["error"]["code"], "budget_exhausted");
}

TEST_F(GatewayTest, TheAuditKeepsEveryCallAndRemembersBudgets) {
    GatewayConfig c;
    KeyConfig k = Key("urban", "secret-urban-1");
    k.budget_tokens = 1'000'000;
    c.keys.push_back(k);
    int64_t used = 0;
    {
        auto g = Open(c);
        Call(*g, "secret-urban-1", "/v1/chat/completions", Chat("占道经营，摊贩把人行道堵了"));
        Call(*g, "secret-urban-1", "/v1/chat/completions", Chat("路灯不亮了", true));
        Call(*g, "nope-nope-nope", "/v1/models", nullptr, "GET");
        Call(*g, "secret-urban-1", "/v1/embeddings", {{"model", "citybrain-local"}, {"input", {"井盖", "路灯"}}});
        used = g->Status()["keys"][0]["period_tokens"].get<int64_t>();
        EXPECT_GT(used, 0);
    }
    auto log = AuditLog::Open((dir_ / "audit.db").string());
    ASSERT_TRUE(log.ok());
    EXPECT_EQ(log.value()->Count().value(), 4);
    EXPECT_EQ(log.value()->TokensSince("urban", 0).value(), used);
    auto g = Open(c);  // a restart reads the period's use back
    EXPECT_EQ(g->Status()["keys"][0]["period_tokens"].get<int64_t>(), used);
}

TEST_F(GatewayTest, RequestsPerMinuteAreHeld) {
    GatewayConfig c;
    KeyConfig k = Key("busy", "secret-busy-1");
    k.rpm = 5;
    c.keys.push_back(k);
    auto g = Open(c);
    int ok = 0, limited = 0;
    for (int i = 0; i < 8; ++i) {
        auto r = Call(*g, "secret-busy-1", "/v1/chat/completions", Chat("噪音扰民"));
        if (r->status_ == 200) ++ok;
        if (r->status_ == 429) {
            ++limited;
            EXPECT_EQ(json::parse(r->body_)["error"]["code"], "rate_limit_rpm");
        }
    }
    EXPECT_EQ(ok, 5);
    EXPECT_EQ(limited, 3);
    now_ += 61'000;
    EXPECT_EQ(Call(*g, "secret-busy-1", "/v1/chat/completions", Chat("噪音扰民"))->status_, 200);
}

/// The audit log's contract, on SQLite always and on PostgreSQL when CITYBRAIN_PG_URL names one
/// (tests/pg_test.sh, ctest postgres_audit).
void AuditContract(const std::string& where) {
    auto log = AuditLog::Open(where);
    ASSERT_TRUE(log.ok()) << log.error().ToString();
    const int64_t before = (*log)->Count().value();
    const int64_t base = (*log)->TokensSince("audit-k", 0).value();
    AuditRecord r;
    r.ts_ms = 1'000;
    r.request_id = "7";
    r.key_name = "audit-k";
    r.endpoint = "chat.completions";
    r.model = "m";
    r.status = 200;
    r.tokens_in = 5;
    r.tokens_out = 7;
    r.usage_source = "upstream";
    r.content_sha256 = Sha256Hex("x");
    ASSERT_TRUE((*log)->Append(r).ok());
    r.ts_ms = 5'000;
    r.content = "请求与回答";  // kept only when asked; empty stays NULL
    ASSERT_TRUE((*log)->Append(r).ok());
    EXPECT_EQ((*log)->Count().value(), before + 2);
    EXPECT_EQ((*log)->TokensSince("audit-k", 0).value(), base + 24);
    EXPECT_EQ((*log)->TokensSince("audit-k", 2'000).value() - (*log)->TokensSince("audit-k", 1'000'000).value(), 12);
    EXPECT_EQ((*log)->TokensSince("nobody", 0).value(), 0);
}

TEST(AuditTest, SqliteKeepsEveryRowAndSumsAKeysTokens) {
    const std::string path = (std::filesystem::temp_directory_path() / "cb_audit_contract.db").string();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    AuditContract(path);
    auto log = AuditLog::Open(path);
    EXPECT_STREQ((*log)->Kind(), "sqlite");
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

TEST(AuditTest, PostgresKeepsEveryRowAndSumsAKeysTokens) {
    const char* url = std::getenv("CITYBRAIN_PG_URL");
    if (url == nullptr) GTEST_SKIP() << "CITYBRAIN_PG_URL is not set (ctest postgres_audit starts a PostgreSQL)";
    AuditContract(url);
    auto log = AuditLog::Open(url);
    EXPECT_STREQ((*log)->Kind(), "postgresql");
    EXPECT_FALSE(AuditLog::Open("postgresql://nobody@127.0.0.1:1/none").ok());
}

}  // namespace
}  // namespace citybrain::agents
