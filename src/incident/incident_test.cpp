// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <filesystem>

#include "incident/engine.hpp"
#include "incident/forwarding_store.hpp"

namespace citybrain::incident {
namespace {

constexpr TimeMs kT0 = 1'700'000'000'000;  // 2023-11-14
constexpr TimeMs kMin = 60'000;

Result<std::vector<Report>> ReportsOf(IncidentEngine& engine, CaseId id) {
    CB_TRY_ASSIGN(auto detail, engine.GetCaseDetail(id));
    if (!detail) return NotFound("case", "no case " + std::to_string(id));
    return detail->reports;
}

Result<std::vector<Event>> EventsOf(IncidentEngine& engine, CaseId id) {
    CB_TRY_ASSIGN(auto detail, engine.GetCaseDetail(id));
    if (!detail) return NotFound("case", "no case " + std::to_string(id));
    return detail->events;
}

class TempDb {
public:
    TempDb() {
        path_ = (std::filesystem::temp_directory_path() /
                 ("cb_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++) + ".db"))
                    .string();
        Remove();
    }
    ~TempDb() { Remove(); }
    const std::string& path() const { return path_; }

private:
    void Remove() {
        for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
    }
    static inline int counter_ = 0;
    std::string path_;
};

std::unique_ptr<IncidentEngine> OpenEngine(const std::string& path) {
    auto store = OpenSqliteStore(path);
    EXPECT_TRUE(store.ok()) << store.error().ToString();
    auto engine = IncidentEngine::Open(std::move(store).value(), Taxonomy::Default());
    EXPECT_TRUE(engine.ok()) << engine.error().ToString();
    return std::move(engine).value();
}

/// A report `east_m` metres east of the taxonomy origin.
Report At(const std::string& category, double east_m, TimeMs t, std::string key = "") {
    Report r;
    r.category = category;
    r.lat = Taxonomy::Default().origin_lat();
    r.lon = Taxonomy::Default().origin_lon() + east_m / (111'195.0 * std::cos(r.lat.value() * M_PI / 180));
    r.time_ms = t;
    r.description = "test";
    r.idempotency_key = std::move(key);
    return r;
}

TEST(Taxonomy, EmbeddedDefaultLoadsAndRoutes) {
    const Taxonomy& t = Taxonomy::Default();
    ASSERT_NE(t.Find("street_vending"), nullptr);
    EXPECT_EQ(t.Find("street_vending")->department, "CGJ");
    EXPECT_EQ(t.Find("waterlogging")->priority, 1);
    EXPECT_EQ(t.FromAlias("noise - residential").code, "noise");
    EXPECT_EQ(t.FromAlias("Something Unheard Of").code, "other");
    for (const auto& c : t.categories()) EXPECT_NE(t.FindDepartment(c.department), nullptr) << c.code;
}

TEST(Taxonomy, BadFileNamesThePath) {
    auto r = Taxonomy::Parse(R"({"jurisdiction_id":"x","origin":{"lat":1,"lon":2},"grid_cell_m":500,
        "fallback_category":"a","departments":[{"code":"D","name":"d"}],
        "categories":[{"code":"a","name":"A","department":"NOPE","priority":2,"dedup":{"radius_m":1,"window_min":1},
        "limits_min":{"file":1,"dispatch":1,"handle":1,"verify":1}}]})",
                             "t.json");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().ToString(), "t.json: categories[0].department: unknown department 'NOPE'");
    auto r2 = Taxonomy::Parse(R"({"jurisdiction_id":"x","origin":{"lat":100,"lon":2}})", "t.json");
    ASSERT_FALSE(r2.ok());
    EXPECT_EQ(r2.error().ToString(), "t.json: origin.lat: 100 is outside [-90, 90]");
}

TEST(Lifecycle, SevenStepsInOrderAndIllegalStepsRefused) {
    EXPECT_EQ(*NextStatus(CaseStatus::kReported, Action::kFile), CaseStatus::kFiled);
    EXPECT_EQ(*NextStatus(CaseStatus::kFiled, Action::kDispatch), CaseStatus::kDispatched);
    EXPECT_EQ(*NextStatus(CaseStatus::kDispatched, Action::kStart), CaseStatus::kHandling);
    EXPECT_EQ(*NextStatus(CaseStatus::kHandling, Action::kFeedback), CaseStatus::kHandled);
    EXPECT_EQ(*NextStatus(CaseStatus::kHandled, Action::kClose), CaseStatus::kClosed);
    EXPECT_EQ(*NextStatus(CaseStatus::kClosed, Action::kEvaluate), CaseStatus::kEvaluated);
    auto bad = NextStatus(CaseStatus::kReported, Action::kClose);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, ErrorCode::kConflict);
    EXPECT_EQ(bad.error().message, "cannot close a case that is reported; allowed: file, reject, merge");
    EXPECT_FALSE(NextStatus(CaseStatus::kEvaluated, Action::kReopen).ok());
}

TEST(Validate, NamesTheField) {
    const Taxonomy& t = Taxonomy::Default();
    Report r;
    EXPECT_EQ(ValidateReport(r, t).error().ToString(),
              "lat: a location is required: lat and long, address_string or address_id");
    r.address = "龙岗大道 1 号";
    EXPECT_TRUE(ValidateReport(r, t).ok());
    r.category = "nope";
    EXPECT_EQ(ValidateReport(r, t).error().where, "service_code");
    r.category = "noise";
    r.description = std::string(4000, 'a');
    EXPECT_TRUE(ValidateReport(r, t).ok());
    r.description = std::string(4001, 'a');
    EXPECT_EQ(ValidateReport(r, t).error().where, "description");
    std::string chinese;
    for (int i = 0; i < 4000; ++i) chinese += "积";  // 4,000 characters, 12,000 bytes: allowed
    r.description = chinese;
    EXPECT_TRUE(ValidateReport(r, t).ok());
    r.description = "bad \xC3\x28 utf8";
    EXPECT_EQ(ValidateReport(r, t).error().ToString(), "description: is not valid UTF-8");
    r.description.clear();
    r.lat = 91;
    r.lon = 0;
    EXPECT_EQ(ValidateReport(r, t).error().where, "lat");
}

TEST(Engine, DuplicatesJoinWithinRadiusAndWindowOnly) {
    TempDb db;
    auto engine = OpenEngine(db.path());
    // street_vending: 50 m, 240 min.
    auto r = engine->Ingest({At("street_vending", 0, kT0),
                             At("street_vending", 30, kT0 + 10 * kMin),
                             At("street_vending", 120, kT0 + 11 * kMin),
                             At("noise", 10, kT0 + 12 * kMin),
                             At("street_vending", 20, kT0 + 300 * kMin)},
                            kT0 + 301 * kMin);
    ASSERT_EQ(r.size(), 5u);
    for (auto& x : r) ASSERT_TRUE(x.ok()) << x.error().ToString();
    EXPECT_FALSE(r[0]->duplicate);
    EXPECT_TRUE(r[1]->duplicate);  // 30 m, 10 min later
    EXPECT_EQ(r[1]->case_id, r[0]->case_id);
    EXPECT_FALSE(r[2]->duplicate);  // 120 m away
    EXPECT_FALSE(r[3]->duplicate);  // other category
    // 300 min after the first report but only 290 after the last one joined: the window runs from the latest.
    EXPECT_FALSE(r[4]->duplicate);
    auto reports = ReportsOf(*engine, r[0]->case_id);
    ASSERT_TRUE(reports.ok());
    EXPECT_EQ(reports->size(), 2u);
    auto c = engine->GetCase(r[0]->case_id);
    ASSERT_TRUE(c.ok() && c->has_value());
    EXPECT_EQ((*c)->report_count, 2);
    EXPECT_EQ((*c)->department, "CGJ");
}

TEST(Taxonomy, KeywordsRouteTheMoreSpecificCategory) {
    const Taxonomy& t = Taxonomy::Default();
    const Category* c = t.MatchKeywords("吉祥路口有流动商贩占道摆摊");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->code, "street_vending");
    EXPECT_EQ(c->department, "CGJ");
    // "占道停车" holds "占道": the longer keyword wins.
    c = t.MatchKeywords("小区门口长期占道停车");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->code, "illegal_parking");
    EXPECT_EQ(t.MatchKeywords("今天天气不错"), nullptr);
}

