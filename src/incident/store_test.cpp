// SPDX-License-Identifier: Apache-2.0
// One conformance suite for every Store: SQLite always; PostgreSQL when CITYBRAIN_PG_URL names a server
// (tests/pg_test.sh starts a real one on loopback and runs this binary against it).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <pqxx/pqxx>

#include "incident/engine.hpp"

namespace citybrain::incident {
namespace {

constexpr TimeMs kT0 = 1'700'000'000'000;
constexpr TimeMs kMin = 60'000;

class StoreTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (GetParam() == "postgresql") {
            const char* url = std::getenv("CITYBRAIN_PG_URL");
            if (url == nullptr)
                GTEST_SKIP() << "CITYBRAIN_PG_URL is not set: tests/pg_test.sh runs this against a real server";
            url_ = url;
            pqxx::connection c(url_);
            pqxx::work tx(c);
            tx.exec("DROP TABLE IF EXISTS reports, cases, events, writer");
            tx.exec("DROP SCHEMA IF EXISTS zone_t1, zone_t2 CASCADE");
            tx.commit();
        } else {
            url_ =
                (std::filesystem::temp_directory_path() / ("cb_store_" + std::to_string(::getpid()) + ".db")).string();
            RemoveDb();
        }
    }
    void TearDown() override {
        if (GetParam() == "sqlite") RemoveDb();
    }
    void RemoveDb() {
        for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(url_ + s);
    }
    std::unique_ptr<Store> OpenStore() {
        auto s = GetParam() == "sqlite" ? OpenSqliteStore(url_) : OpenPostgresStore(url_);
        EXPECT_TRUE(s.ok()) << s.error().ToString();
        return std::move(s).value();
    }
    std::unique_ptr<IncidentEngine> OpenEngine() {
        auto e = IncidentEngine::Open(OpenStore(), Taxonomy::Default());
        EXPECT_TRUE(e.ok()) << e.error().ToString();
        return std::move(e).value();
    }
    static Report At(const std::string& category, double north_m, TimeMs t, std::string key = "") {
        Report r;
        r.category = category;
        r.lat = Taxonomy::Default().origin_lat() + north_m / 111'195.0;
        r.lon = Taxonomy::Default().origin_lon();
        r.time_ms = t;
        r.description = "报告 " + category;
        r.idempotency_key = std::move(key);
        return r;
    }
    /// A report row as the engine would write it, the least a store needs: report 1 of case 1.
    static Report Bare() {
        Report r;
        r.id = 1;
        r.category = "noise";
        r.address = "x";
        r.case_id = 1;
        return r;
    }
    std::string url_;
};

TEST_P(StoreTest, FailedCommitLeavesNothing) {
    auto store = OpenStore();
    WriteBatch batch;
    Report a = Bare();
    batch.reports = {a, a};  // the second violates the primary key after the first was written
    Event e;
    e.case_id = 1;
    e.actor = "t";
    batch.events = {e};
    EXPECT_FALSE(store->Commit(batch).ok());
    auto ids = store->MaxIds();
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(ids->max_report, 0);
    EXPECT_TRUE(store->CaseEvents(1)->empty());
    batch.reports = {a};
    EXPECT_TRUE(store->Commit(batch).ok());  // and the store still works
    EXPECT_EQ(store->MaxIds()->max_report, 1);
}

// A zone moves between nodes with a lease; the claim keeps a node that lost it without noticing from writing.
TEST_P(StoreTest, ALaterClaimFencesTheEarlierWriter) {
    auto first = OpenStore();
    auto second = OpenStore();
    WriteBatch one;
    one.reports = {Bare()};
    WriteBatch two = one;
    two.reports[0].id = 2;
    auto a = first->ClaimWriter("node-a", kT0);
    ASSERT_TRUE(a.ok()) << a.error().ToString();
    ASSERT_TRUE(first->Commit(one).ok());
    auto b = second->ClaimWriter("node-b", kT0 + 1);
    ASSERT_TRUE(b.ok()) << b.error().ToString();
    EXPECT_GT(*b, *a);
    const Status fenced = first->Commit(two);
    ASSERT_FALSE(fenced.ok());
    EXPECT_EQ(fenced.error().code, ErrorCode::kConflict);
    EXPECT_NE(fenced.error().message.find("node-b"), std::string::npos) << fenced.error().message;
    EXPECT_EQ(second->MaxIds()->max_report, 1);  // nothing of the fenced batch
    ASSERT_TRUE(second->Commit(two).ok());
    // The first claims again (its lease came back): now the second is the stale one.
    auto again = first->ClaimWriter("node-a", kT0 + 2);
    ASSERT_TRUE(again.ok());
    EXPECT_GT(*again, *b);
    two.reports[0].id = 3;
    EXPECT_FALSE(second->Commit(two).ok());
    EXPECT_TRUE(first->Commit(two).ok());
    EXPECT_EQ(first->MaxIds()->max_report, 3);
}

