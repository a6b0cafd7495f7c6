// SPDX-License-Identifier: Apache-2.0
#include "incident/replay.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <numeric>

#include "incident/csv.hpp"
#include "incident/forwarding_store.hpp"

namespace citybrain::incident {
namespace {

TEST(Csv, QuotesNewlinesAndErrors) {
    CsvReader r("a,\"b,\"\"c\"\"\",d\r\n\"multi\nline\",2\nlast", "t.csv");
    std::vector<std::string> f;
    Status s;
    ASSERT_TRUE(r.Next(f, s));
    EXPECT_EQ(f, (std::vector<std::string>{"a", "b,\"c\"", "d"}));
    ASSERT_TRUE(r.Next(f, s));
    EXPECT_EQ(f, (std::vector<std::string>{"multi\nline", "2"}));
    ASSERT_TRUE(r.Next(f, s));
    EXPECT_EQ(r.line(), 4u);
    EXPECT_FALSE(r.Next(f, s));
    EXPECT_TRUE(s.ok());
    CsvReader bad("x\n\"open", "t.csv");
    ASSERT_TRUE(bad.Next(f, s));
    EXPECT_FALSE(bad.Next(f, s));
    EXPECT_EQ(s.error().ToString(), "t.csv:2: unterminated quoted field");
}

class ReplayTest : public ::testing::Test {
protected:
    void TearDown() override {
        for (const auto& p : files_) {
            for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(p + s);
        }
    }
    std::string Temp(const std::string& name) {
        files_.push_back((std::filesystem::temp_directory_path() /
                          (name + std::to_string(::getpid()) + "_" + std::to_string(files_.size())))
                             .string());
        return files_.back();
    }
    Result<ReplayResult> Replay(const std::string& csv, ReplayOptions replay = {}) {
        auto origin = CsvOrigin(csv);
        if (!origin.ok()) return origin.error();
        EngineOptions options;
        options.origin = *origin;
        auto engine = IncidentEngine::Open(
            std::move(OpenSqliteStore(Temp("replay.db"), false)).value(), Taxonomy::Default(), options);
        if (!engine.ok()) return engine.error();
        return ReplayCsv(csv, **engine, replay);
    }
    /// An LA 311 export of 120 bulky-item requests, two a minute over an hour around four addresses; every
    /// fifth has the Closed Date `closed(minute)`.
    std::string WriteBulkyItems(const std::function<std::string(int minute)>& closed) {
        const std::string csv = Temp("export.csv");
        std::ofstream out(csv);
        out << "SRNumber,CreatedDate,ClosedDate,RequestType,Latitude,Longitude\n";
        for (int i = 0; i < 120; ++i) {
            const int minute = i / 2;
            out << i << ",2020-01-01 00:" << (minute < 10 ? "0" : "") << minute << ":00,"
                << (i % 5 == 0 ? closed(minute) : "") << ",Bulky Items," << 34.0 + (i % 4) * 0.01 << ","
                << -118.2 + (i % 7) * 0.00005 << "\n";
        }
        return csv;
    }
    std::vector<std::string> files_;
};

TEST_F(ReplayTest, HandMadeExportGivesExactCounts) {
    const std::string csv = Temp("export.csv");
    std::ofstream(csv)
        << "Unique Key,Created Date,Closed Date,Complaint Type,Latitude,Longitude,Resolution Description\n"
           // newest first, as the exports come
           "5,02/28/2023 10:30:00 AM,,Noise - Residential,40.75,-73.99,\n"
           "4,02/28/2023 10:20:00 AM,,HEAT/HOT WATER,40.7001,-73.9,is a duplicate of a condition\n"
           "3,02/28/2023 10:10:00 AM,02/28/2023 10:15:00 AM,HEAT/HOT WATER,40.7,-73.9,\n"
           "2,02/28/2023 10:05:00 AM,,HEAT/HOT WATER,40.7001,-73.9,is a duplicate of a condition\n"
           "1,02/28/2023 10:00:00 AM,,HEAT/HOT WATER,40.7,-73.9,\n"
           "6,not a date,,Noise,40.7,-73.9,\n";
    auto r = Replay(csv);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->format, "nyc311");
    EXPECT_EQ(r->rows, 6);
    EXPECT_EQ(r->rows_rejected, 1);
    ASSERT_EQ(r->rejected_examples.size(), 1u);
    EXPECT_NE(r->rejected_examples[0].find(":7: Created Date: 'not a date'"), std::string::npos)
        << r->rejected_examples[0];
    // 1 opens a case; 2 joins it (11 m, 5 min); 3 joins it too (unlabelled: a false positive) and, being no
    // primary report, does not close it; 4 joins; 5 is another category far away.
    EXPECT_EQ(r->cases, 2);
    EXPECT_EQ(r->duplicates_merged, 3);
    EXPECT_EQ(r->cases_per_department.at("ZJJ"), 1);
    EXPECT_EQ(r->dedup.labelled, 2);
    EXPECT_EQ(r->dedup.predicted, 3);
    EXPECT_EQ(r->dedup.true_positive, 2);
    EXPECT_DOUBLE_EQ(r->dedup.recall(), 1.0);
    EXPECT_NEAR(r->dedup.precision(), 2.0 / 3.0, 1e-12);
    EXPECT_EQ(r->closed, 0);
}

TEST_F(ReplayTest, BatchingAndPacingDoNotChangeTheOutcome) {
    // Bulky items around four addresses over an hour, some closed quickly: merges and closures interleave.
    const std::string csv = WriteBulkyItems([](int minute) {
        const int closed = minute + 3;
        return std::string(closed < 60 ? "2020-01-01 00:" : "2020-01-01 01:") + (closed % 60 < 10 ? "0" : "") +
               std::to_string(closed % 60) + ":00";
    });
    auto flat = Replay(csv);
    ReplayOptions one_by_one;
    one_by_one.batch = 1;
    auto single = Replay(csv, one_by_one);
    ReplayOptions paced;
    paced.speedup = 1e9;  // paced, so batches hold one timestamp each, but no real waiting
    auto fast = Replay(csv, paced);
    ASSERT_TRUE(flat.ok() && single.ok() && fast.ok());
    EXPECT_GT(flat->duplicates_merged, 0);
    for (const auto* r : {&*single, &*fast}) {
        EXPECT_EQ(r->cases, flat->cases);
        EXPECT_EQ(r->duplicates_merged, flat->duplicates_merged);
        EXPECT_EQ(r->closed, flat->closed);
        EXPECT_EQ(r->escalated, flat->escalated);
    }
}

/// A store that dies (every commit fails) after `commits` commits: a replay killed part-way.
class DyingStore final : public ForwardingStore {
public:
    DyingStore(std::unique_ptr<Store> inner, int commits) : ForwardingStore(std::move(inner)), left_(commits) {}
    Status Commit(const WriteBatch& b) override {
        if (left_-- <= 0) return Error{ErrorCode::kUnavailable, "killed", "test"};
        return ForwardingStore::Commit(b);
    }

private:
    int left_;
};

// Issue 13, items 12 and 13: a replay commits in batches, and one that dies part-way and runs again adds no
// report twice, says how many rows it skipped, and ends where an uninterrupted replay ends.
TEST_F(ReplayTest, ResumesAfterACrashWithoutDuplicates) {
    // Every fifth case closes after the last report, so a death part-way leaves closures still to come.
    const std::string csv = WriteBulkyItems([](int) { return std::string("2020-01-01 01:30:00"); });
    auto origin = CsvOrigin(csv);
    ASSERT_TRUE(origin.ok());
    EngineOptions options;
    options.origin = *origin;
    options.idempotency_window_ms = std::numeric_limits<TimeMs>::max() / 4;  // as the replay command sets it
    ReplayOptions replay;
    replay.batch = 10;
    const auto run = [&](const std::string& db, int commits_before_death) -> Result<ReplayResult> {
        std::unique_ptr<Store> store = std::move(OpenSqliteStore(db)).value();
        if (commits_before_death >= 0) store = std::make_unique<DyingStore>(std::move(store), commits_before_death);
        auto engine = IncidentEngine::Open(std::move(store), Taxonomy::Default(), options);
        if (!engine.ok()) return engine.error();
        return ReplayCsv(csv, **engine, replay);
    };
    const auto stored = [&](const std::string& db) {
        return std::move(std::move(OpenSqliteStore(db)).value()->ComputeStats(0)).value();
    };
    const std::string clean_db = Temp("clean.db");
    auto clean = run(clean_db, -1);
    ASSERT_TRUE(clean.ok()) << clean.error().ToString();
    const Stats want = stored(clean_db);
    EXPECT_EQ(want.reports, 120);

    const std::string db = Temp("resumed.db");
    auto died = run(db, 4);
    ASSERT_FALSE(died.ok());
    const int64_t before = stored(db).reports;
    EXPECT_GT(before, 0);
    EXPECT_LT(before, 120);
    EXPECT_EQ(before % 10, 0) << "a commit holds whole batches of rows";
    auto resumed = run(db, -1);
    ASSERT_TRUE(resumed.ok()) << resumed.error().ToString();
    EXPECT_EQ(resumed->rows_skipped, before);
    EXPECT_EQ(resumed->reports, 120 - before);
    const Stats got = stored(db);
    EXPECT_EQ(got.reports, want.reports);
    EXPECT_EQ(got.duplicates, want.duplicates);
    EXPECT_EQ(got.cases, want.cases);
    EXPECT_EQ(got.cases_per_status, want.cases_per_status);
    // And a third run finds everything there.
    auto again = run(db, -1);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->rows_skipped, 120);
    EXPECT_EQ(again->reports, 0);
    EXPECT_EQ(stored(db).reports, 120);
}