// Issue 16: a classifier names a message board's domain; the domain's members' keywords pick a finer category.
TEST(Taxonomy, DomainsRouteToAMemberOrTheDomainsOwnCategory) {
    const Taxonomy& t = Taxonomy::Default();
    ASSERT_EQ(t.domains().size(), 7u);
    for (const Domain& d : t.domains())
        EXPECT_EQ(t.categories()[d.category].domains, std::vector<std::string>{d.label});
    const Category* c = t.RouteInDomain("城乡建设", "小区门口井盖丢了");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->code, "missing_manhole");  // a member of 城乡建设 whose keyword occurs
    c = t.RouteInDomain("城乡建设", "请求解决危房重建问题");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->code, "urban_construction");
    c = t.RouteInDomain("劳动和社会保障", "公司三个月没发工资");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->code, "labour_social_security");
    EXPECT_EQ(c->department, "RSJ");
    // A keyword of another domain's category does not pull the message out of the domain the model named …
    c = t.RouteInDomain("交通运输", "公交车站旁边的路灯不亮");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->code, "transport_matter");
    // … but a category of two domains is reached from either.
    c = t.RouteInDomain("交通运输", "路面破损有个大坑洼");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->code, "road_damage");
    EXPECT_EQ(t.RouteInDomain("不存在", "井盖"), nullptr);
}