TEST_P(StoreTest, EngineRoundTripFiltersAndRestart) {
    CaseId vending = 0;
    {
        auto engine = OpenEngine();
        auto r = engine->Ingest({At("street_vending", 0, kT0, "a"),
                                 At("street_vending", 20, kT0 + kMin, "b"),
                                 At("noise", 0, kT0 + 2 * kMin),
                                 At("waterlogging", 5000, kT0 + 3 * kMin)},
                                kT0 + 3 * kMin);
        for (auto& x : r) ASSERT_TRUE(x.ok()) << x.error().ToString();
        EXPECT_TRUE(r[1]->duplicate);
        vending = r[0]->case_id;
        for (Action a : {Action::kFile, Action::kDispatch, Action::kStart, Action::kFeedback, Action::kClose}) {
            ASSERT_TRUE(engine->Apply(vending, a, "op", "", kT0 + 60 * kMin).ok());
        }
        EXPECT_EQ(*engine->Tick(kT0 + 200 * kMin), 2);  // noise and waterlogging were never filed
    }
    auto engine = OpenEngine();
    EXPECT_EQ(engine->open_cases(), 2u);
    auto store = OpenStore();  // a second connection: the store read on its own, beside the engine
    Store& s = *store;
    auto c = s.GetCase(vending);
    ASSERT_TRUE(c.ok() && c->has_value());
    EXPECT_EQ((*c)->status, CaseStatus::kClosed);
    EXPECT_EQ((*c)->report_count, 2);
    EXPECT_EQ((*c)->closed_ms, kT0 + 60 * kMin);
    ASSERT_TRUE((*c)->lat.has_value());
    EXPECT_NEAR(*(*c)->lat, Taxonomy::Default().origin_lat(), 1e-9);
    EXPECT_EQ((*c)->description, "报告 street_vending");

    CaseFilter f;
    f.open = true;
    EXPECT_EQ(s.ListCases(f, kT0)->size(), 2u);
    f = {};
    f.department = "SWJ";
    EXPECT_EQ(s.ListCases(f, kT0)->size(), 1u);
    f = {};
    f.overdue_only = true;
    EXPECT_EQ(s.ListCases(f, kT0 + 200 * kMin)->size(), 2u);
    f = {};
    f.since = kT0 + 2 * kMin;
    EXPECT_EQ(s.ListCases(f, kT0)->size(), 2u);
    f = {};
    f.status = CaseStatus::kClosed;
    EXPECT_EQ(s.ListCases(f, kT0)->front().id, vending);

    RequestFilter rf;
    rf.open = false;
    auto closed = s.ListRequests(rf);
    ASSERT_TRUE(closed.ok());
    ASSERT_EQ(closed->size(), 2u);  // both reports of the closed case, newest first
    EXPECT_EQ(closed->front().parent_report, closed->back().report.id);
    rf = {};
    rf.service_codes = {"noise", "waterlogging"};
    EXPECT_EQ(s.ListRequests(rf)->size(), 2u);
    rf = {};
    rf.ids = {1, 3};
    EXPECT_EQ(s.ListRequests(rf)->size(), 2u);
    rf = {};
    rf.idempotency_keys = {"b", "nobody"};  // how a zone's token finds its report
    auto by_key = s.ListRequests(rf);
    ASSERT_TRUE(by_key.ok());
    ASSERT_EQ(by_key->size(), 1u);
    EXPECT_EQ(by_key->front().report.idempotency_key, "b");
    EXPECT_EQ(by_key->front().report.case_id, vending);

    auto stats = s.ComputeStats(kT0 + 200 * kMin);
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->reports, 4);
    EXPECT_EQ(stats->duplicates, 1);
    EXPECT_EQ(stats->cases, 3);
    EXPECT_EQ(stats->open, 2);
    EXPECT_EQ(stats->overdue, 2);
    EXPECT_EQ(stats->escalated, 2);
    ASSERT_TRUE(stats->median_close_s.has_value());
    EXPECT_DOUBLE_EQ(*stats->median_close_s, 3600.0);
    EXPECT_EQ(stats->open_per_department.at("SWJ"), 1);

    // The idempotency key of a stored report is still known after the restart.
    auto again = engine->Ingest({At("street_vending", 0, kT0 + 5 * kMin, "a")}, kT0 + 5 * kMin);
    EXPECT_TRUE(again[0]->retried);
    EXPECT_EQ(s.ComputeStats(kT0)->reports, 4);
    auto events = s.CaseEvents(vending);
    ASSERT_EQ(events->size(), 5u);
    EXPECT_EQ(events->back().to, CaseStatus::kClosed);
}

// Issue 14: an operator's confirmed category replaces the intake's, in both stores, across a restart.
TEST_P(StoreTest, ConfirmedCategoryIsWhatTheStoreKeeps) {
    CaseId id = 0;
    {
        auto engine = OpenEngine();
        id = engine->Ingest({At("other", 0, kT0)}, kT0)[0]->case_id;
        ASSERT_TRUE(engine->Apply(id, Action::kFile, "op", "", kT0 + kMin, 0, "", "street_light").ok());
    }
    auto c = OpenStore()->GetCase(id);
    ASSERT_TRUE(c.ok() && c->has_value());
    EXPECT_EQ((*c)->category, "street_light");
    EXPECT_EQ((*c)->department, Taxonomy::Default().Find("street_light")->department);
    EXPECT_EQ((*c)->status, CaseStatus::kFiled);
}

