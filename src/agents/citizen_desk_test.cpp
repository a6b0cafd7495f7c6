// SPDX-License-Identifier: Apache-2.0
// The agent runtime behind the citizen channel, on a real incident engine over a SQLite store, and its parts:
// jieba-style segmentation, BM25 over the sample documents, agent files, tools' schemas.
#include "agents/citizen_desk.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "agents/agent_spec.hpp"
#include "agents/knowledge.hpp"
#include "agents/segmenter.hpp"
#include "incident/store.hpp"
#include "server/http_server.hpp"
#include "server/vault_api.hpp"
#include "vault/vault.hpp"

namespace citybrain::agents {
namespace {

using nlohmann::json;

bool HaveDict() { return std::filesystem::exists(kJiebaDict); }

const Segmenter& Seg() {
    static const Segmenter s = Segmenter::Load().value();
    return s;
}

std::vector<std::string> Docs() {
    std::vector<std::string> docs;
    for (const auto& e : std::filesystem::directory_iterator(std::string(CB_SOURCE_DIR) + "/config/knowledge")) {
        docs.push_back(e.path().string());
    }
    std::sort(docs.begin(), docs.end());
    return docs;
}

bool Has(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

TEST(SegmenterTest, CutsByTheDictionaryAndForSearch) {
    if (!HaveDict()) GTEST_SKIP() << kJiebaDict << " is missing (make deps installs python3-jieba)";
    const auto words = Seg().Cut("可以在路边摆摊吗？Open311 API");
    EXPECT_TRUE(Has(words, "路边") && Has(words, "摆摊")) << ::testing::PrintToString(words);
    EXPECT_TRUE(Has(words, "open311") && Has(words, "api"));
    EXPECT_FALSE(Has(words, "？"));
    const auto search = Seg().CutForSearch("公共场所摆摊设点");
    EXPECT_TRUE(Has(search, "摆摊设点") && Has(search, "摆摊") && Has(search, "公共场所") && Has(search, "场所"));
    EXPECT_FALSE(Segmenter::Load("/nonexistent/dict.txt").ok());
}

TEST(KnowledgeTest, Bm25FindsTheSectionThatAnswers) {
    if (!HaveDict()) GTEST_SKIP() << kJiebaDict << " is missing";
    KnowledgeBase kb(std::make_shared<const Segmenter>(Segmenter::Load().value()));
    for (const auto& d : Docs()) ASSERT_TRUE(kb.AddFile(d).ok());
    EXPECT_GE(kb.size(), 14u);
    auto top = [&](const std::string& q) {
        const auto hits = kb.Search(q, 3);
        return hits.empty() ? std::string() : kb.passage(hits[0].passage).heading;
    };
    EXPECT_EQ(top("大件垃圾怎么处理？"), "大件垃圾");
    EXPECT_EQ(top("居住证去哪里办理？"), "办理地点");
    EXPECT_EQ(top("申请居住证要多久？"), "办理时限");
    EXPECT_EQ(top("垃圾投放时间是几点？"), "投放时间");
    EXPECT_EQ(top("明天会下雨吗"), "");
    // Limited to one agent's documents.
    const auto only = kb.Search("大件垃圾", 3, {Docs()[0]});
    for (const auto& h : only) EXPECT_EQ(kb.passage(h.passage).source, Docs()[0]);
}

TEST(AgentSpecTest, FilesAreCheckedByName) {
    auto err = [](const std::string& text) { return ParseAgent(text, "a.json", "/x").error().ToString(); };
    EXPECT_NE(err(R"({"department":"*"})").find("name"), std::string::npos);
    EXPECT_NE(err(R"({"name":"a","department":"*","tools":["fly"]})").find("tools[0]"), std::string::npos);
    EXPECT_NE(err(R"({"name":"a","department":"*","colour":"red"})").find("colour"), std::string::npos);
    EXPECT_NE(err(R"({"name":"a","department":"*","knowledge":["k.md"]})").find("search_knowledge"), std::string::npos);
    auto ok = ParseAgent(
        R"({"name":"a","department":"*","tools":["search_knowledge"],"knowledge":["k.md"]})", "a.json", "/x");
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(ok->knowledge[0], "/x/k.md");
    EXPECT_EQ(ok->model, "citybrain-local");
    const json tools = OpenAiTools(*ok);
    EXPECT_EQ(tools[0]["function"]["name"], "search_knowledge");
    EXPECT_EQ(tools[0]["function"]["parameters"]["required"][0], "query");
}

TEST(AgentSpecTest, ToolArgumentsAreCheckedAgainstTheSchema) {
    auto where = [](const char* tool, const json& args) {
        const Status s = ValidateArguments(ToolSchema(tool), args);
        return s.ok() ? std::string("ok") : s.error().where + ": " + s.error().message;
    };
    EXPECT_EQ(where("create_case", json::object()), "arguments.text: missing");
    EXPECT_EQ(where("create_case", {{"text", "x"}, {"lat", "22.7"}}), "arguments.lat: must be a number");
    EXPECT_EQ(where("create_case", {{"text", "x"}, {"lat", 95}}), "arguments.lat: must be at most 90");
    EXPECT_EQ(where("create_case", {{"text", "x"}, {"colour", 1}}), "arguments.colour: unknown field");
    EXPECT_EQ(where("case_status", {{"case_id", 0}}), "arguments.case_id: must be at least 1");
    EXPECT_EQ(where("search_knowledge", {{"query", ""}}), "arguments.query: must not be empty");
    EXPECT_EQ(where("create_case", {{"text", "井盖丢了"}, {"lat", 22.7}, {"long", 114.2}}), "ok");
}

/// A district's engine on a fresh SQLite file, its intake, and a desk in front.
class DeskTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("cb_desk_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
        auto store = incident::OpenSqliteStore((dir_ / "cases.db").string());
        ASSERT_TRUE(store.ok());
        auto engine = incident::IncidentEngine::Open(std::move(store).value(), incident::Taxonomy::Default());
        ASSERT_TRUE(engine.ok());
        engine_ = std::move(engine).value();
        intake_ = std::make_unique<incident::IntakeQueue>(*engine_);
    }
    void TearDown() override {
        desk_.reset();
        intake_.reset();
        engine_.reset();
        std::filesystem::remove_all(dir_);
    }
    void OpenDesk(std::vector<AgentSpec> agents = {}) {
        DeskOptions o;
        o.agents = std::move(agents);
        o.conversations_path = (dir_ / "conversations.db").string();
        auto d = CitizenDesk::Open(std::move(o), *engine_, *intake_);
        ASSERT_TRUE(d.ok()) << d.error().ToString();
        desk_ = std::move(d).value();
    }
    DeskReply Say(const std::string& citizen,
                  const std::string& text,
                  bool located = false,
                  const std::string& id = "") {
        CitizenMessage m;
        m.citizen_id = citizen;
        m.text = text;
        m.message_id = id;
        if (located) {
            m.lat = 22.7201;
            m.lon = 114.2468;
        }
        std::mutex mu;
        std::condition_variable cv;
        std::optional<Result<DeskReply>> got;
        desk_->Converse(m, [&](Result<DeskReply> r) {
            std::lock_guard lock(mu);
            got = std::move(r);
            cv.notify_all();
        });
        std::unique_lock lock(mu);
        cv.wait_for(lock, std::chrono::seconds(10), [&] { return got.has_value(); });
        EXPECT_TRUE(got && got->ok()) << (got && !got->ok() ? got->error().ToString() : "no answer");
        return got && got->ok() ? got->value() : DeskReply{};
    }

    std::filesystem::path dir_;
    std::unique_ptr<incident::IncidentEngine> engine_;
    std::unique_ptr<incident::IntakeQueue> intake_;
    std::unique_ptr<CitizenDesk> desk_;
};

TEST_F(DeskTest, AReportBecomesACaseWithItsNumberDepartmentAndDeadline) {
    OpenDesk();
    const DeskReply r = Say("c1", "小区门口的井盖丢了，晚上很危险", true);
    EXPECT_EQ(r.intent, "report");
    ASSERT_GT(r.case_id, 0);
    auto c = engine_->GetCase(r.case_id);
    ASSERT_TRUE(c.ok() && c->has_value());
    EXPECT_EQ((*c)->department, r.department);
    EXPECT_NE(r.reply.find("案件编号" + std::to_string(r.case_id)), std::string::npos) << r.reply;
    EXPECT_NE(r.reply.find(r.department_name), std::string::npos) << r.reply;
    EXPECT_GT(r.deadline_ms, 0);
    EXPECT_EQ(r.agent, "dept-" + r.department);  // the department's agent took it
    // A retry of the same message makes no second case.
    const DeskReply again = Say("c1", "小区门口的井盖丢了，晚上很危险", true, "m-1");
    const DeskReply retry = Say("c1", "小区门口的井盖丢了，晚上很危险", true, "m-1");
    EXPECT_EQ(again.case_id, retry.case_id);
}

TEST_F(DeskTest, AMissingPlaceIsAskedForAndTheAnswerFillsIt) {
    OpenDesk();
    const DeskReply ask = Say("c2", "路灯不亮了，晚上很黑");
    EXPECT_EQ(ask.intent, "ask_location");
    EXPECT_EQ(ask.case_id, 0);
    const DeskReply filed = Say("c2", "龙城大道88号门口");
    EXPECT_EQ(filed.intent, "report");
    ASSERT_GT(filed.case_id, 0);
    auto c = engine_->GetCase(filed.case_id);
    ASSERT_TRUE(c.ok() && c->has_value());
    EXPECT_EQ((*c)->category, "street_light");  // the first message said what; the second, where
    EXPECT_NE((*c)->address.find("龙城大道88号"), std::string::npos);
}

TEST_F(DeskTest, ACitizenAsksAfterTheirOwnCaseOnly) {
    OpenDesk();
    const DeskReply manhole = Say("c3", "井盖丢了", true);
    const DeskReply light = Say("c3", "路灯坏了", true);
    ASSERT_GT(manhole.case_id, 0);
    ASSERT_GT(light.case_id, 0);
    const DeskReply status = Say("c3", "我上周反映的井盖问题处理得怎么样了？");
    EXPECT_EQ(status.intent, "status");
    EXPECT_EQ(status.case_id, manhole.case_id);  // the topic picks the case, not the newest
    EXPECT_EQ(status.status, "reported");
    EXPECT_NE(status.reply.find("案件编号" + std::to_string(manhole.case_id)), std::string::npos);
    // Someone else cannot read it by its number.
    const DeskReply other = Say("c4", "案件编号" + std::to_string(manhole.case_id) + "的进度");
    EXPECT_EQ(other.case_id, 0);
    EXPECT_NE(other.reply.find("没有查到"), std::string::npos);
    // And the history is kept per citizen.
    auto history = desk_->History("c3", 50);
    ASSERT_TRUE(history.ok());
    EXPECT_EQ(history->size(), 6u);  // three messages, three answers
}

TEST_F(DeskTest, QuestionsAreAnsweredFromDocumentsOrHandedOver) {
    if (!HaveDict()) GTEST_SKIP() << kJiebaDict << " is missing";
    auto agents = DefaultAgents(incident::Taxonomy::Default());
    agents.front().knowledge = Docs();
    OpenDesk(agents);
    EXPECT_GT(desk_->knowledge_passages(), 0u);
    const DeskReply answer = Say("c5", "居住证去哪里办理？");
    EXPECT_EQ(answer.intent, "question");
    ASSERT_FALSE(answer.sources.empty());
    EXPECT_EQ(answer.sources[0]["heading"], "办理地点");
    EXPECT_EQ(answer.case_id, 0);
    const DeskReply unknown = Say("c5", "明天会下雨吗？");
    EXPECT_EQ(unknown.intent, "handover");
    EXPECT_TRUE(unknown.handover);
}

TEST_F(DeskTest, AReportNoCategoryFitsIsRecordedAndHandedToAPerson) {
    OpenDesk();
    const DeskReply r = Say("c8", "楼下那家店每天晚上都有奇怪的味道飘出来", true);
    EXPECT_EQ(r.intent, "handover");
    EXPECT_TRUE(r.handover);
    ASSERT_GT(r.case_id, 0);  // nothing the citizen said is lost
    auto c = engine_->GetCase(r.case_id);
    ASSERT_TRUE(c.ok() && c->has_value());
    EXPECT_EQ((*c)->category, incident::Taxonomy::Default().Fallback().code);
    EXPECT_NE(r.reply.find("人工"), std::string::npos);
}

TEST_F(DeskTest, ToolsAreCheckedAndAllowedPerAgent) {
    OpenDesk();
    CitizenMessage ctx;
    ctx.citizen_id = "c6";
    std::optional<Result<json>> got;
    auto call = [&](const std::string& agent, const std::string& tool, const json& args) {
        got.reset();
        std::mutex mu;
        std::condition_variable cv;
        desk_->CallTool(agent, tool, args, ctx, [&](Result<json> r) {
            std::lock_guard lock(mu);
            got = std::move(r);
            cv.notify_all();
        });
        std::unique_lock lock(mu);
        cv.wait_for(lock, std::chrono::seconds(10), [&] { return got.has_value(); });
        return std::move(*got);
    };
    auto bad = call("front-desk", "create_case", {{"text", "x"}, {"lat", "north"}});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().where, "arguments.lat");
    auto category = call("front-desk", "create_case", {{"text", "x"}, {"address", "a"}, {"category", "nope"}});
    ASSERT_FALSE(category.ok());
    EXPECT_EQ(category.error().where, "arguments.category");
    const std::string dept = incident::Taxonomy::Default().departments().front().code;
    auto refused = call("dept-" + dept, "search_knowledge", {{"query", "x"}});
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message.find("may not call"), std::string::npos);
    auto filed = call("front-desk", "create_case", {{"text", "井盖丢了"}, {"address", "龙城大道1号"}});
    ASSERT_TRUE(filed.ok()) << filed.error().ToString();
    EXPECT_GT(filed.value()["case_id"].get<int64_t>(), 0);
}