TEST(Taxonomy, ADomainMustBeDeclared) {
    auto r = Taxonomy::Parse(R"({"jurisdiction_id":"x","origin":{"lat":1,"lon":2},"grid_cell_m":500,
        "fallback_category":"a","departments":[{"code":"D","name":"d"}],
        "categories":[{"code":"a","name":"A","domains":["交通"],"department":"D","priority":2,
        "dedup":{"radius_m":1,"window_min":1},"limits_min":{"file":1,"dispatch":1,"handle":1,"verify":1}}]})",
                             "t.json");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().ToString(), "t.json: categories[0].domains[0]: '交通' is not one of the file's domains");
    auto r2 = Taxonomy::Parse(R"({"jurisdiction_id":"x","origin":{"lat":1,"lon":2},"grid_cell_m":500,
        "fallback_category":"a","departments":[{"code":"D","name":"d"}],
        "categories":[{"code":"a","name":"A","department":"D","priority":2,
        "dedup":{"radius_m":1,"window_min":1},"limits_min":{"file":1,"dispatch":1,"handle":1,"verify":1}}],
        "domains":[{"label":"交通","category":"b"}]})",
                              "t.json");
    ASSERT_FALSE(r2.ok());
    EXPECT_EQ(r2.error().ToString(), "t.json: domains[0].category: unknown category 'b'");
}

// Issue 14: the human queue shows an operator the keyword router's ranking, not only its choice.
TEST(Taxonomy, RankKeywordsGivesSharesBestFirst) {
    const Taxonomy& t = Taxonomy::Default();
    // "占道" (vending, 6 bytes) and "占道停车" (parking, 12 bytes): parking first with two thirds of the evidence.
    auto g = t.RankKeywords("小区门口长期占道停车", 3);
    ASSERT_EQ(g.size(), 2u);
    EXPECT_EQ(g[0].category->code, "illegal_parking");
    EXPECT_EQ(g[1].category->code, "street_vending");
    EXPECT_NEAR(g[0].confidence, 2.0 / 3, 1e-9);
    EXPECT_NEAR(g[0].confidence + g[1].confidence, 1.0, 1e-9);
    EXPECT_EQ(t.RankKeywords("小区门口长期占道停车", 1).size(), 1u);
    EXPECT_TRUE(t.RankKeywords("今天天气不错", 3).empty());
}