TEST_F(ReplayTest, MissingColumnsAreNamed) {
    const std::string csv = Temp("bad.csv");
    std::ofstream(csv) << "id,when,what\n1,2,3\n";
    auto r = Replay(csv);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().ToString().find("missing column 'Unique Key'/'SRNumber'"), std::string::npos)
        << r.error().ToString();
}

TEST_F(ReplayTest, NycSampleInvariantsAndDeterminism) {
    const std::string csv = std::string(CB_DATA_DIR) + "/incidents/nyc311_sample/nyc311_2023-02_sample5k.csv";
    if (!std::filesystem::exists(csv)) GTEST_SKIP() << "missing " << csv;
    auto a = Replay(csv);
    ASSERT_TRUE(a.ok()) << a.error().ToString();
    EXPECT_EQ(a->reports + a->rows_rejected, a->rows);
    EXPECT_EQ(a->cases + a->duplicates_merged, a->reports);
    const int64_t by_dept = std::accumulate(
        a->cases_per_department.begin(), a->cases_per_department.end(), int64_t{0}, [](int64_t s, const auto& kv) {
            return s + kv.second;
        });
    EXPECT_EQ(by_dept, a->cases);
    EXPECT_GT(a->dedup.labelled, 0);
    EXPECT_GT(a->dedup.true_positive, 0);
    EXPECT_LE(a->closed_in_time, a->closed);
    auto b = Replay(csv);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(a->cases, b->cases);
    EXPECT_EQ(a->duplicates_merged, b->duplicates_merged);
    EXPECT_EQ(a->escalated, b->escalated);
    EXPECT_EQ(a->dedup.true_positive, b->dedup.true_positive);
}

}  // namespace
}  // namespace citybrain::incident