// Issue 13, item 10: PostgreSQL cannot keep a NUL in text, so no store takes one: the same refusal, by name,
// and nothing of the batch written. Text the stores can keep comes back byte for byte.
TEST_P(StoreTest, NulIsRefusedAlikeAndOtherTextKeptExactly) {
    auto store = OpenStore();
    WriteBatch batch;
    Report a = Bare();
    a.description = std::string("before\0after", 12);
    batch.reports = {a};
    Status s = store->Commit(batch);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(s.error().where, "description");
    EXPECT_EQ(store->MaxIds()->max_report, 0);
    Event e;
    e.case_id = 1;
    e.actor = "op";
    e.note = std::string("n\0", 2);
    batch = {};
    batch.events = {e};
    ASSERT_FALSE(store->Commit(batch).ok());
    EXPECT_TRUE(store->CaseEvents(1)->empty());

    a.description = "控制\x01字符 \xef\xbf\xbf tab\t";
    a.address_id = "BLDG-0042";
    a.via = "app-a";
    e.note = "ok";
    e.via = "ops";
    batch = {};
    batch.reports = {a};
    batch.events = {e};
    ASSERT_TRUE(store->Commit(batch).ok());
    auto back = store->CaseReports(1);
    ASSERT_TRUE(back.ok());
    ASSERT_EQ(back->size(), 1u);
    EXPECT_EQ(back->front().description, a.description);
    EXPECT_EQ(back->front().address_id, "BLDG-0042");
    EXPECT_EQ(back->front().via, "app-a");
    EXPECT_EQ(store->CaseEvents(1)->front().via, "ops");
}

INSTANTIATE_TEST_SUITE_P(Stores,
                         StoreTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// One database, many stores: each zone of a city in its own schema.
TEST(PostgresStore, SchemasKeepStoresApart) {
    const char* url = std::getenv("CITYBRAIN_PG_URL");
    if (url == nullptr) GTEST_SKIP() << "CITYBRAIN_PG_URL is not set: tests/pg_test.sh runs this against a real server";
    {
        pqxx::connection c(url);
        pqxx::work tx(c);
        tx.exec("DROP SCHEMA IF EXISTS zone_t1, zone_t2 CASCADE");
        tx.commit();
    }
    auto one = OpenPostgresStore(url, "zone_t1");
    auto two = OpenPostgresStore(url, "zone_t2");
    ASSERT_TRUE(one.ok() && two.ok());
    WriteBatch batch;
    batch.reports.emplace_back();
    batch.reports[0].id = 5;
    batch.reports[0].category = "noise";
    batch.reports[0].case_id = 1;
    ASSERT_TRUE((*one)->Commit(batch).ok());
    EXPECT_EQ((*one)->MaxIds()->max_report, 5);
    EXPECT_EQ((*two)->MaxIds()->max_report, 0);
    // A claim in one schema fences nothing in the other.
    ASSERT_TRUE((*one)->ClaimWriter("node-a", kT0).ok());
    auto other = OpenPostgresStore(url, "zone_t2");
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE((*other)->ClaimWriter("node-b", kT0).ok());
    batch.reports[0].id = 6;
    EXPECT_TRUE((*one)->Commit(batch).ok());
    auto bad = OpenPostgresStore(url, "zone-1; DROP TABLE x");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().where, "schema");
}

// A file written before address_id and via existed opens, gains the columns, and keeps its rows.
TEST(SqliteStore, OlderFileGainsTheNewColumns) {
    const std::string path =
        (std::filesystem::temp_directory_path() / ("cb_old_" + std::to_string(::getpid()) + ".db")).string();
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
        const char* old = R"sql(
CREATE TABLE reports (
  id INTEGER PRIMARY KEY, idem_key TEXT, source TEXT NOT NULL, time_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL,
  lat REAL, lon REAL, address TEXT NOT NULL, category TEXT NOT NULL, description TEXT NOT NULL, media_url TEXT NOT NULL,
  confidence REAL NOT NULL, external_id TEXT NOT NULL, case_id INTEGER NOT NULL, duplicate INTEGER NOT NULL);
CREATE TABLE events (
  id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, time_ms INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  from_status TEXT NOT NULL, to_status TEXT NOT NULL, note TEXT NOT NULL);
INSERT INTO reports VALUES(7, 'k', 'citizen', 1, 1, NULL, NULL, '吉祥路', 'noise', 'old', '', 1.0, '', 3, 0);
)sql";
        ASSERT_EQ(sqlite3_exec(db, old, nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(db);
    }
    auto store = OpenSqliteStore(path);
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    auto back = (*store)->CaseReports(3);
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    ASSERT_EQ(back->size(), 1u);
    EXPECT_EQ(back->front().description, "old");
    EXPECT_EQ(back->front().address_id, "");
    store->reset();
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
}

}  // namespace
}  // namespace citybrain::incident