TEST(Engine, FilingWithAConfirmedCategoryMovesTheCaseToIt) {
    TempDb db;
    auto engine = OpenEngine(db.path());
    Report message = At("other", 0, kT0);
    message.description = "小区门口长期占道停车";
    auto r = engine->Ingest({message}, kT0);
    ASSERT_TRUE(r[0].ok());
    const CaseId id = r[0]->case_id;
    auto guesses = engine->Guesses(message.description);
    ASSERT_EQ(guesses.size(), 2u);
    EXPECT_EQ(guesses[0].category, "illegal_parking");
    // Only filing may choose a category, and only a known one.
    EXPECT_EQ(engine->Apply(id, Action::kReject, "op", "", kT0 + kMin, 0, "", "street_vending").error().where,
              "category");
    EXPECT_EQ(engine->Apply(id, Action::kFile, "op", "", kT0 + kMin, 0, "", "no_such_code").error().where, "category");
    auto filed = engine->Apply(id, Action::kFile, "op", "checked the photo", kT0 + kMin, 0, "", "street_vending");
    ASSERT_TRUE(filed.ok()) << filed.error().ToString();
    EXPECT_EQ(filed->status, CaseStatus::kFiled);
    EXPECT_EQ(filed->category, "street_vending");
    EXPECT_EQ(filed->department, Taxonomy::Default().Find("street_vending")->department);
    EXPECT_EQ(filed->priority, Taxonomy::Default().Find("street_vending")->priority);
    auto detail = engine->GetCaseDetail(id);
    ASSERT_TRUE(detail.ok() && detail->has_value());
    ASSERT_EQ((*detail)->events.size(), 1u);
    EXPECT_EQ((*detail)->events[0].note, "checked the photo; category other -> street_vending");
    // Re-indexed: a vending report 10 m away joins it; it survives a restart too.
    auto joined = engine->Ingest({At("street_vending", 10, kT0 + 2 * kMin)}, kT0 + 2 * kMin);
    ASSERT_TRUE(joined[0].ok());
    EXPECT_TRUE(joined[0]->duplicate);
    EXPECT_EQ(joined[0]->case_id, id);
    engine.reset();
    engine = OpenEngine(db.path());
    EXPECT_EQ((*engine->GetCase(id))->category, "street_vending");
}

TEST(Engine, ReportWithoutCategoryIsClassifiedOnIntake) {
    TempDb db;
    auto store = OpenSqliteStore(db.path());
    ASSERT_TRUE(store.ok());
    EngineOptions options;
    int asked = 0;
    // A classifier that knows only one phrase; for the rest it is unsure and the keywords decide.
    options.classify = [&asked](const Report& r) -> std::string {
        ++asked;
        return r.description.find("好吵") != std::string::npos ? "noise" : "";
    };
    auto engine = IncidentEngine::Open(std::move(store).value(), Taxonomy::Default(), options);
    ASSERT_TRUE(engine.ok());
    Report by_model = At("", 0, kT0);
    by_model.description = "楼下好吵，睡不着";
    Report by_keyword = At("", 500, kT0);
    by_keyword.description = "清林路积水很深，车辆无法通行";
    Report unknown = At("", 1000, kT0);
    unknown.description = "想咨询一下办事流程";
    Report given = At("road_damage", 1500, kT0);
    given.description = "积水";  // a category given is kept, whatever the text says
    auto r = (*engine)->Ingest({by_model, by_keyword, unknown, given}, kT0);
    ASSERT_EQ(r.size(), 4u);
    for (auto& x : r) ASSERT_TRUE(x.ok()) << x.error().ToString();
    EXPECT_EQ(r[0]->category, "noise");
    EXPECT_TRUE(r[0]->classified);
    EXPECT_EQ(r[1]->category, "waterlogging");
    EXPECT_EQ(r[1]->department, "SWJ");
    EXPECT_TRUE(r[1]->classified);
    EXPECT_EQ(r[2]->category, "other");
    EXPECT_FALSE(r[2]->classified);
    EXPECT_EQ(r[3]->category, "road_damage");
    EXPECT_FALSE(r[3]->classified);
    EXPECT_EQ(asked, 3);
    auto c = (*engine)->GetCase(r[1]->case_id);
    ASSERT_TRUE(c.ok() && c->has_value());
    EXPECT_EQ((*c)->category, "waterlogging");
    EXPECT_EQ((*c)->priority, 1);
}