TEST_F(DeskTest, TrafficAndFacilitiesComeFromTheDistrict) {
    nlp::Gazetteer gz;
    for (double x = 0; x <= 400; x += 20) gz.AddStreetPoint("龙城大道", {x, 0});
    for (double y = -200; y <= 200; y += 20) gz.AddStreetPoint("黄阁路", {200, y});
    gz.AddJunction("龙城大道", "黄阁路", {200, 0});
    gz.AddLandmark("龙城小学", {60, 30});
    gz.AddLandmark("爱联小学", {900, 30});
    gz.AddLandmark("龙岗中心医院", {380, -40});
    std::vector<std::pair<double, double>> asked;
    DeskOptions o;
    o.conversations_path = (dir_ / "conversations.db").string();
    o.gazetteer = &gz;
    o.traffic = [&](double x, double y) {
        asked.emplace_back(x, y);
        return json{{"available", true},
                    {"level", "slow"},
                    {"roads", json::array({{{"name", "龙城大道"}, {"speed_kmh", 22}, {"limit_kmh", 40}}})}};
    };
    auto d = CitizenDesk::Open(std::move(o), *engine_, *intake_);
    ASSERT_TRUE(d.ok()) << d.error().ToString();
    desk_ = std::move(d).value();
    const DeskReply traffic = Say("c7", "龙城大道与黄阁路路口现在堵不堵？");
    EXPECT_EQ(traffic.intent, "traffic");
    EXPECT_NE(traffic.reply.find("缓行"), std::string::npos) << traffic.reply;
    EXPECT_NE(traffic.reply.find("22公里/小时"), std::string::npos) << traffic.reply;
    ASSERT_EQ(asked.size(), 1u);
    EXPECT_DOUBLE_EQ(asked[0].first, 200);  // the junction, not the street's middle
    std::optional<Result<json>> got;
    std::mutex mu;
    std::condition_variable cv;
    CitizenMessage ctx;
    ctx.citizen_id = "c7";
    desk_->CallTool(
        "front-desk", "nearest_facility", {{"kind", "小学"}, {"near", "龙城大道与黄阁路"}}, ctx, [&](Result<json> r) {
            std::lock_guard lock(mu);
            got = std::move(r);
            cv.notify_all();
        });
    {
        std::unique_lock lock(mu);
        cv.wait_for(lock, std::chrono::seconds(5), [&] { return got.has_value(); });
    }
    ASSERT_TRUE(got && got->ok());
    EXPECT_EQ(got->value()["name"], "龙城小学");
    EXPECT_EQ(got->value()["distance_m"], 143);  // from (200, 0) to (60, 30)
}