TEST(Engine, ClosedCasesNoLongerAbsorbReports) {
    TempDb db;
    auto engine = OpenEngine(db.path());
    auto first = engine->Ingest({At("waterlogging", 0, kT0)}, kT0);
    const CaseId id = first[0]->case_id;
    for (Action a : {Action::kFile, Action::kDispatch, Action::kStart, Action::kFeedback, Action::kClose}) {
        ASSERT_TRUE(engine->Apply(id, a, "op", "", kT0 + kMin).ok()) << ActionName(a);
    }
    auto again = engine->Ingest({At("waterlogging", 5, kT0 + 2 * kMin)}, kT0 + 2 * kMin);
    ASSERT_TRUE(again[0].ok());
    EXPECT_FALSE(again[0]->duplicate);
    EXPECT_NE(again[0]->case_id, id);
    auto events = EventsOf(*engine, id);
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(events->size(), 5u);  // 5 steps, each with actor and time
    EXPECT_EQ((*events)[4].action, Action::kClose);
    EXPECT_EQ((*events)[4].actor, "op");
    EXPECT_EQ((*events)[4].from, CaseStatus::kHandled);
    auto illegal = engine->Apply(id, Action::kDispatch, "op", "", kT0 + 3 * kMin);
    ASSERT_FALSE(illegal.ok());
    EXPECT_EQ(illegal.error().code, ErrorCode::kConflict);
    EXPECT_EQ(engine->Apply(999, Action::kFile, "op", "", kT0).error().code, ErrorCode::kNotFound);
}

TEST(Engine, IdempotencyKeyNeverCreatesASecondReport) {
    TempDb db;
    CaseId case_id = 0;
    {
        auto engine = OpenEngine(db.path());
        auto r = engine->Ingest({At("noise", 0, kT0, "k-1"), At("noise", 500, kT0, "k-1")}, kT0);
        ASSERT_TRUE(r[0].ok() && r[1].ok());
        EXPECT_TRUE(r[1]->retried);
        EXPECT_EQ(r[1]->report_id, r[0]->report_id);
        case_id = r[0]->case_id;
    }
    auto engine = OpenEngine(db.path());  // the key survives a restart
    auto r = engine->Ingest({At("noise", 0, kT0 + kMin, "k-1")}, kT0 + kMin);
    ASSERT_TRUE(r[0].ok());
    EXPECT_TRUE(r[0]->retried);
    EXPECT_EQ(r[0]->case_id, case_id);
    auto stats = engine->ComputeStats(kT0);
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->reports, 1);
}

TEST(Engine, DeadlinePassedEscalatesOnceWithAnEvent) {
    TempDb db;
    auto engine = OpenEngine(db.path());
    auto r = engine->Ingest({At("waterlogging", 0, kT0)}, kT0);    // file limit 10 min, priority 1
    auto s = engine->Ingest({At("street_vending", 0, kT0)}, kT0);  // file limit 30 min, priority 2
    const CaseId vending = s[0]->case_id;
    EXPECT_EQ(*engine->Tick(kT0 + 9 * kMin), 0);
    EXPECT_EQ(*engine->Tick(kT0 + 11 * kMin), 1);
    EXPECT_EQ(*engine->Tick(kT0 + 12 * kMin), 0);                                        // once per step
    ASSERT_TRUE(engine->Apply(vending, Action::kFile, "op", "", kT0 + 20 * kMin).ok());  // in time: new step clock
    EXPECT_EQ(*engine->Tick(kT0 + 31 * kMin), 0);
    EXPECT_EQ(*engine->Tick(kT0 + 51 * kMin), 1);  // dispatch limit 30 min from filing
    auto c = engine->GetCase(vending);
    EXPECT_TRUE((*c)->overdue);
    EXPECT_EQ((*c)->priority, 1);  // raised from 2
    auto events = EventsOf(*engine, r[0]->case_id);
    ASSERT_EQ(events->size(), 1u);
    EXPECT_EQ(events->back().action, Action::kEscalate);
    auto stats = engine->ComputeStats(kT0 + 60 * kMin);
    EXPECT_EQ(stats->overdue, 2);
    EXPECT_EQ(stats->escalated, 2);
}