TEST_F(DeskTest, AgentsMustHaveAFrontDeskAndKnownDepartments) {
    DeskOptions o;
    o.conversations_path = (dir_ / "c.db").string();
    AgentSpec a;
    a.name = "only";
    a.department = incident::Taxonomy::Default().departments().front().code;
    o.agents = {a};
    EXPECT_FALSE(CitizenDesk::Open(o, *engine_, *intake_).ok());
    a.department = "NOPE";
    AgentSpec desk;
    desk.name = "desk";
    desk.department = "*";
    o.agents = {desk, a};
    auto r = CitizenDesk::Open(o, *engine_, *intake_);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("NOPE"), std::string::npos);
}

}  // namespace
}  // namespace citybrain::agents

namespace citybrain::agents {
namespace {

/// The brain's side of the residents' vaults: an agent with a department key asks a real vault (served over HTTP on
/// loopback) for a citizen's data, for that citizen's case only; the log keeps the receipt, never the data.
TEST_F(DeskTest, AnAgentGetsAResidentsDataWithinTheGrantAndTheLogKeepsOnlyTheReceipt) {
    const std::string vault_path = (dir_ / "home.vault").string();
    auto made = vault::Vault::Create(vault_path, "resident passphrase", *vault::KdfByName("interactive"), 0);
    ASSERT_TRUE(made.ok()) << made.error().ToString();
    vault::Vault& home = **made;
    ASSERT_TRUE(home.Put("residence_permit", {{"number", "RP-2024-88"}, {"expires", "2027-06-30"}}, 0).ok());
    ASSERT_TRUE(home.Put("identity", {{"name", "李四"}, {"id_number", "440307199001011234"}}, 0).ok());
    const auto keys_dir = dir_ / "keys";
    std::filesystem::create_directories(keys_dir);
    const vault::DepartmentKeys key = vault::NewDepartmentKeys("区公安分局");
    ASSERT_TRUE(vault::SaveDepartmentKeys(key, (keys_dir / "permits.key").string()).ok());
    vault::GrantSpec spec{
        key.keys.public_key, key.name, {"residence_permit"}, "居住证续签", core::NowMs() + 3'600'000, 5};
    auto grant = home.GrantConsent(spec, core::NowMs());
    ASSERT_TRUE(grant.ok());
    const std::string grant_id = vault::ParseGrantPayload(grant->payload)->id;

    server::VaultApi api(home, [] { return core::NowMs(); });
    server::ServerOptions so;
    so.port = 0;
    so.threads = 1;
    so.access_log = "";
    server::HttpServer http([&api](const server::ApiRequest& r,
                                   const std::function<void(server::ApiResponse)>& done) { api.Handle(r, done); },
                            so);
    auto port = http.Start();
    ASSERT_TRUE(port.ok());
    std::thread io([&http] { http.Run(); });

    AgentSpec desk;
    desk.name = "front-desk";
    desk.department = "*";
    desk.tools = {"create_case", "case_status", "handover_to_human"};
    AgentSpec permits = desk;
    permits.name = "permits";
    permits.tools.push_back("request_resident_data");
    {
        // Without its key the agent cannot start.
        DeskOptions o;
        o.agents = {desk, permits};
        o.conversations_path = (dir_ / "c0.db").string();
        auto d = CitizenDesk::Open(std::move(o), *engine_, *intake_);
        ASSERT_FALSE(d.ok());
        EXPECT_EQ(d.error().where, "--vault-keys");
    }
    DeskOptions o;
    o.agents = {desk, permits};
    o.conversations_path = (dir_ / "conversations.db").string();
    o.vault_keys_dir = keys_dir.string();
    auto d = CitizenDesk::Open(std::move(o), *engine_, *intake_);
    ASSERT_TRUE(d.ok()) << d.error().ToString();
    desk_ = std::move(d).value();
    const DeskReply report = Say("c9", "龙城大道有井盖丢了，很危险", true);
    ASSERT_GT(report.case_id, 0) << report.reply;

    auto call = [&](const std::string& citizen, json args) {
        std::optional<Result<json>> got;
        std::mutex mu;
        std::condition_variable cv;
        CitizenMessage ctx;
        ctx.citizen_id = citizen;
        desk_->CallTool("permits", "request_resident_data", args, ctx, [&](Result<json> r) {
            std::lock_guard lock(mu);
            got = std::move(r);
            cv.notify_all();
        });
        std::unique_lock lock(mu);
        cv.wait_for(lock, std::chrono::seconds(10), [&] { return got.has_value(); });
        return got.value_or(Result<json>(Error{ErrorCode::kInternal, "no answer", "test"}));
    };
    const std::string url = "http://127.0.0.1:" + std::to_string(*port);
    json args{{"vault_url", url},
              {"grant", grant_id},
              {"fields", "residence_permit.expires"},
              {"purpose", "居住证续签"},
              {"case_id", report.case_id}};
    auto got = call("c9", args);
    ASSERT_TRUE(got.ok()) << got.error().ToString();
    EXPECT_TRUE(got->at("released").get<bool>()) << got->dump();
    ASSERT_EQ(got->at("records").size(), 1u);
    EXPECT_EQ(got->at("records")[0]["fields"], json({{"expires", "2027-06-30"}}));

    // Beyond the grant: refused by the vault, with the field named.
    args["fields"] = "identity.id_number";
    auto refused = call("c9", args);
    ASSERT_TRUE(refused.ok()) << refused.error().ToString();
    EXPECT_FALSE(refused->at("released").get<bool>());
    EXPECT_EQ(refused->at("refused")["field"], "fields[0]");
    // Another citizen's case: never asked.
    args["fields"] = "residence_permit.expires";
    auto other = call("someone-else", args);
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.error().where, "arguments.case_id");

    // The tool-call log has the receipts, not the permit's expiry.
    std::string logged;
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open_v2((dir_ / "conversations.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(db, "SELECT tool, result FROM tool_calls", -1, &st, nullptr);
        while (sqlite3_step(st) == SQLITE_ROW) {
            logged += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
            logged += reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    EXPECT_NE(logged.find("request_resident_data"), std::string::npos);
    EXPECT_NE(logged.find("content_hash"), std::string::npos);
    EXPECT_EQ(logged.find("2027-06-30"), std::string::npos);
    http.Stop();
    io.join();
}

}  // namespace
}  // namespace citybrain::agents