TEST(Engine, StateSurvivesRestart) {
    TempDb db;
    CaseId id = 0;
    {
        auto engine = OpenEngine(db.path());
        id = engine->Ingest({At("exposed_rubbish", 0, kT0)}, kT0)[0]->case_id;
    }
    auto engine = OpenEngine(db.path());
    EXPECT_EQ(engine->open_cases(), 1u);
    auto r = engine->Ingest({At("exposed_rubbish", 10, kT0 + kMin)}, kT0 + kMin);
    EXPECT_TRUE(r[0]->duplicate);  // the de-duplication index was rebuilt
    EXPECT_EQ(r[0]->case_id, id);
    EXPECT_GT(r[0]->report_id, 1);
}

TEST(Engine, ManualMergeMovesReportsAndClosesTheDuplicate) {
    TempDb db;
    auto engine = OpenEngine(db.path());
    auto r = engine->Ingest({At("noise", 0, kT0), At("noise", 400, kT0)}, kT0);
    auto merged = engine->Apply(r[1]->case_id, Action::kMerge, "op", "same party", kT0 + kMin, r[0]->case_id);
    ASSERT_TRUE(merged.ok()) << merged.error().ToString();
    EXPECT_EQ(merged->status, CaseStatus::kMerged);
    EXPECT_EQ(merged->merged_into, r[0]->case_id);
    EXPECT_EQ((*engine->GetCase(r[0]->case_id))->report_count, 2);
    EXPECT_EQ(engine->open_cases(), 1u);
}

TEST(Engine, AddressOnlyReportsDeduplicateByAddress) {
    TempDb db;
    auto engine = OpenEngine(db.path());
    Report a;
    a.category = "illegal_parking";
    a.address = "龙岗大道  8288号";
    a.time_ms = kT0;
    Report b = a;
    b.address = "龙岗大道 8288号";
    b.time_ms = kT0 + kMin;
    auto r = engine->Ingest({a, b}, kT0 + kMin);
    ASSERT_TRUE(r[0].ok() && r[1].ok());
    EXPECT_TRUE(r[1]->duplicate);
}

/// A real SQLite store whose commits can be made to fail, as a full disk would.
class FlakyStore final : public ForwardingStore {
public:
    FlakyStore(std::unique_ptr<Store> inner, bool* fail) : ForwardingStore(std::move(inner)), fail_(fail) {}
    const char* Kind() const override { return "flaky"; }
    Status Commit(const WriteBatch& b) override {
        if (*fail_) return Error{ErrorCode::kUnavailable, "disk full", "store"};
        return ForwardingStore::Commit(b);
    }

private:
    bool* fail_;
};

TEST(Engine, FailedCommitAcknowledgesNothingAndForgetsTheBatch) {
    TempDb db;
    bool fail = false;
    auto engine = std::move(IncidentEngine::Open(
                                std::make_unique<FlakyStore>(std::move(OpenSqliteStore(db.path())).value(), &fail),
                                Taxonomy::Default()))
                      .value();
    auto kept = engine->Ingest({At("noise", 0, kT0, "old")}, kT0);
    ASSERT_TRUE(kept[0].ok());
    fail = true;
    // A new key, the same new key again in the batch, and a retry of a committed one.
    auto r =
        engine->Ingest({At("noise", 1000, kT0, "new"), At("noise", 1000, kT0, "new"), At("noise", 0, kT0, "old")}, kT0);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_FALSE(r[0].ok());
    EXPECT_FALSE(r[1].ok());  // its "original" was never committed
    ASSERT_TRUE(r[2].ok());   // the original was committed before
    EXPECT_TRUE(r[2]->retried);
    EXPECT_EQ(engine->open_cases(), 1u);  // the failed batch's case is gone from memory too
    fail = false;
    auto again = engine->Ingest({At("noise", 1000, kT0 + kMin, "new")}, kT0 + kMin);
    ASSERT_TRUE(again[0].ok());
    EXPECT_FALSE(again[0]->retried);  // the key was forgotten with its batch
    EXPECT_EQ(engine->ComputeStats(kT0)->reports, 2);
}

}  // namespace
}  // namespace citybrain::incident
