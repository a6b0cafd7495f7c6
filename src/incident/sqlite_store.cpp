// SPDX-License-Identifier: Apache-2.0
// The embedded store: one SQLite file in WAL mode. Two connections, so that readers (the HTTP API) never wait for
// the writer's fsync: WAL lets one writer and many readers proceed together.
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "incident/sql_common.hpp"
#include "incident/store.hpp"

namespace citybrain::incident {

namespace {

Error SqliteError(sqlite3* db, const std::string& what) {
    return Error{ErrorCode::kUnavailable, what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"), "sqlite"};
}

/// A prepared statement that resets itself after each use.
class Stmt {
public:
    Stmt() = default;
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    ~Stmt() { sqlite3_finalize(stmt_); }

    Status Prepare(sqlite3* db, const std::string& sql) {
        db_ = db;
        if (sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK) {
            return SqliteError(db, "prepare '" + sql.substr(0, 60) + "'");
        }
        return {};
    }
    Stmt& Bind(int i, int64_t v) {
        sqlite3_bind_int64(stmt_, i, v);
        return *this;
    }
    Stmt& Bind(int i, double v) {
        sqlite3_bind_double(stmt_, i, v);
        return *this;
    }
    Stmt& Bind(int i, const std::string& v) {
        sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
        return *this;
    }
    Stmt& Bind(int i, const char* v) {
        sqlite3_bind_text(stmt_, i, v, -1, SQLITE_STATIC);
        return *this;
    }
    Stmt& Bind(int i, std::optional<double> v) {
        if (v) {
            sqlite3_bind_double(stmt_, i, *v);
        } else {
            sqlite3_bind_null(stmt_, i);
        }
        return *this;
    }
    Stmt& BindNull(int i) {
        sqlite3_bind_null(stmt_, i);
        return *this;
    }
    /// Runs a statement that returns no rows.
    Status Exec() {
        const int rc = sqlite3_step(stmt_);
        Status s = rc == SQLITE_DONE ? Status{} : Status{SqliteError(db_, "step")};
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
        return s;
    }
    /// Steps once: true with a row, false at the end; errors surface through `status`.
    bool Next(Status& status) {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc != SQLITE_DONE) status = SqliteError(db_, "step");
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
        return false;
    }
    sqlite3_stmt* raw() const { return stmt_; }
    /// Ends any scan left open (an open read would pin the WAL and hold back checkpoints).
    void Reset() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
    double Double(int col) const { return sqlite3_column_double(stmt_, col); }
    std::optional<double> OptDouble(int col) const {
        if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
        return sqlite3_column_double(stmt_, col);
    }
    std::string Text(int col) const {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
        return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
    }

private:
    sqlite3* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
};

Status ExecSql(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        Error e{ErrorCode::kUnavailable, std::string(sql).substr(0, 60) + ": " + (err ? err : "?"), "sqlite"};
        sqlite3_free(err);
        return e;
    }
    return {};
}

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS reports (
  id INTEGER PRIMARY KEY, idem_key TEXT, source TEXT NOT NULL, time_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL,
  lat REAL, lon REAL, address TEXT NOT NULL, category TEXT NOT NULL, description TEXT NOT NULL, media_url TEXT NOT NULL,
  confidence REAL NOT NULL, external_id TEXT NOT NULL, case_id INTEGER NOT NULL, duplicate INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS reports_case ON reports(case_id);
CREATE INDEX IF NOT EXISTS reports_time ON reports(time_ms);
CREATE INDEX IF NOT EXISTS reports_key ON reports(idem_key);
CREATE TABLE IF NOT EXISTS cases (
  id INTEGER PRIMARY KEY, category TEXT NOT NULL, department TEXT NOT NULL, priority INTEGER NOT NULL, lat REAL, lon REAL,
  address TEXT NOT NULL, grid_cell TEXT NOT NULL, description TEXT NOT NULL, status TEXT NOT NULL,
  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, last_report_ms INTEGER NOT NULL, deadline_ms INTEGER NOT NULL,
  closed_ms INTEGER NOT NULL, escalations INTEGER NOT NULL, overdue INTEGER NOT NULL, report_count INTEGER NOT NULL,
  primary_report INTEGER NOT NULL, merged_into INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS cases_created ON cases(created_ms);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, time_ms INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  from_status TEXT NOT NULL, to_status TEXT NOT NULL, note TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_case ON events(case_id);
)sql";

Report ReadReport(const Stmt& s, int c0) {
    Report r;
    r.id = s.Int(c0);
    r.idempotency_key = s.Text(c0 + 1);
    r.source = sql::StoredSource(s.Text(c0 + 2));
    r.time_ms = s.Int(c0 + 3);
    r.received_ms = s.Int(c0 + 4);
    r.lat = s.OptDouble(c0 + 5);
    r.lon = s.OptDouble(c0 + 6);
    r.address = s.Text(c0 + 7);
    r.category = s.Text(c0 + 8);
    r.description = s.Text(c0 + 9);
    r.media_url = s.Text(c0 + 10);
    r.confidence = s.Double(c0 + 11);
    r.external_id = s.Text(c0 + 12);
    r.case_id = s.Int(c0 + 13);
    r.duplicate = s.Int(c0 + 14) != 0;
    r.address_id = s.Text(c0 + 15);
    r.via = s.Text(c0 + 16);
    return r;
}

Case ReadCase(const Stmt& s, int c0) {
    Case c;
    c.id = s.Int(c0);
    c.category = s.Text(c0 + 1);
    c.department = s.Text(c0 + 2);
    c.priority = static_cast<int>(s.Int(c0 + 3));
    c.lat = s.OptDouble(c0 + 4);
    c.lon = s.OptDouble(c0 + 5);
    c.address = s.Text(c0 + 6);
    c.grid_cell = s.Text(c0 + 7);
    c.description = s.Text(c0 + 8);
    c.status = sql::StoredStatus(s.Text(c0 + 9));
    c.created_ms = s.Int(c0 + 10);
    c.updated_ms = s.Int(c0 + 11);
    c.last_report_ms = s.Int(c0 + 12);
    c.deadline_ms = s.Int(c0 + 13);
    c.closed_ms = s.Int(c0 + 14);
    c.escalations = static_cast<int>(s.Int(c0 + 15));
    c.overdue = s.Int(c0 + 16) != 0;
    c.report_count = static_cast<int>(s.Int(c0 + 17));
    c.primary_report = s.Int(c0 + 18);
    c.merged_into = s.Int(c0 + 19);
    return c;
}

class SqliteStore final : public Store {
public:
    // close_v2 waits for the member statements, finalized after this body, before it really closes.
    ~SqliteStore() override {
        sqlite3_close_v2(writer_);
        for (auto& r : readers_) {
            r.cache.clear();
            sqlite3_close_v2(r.db);
        }
    }
    const char* Kind() const override { return "sqlite"; }

    Status Open(const std::string& path, bool durable) {
        for (sqlite3** db : {&writer_, &readers_[0].db, &readers_[1].db}) {
            if (sqlite3_open_v2(
                    path.c_str(), db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
                SQLITE_OK) {
                return NotFound(path, std::string("cannot open: ") + sqlite3_errmsg(*db));
            }
            sqlite3_busy_timeout(*db, 10000);
            if (db == &writer_) {
                // FULL in WAL mode: each commit fsyncs the log, so acknowledged survives power loss, not only kill -9.
                CB_TRY(ExecSql(writer_,
                               durable ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536; "
                                         "PRAGMA wal_autocheckpoint=16384;"
                                       : "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"));
                CB_TRY(ExecSql(writer_, kSchema));
                CB_TRY(ExecSql(writer_, sql::kWriterTable));
                CB_TRY(AddMissingColumns());
            }
        }
        const std::string report_sql = std::string("INSERT INTO reports(") + sql::kReportColumns + ") VALUES";
        CB_TRY(insert_report_.Prepare(writer_, report_sql + Values(kReportCols, 1)));
        CB_TRY(insert_reports_.Prepare(writer_, report_sql + Values(kReportCols, kRowsPerInsert)));
        const std::string case_sql = std::string("INSERT INTO cases(") + sql::kCaseColumns + ") VALUES";
        const std::string upsert = sql::kCaseUpsert;
        CB_TRY(upsert_case_.Prepare(writer_, case_sql + Values(kCaseCols, 1) + upsert));
        CB_TRY(upsert_cases_.Prepare(writer_, case_sql + Values(kCaseCols, kRowsPerInsert) + upsert));
        CB_TRY(insert_event_.Prepare(
            writer_, std::string("INSERT INTO events(") + sql::kEventColumns + ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"));
        CB_TRY(claim_.Prepare(writer_, sql::kClaimWriter));
        CB_TRY(writer_row_.Prepare(writer_, "SELECT epoch, holder FROM writer"));
        return {};
    }

    Result<int64_t> ClaimWriter(const std::string& holder, TimeMs now) override {
        std::lock_guard lock(write_mu_);
        // One statement, one write transaction: SQLite runs it between other writers' transactions, never inside.
        claim_.Bind(1, holder).Bind(2, static_cast<int64_t>(now));
        Status st;
        if (!claim_.Next(st)) return st.ok() ? SqliteError(writer_, "claim") : st.error();
        epoch_ = claim_.Int(0);
        claim_.Reset();
        return epoch_;
    }

    /// A file written by an older release lacks the columns added since; they get their defaults.
    Status AddMissingColumns() {
        for (const auto& add : sql::kAddedColumns) {
            Stmt probe;
            CB_TRY(probe.Prepare(
                writer_,
                std::string("SELECT 1 FROM pragma_table_info('") + add.table + "') WHERE name='" + add.column + "'"));
            Status st;
            if (probe.Next(st)) continue;
            CB_TRY(st);
            CB_TRY(
                ExecSql(writer_,
                        (std::string("ALTER TABLE ") + add.table + " ADD COLUMN " + add.column + " " + add.definition)
                            .c_str()));
        }
        return {};
    }

    Status Commit(const WriteBatch& batch) override {
        if (batch.empty()) return {};
        CB_TRY(sql::CheckStorable(batch));
        std::lock_guard lock(write_mu_);
        CB_TRY(ExecSql(writer_, "BEGIN IMMEDIATE"));
        Status s = CheckWriter();
        if (s.ok()) s = WriteAll(batch);
        if (!s.ok()) {
            (void)ExecSql(writer_, "ROLLBACK");
            return s;
        }
        if (Status c = ExecSql(writer_, "COMMIT"); !c.ok()) {
            (void)ExecSql(writer_, "ROLLBACK");
            return c;
        }
        return {};
    }

    Result<Counters> MaxIds() override {
        Counters c;
        auto reader = AcquireReader();
        CB_TRY_ASSIGN(Stmt * prepared,
                      reader.Prepared(
                          "SELECT (SELECT COALESCE(MAX(id),0) FROM reports), (SELECT COALESCE(MAX(id),0) FROM cases)"));
        Stmt& s = *prepared;
        Status st;
        if (s.Next(st)) {
            c.max_report = s.Int(0);
            c.max_case = s.Int(1);
            while (s.Next(st)) {
            }
        }
        CB_TRY(st);
        return c;
    }

    Result<std::vector<Case>> LoadOpenCases() override {
        CaseFilter f;
        f.open = true;
        f.limit = -1;
        return ListCases(f, 0);
    }

    Result<std::vector<KeyEntry>> LoadIdempotencyKeys(TimeMs window_ms) override {
        auto reader = AcquireReader();
        Stmt s;  // not cached: once per start, and it may be left mid-scan
        // Newest first along the rowid, stopping at the window's edge: no index needed, and a restart reads only
        // the window, however old the store.
        CB_TRY(s.Prepare(reader.reader->db,
                         "SELECT idem_key, id, case_id, duplicate, received_ms FROM reports ORDER BY id DESC"));
        std::vector<KeyEntry> out;
        Status st;
        TimeMs newest = -1;
        while (s.Next(st)) {
            const TimeMs received = s.Int(4);
            if (newest < 0) newest = received;
            if (received < newest - window_ms) break;
            if (sqlite3_column_type(s.raw(), 0) != SQLITE_NULL)
                out.push_back({s.Text(0), s.Int(1), s.Int(2), s.Int(3) != 0, received});
        }
        CB_TRY(st);
        std::reverse(out.begin(), out.end());
        return out;
    }

    Result<std::optional<Case>> GetCase(CaseId id) override {
        auto reader = AcquireReader();
        CB_TRY_ASSIGN(Stmt * prepared,
                      reader.Prepared(std::string("SELECT ") + sql::kCaseColumns + " FROM cases WHERE id=?1"));
        Stmt& s = *prepared;
        s.Bind(1, int64_t{id});
        std::optional<Case> out;
        Status st;
        while (s.Next(st)) out = ReadCase(s, 0);
        CB_TRY(st);
        return out;
    }

    Result<std::vector<Case>> ListCases(const CaseFilter& f, TimeMs now) override {
        std::string sql = std::string("SELECT ") + sql::kCaseColumns + " FROM cases WHERE 1=1";
        std::vector<std::string> texts;
        std::vector<int64_t> ints;
        // Parameters are numbered in the order they are appended: texts first as ?1.., then ints.
        std::string text_clause, int_clause;
        auto add_text = [&](const char* column, const std::string& value) {
            texts.push_back(value);
            text_clause += std::string(" AND ") + column + "=?" + std::to_string(texts.size());
        };
        if (f.status) add_text("status", StatusName(*f.status));
        if (!f.category.empty()) add_text("category", f.category);
        if (!f.department.empty()) add_text("department", f.department);
        if (!f.grid_cell.empty()) add_text("grid_cell", f.grid_cell);
        auto add_int = [&](const char* op_clause, int64_t value) {
            ints.push_back(value);
            int_clause += std::string(" AND ") + op_clause + std::to_string(100 + ints.size());
        };
        if (f.since) add_int("created_ms >= ?", *f.since);
        if (f.until) add_int("created_ms < ?", *f.until);
        if (f.overdue_only) add_int("deadline_ms > 0 AND deadline_ms < ?", now);
        sql += text_clause + int_clause;
        if (f.open) sql += std::string(" AND status ") + (*f.open ? "NOT IN " : "IN ") + sql::kClosedList;
        if (f.overdue_only) sql += std::string(" AND status NOT IN ") + sql::kClosedList;
        sql += " ORDER BY id LIMIT " + std::to_string(f.limit) + " OFFSET " + std::to_string(std::max(0, f.offset));
        auto reader = AcquireReader();
        CB_TRY_ASSIGN(Stmt * prepared, reader.Prepared(sql));
        Stmt& s = *prepared;
        for (size_t i = 0; i < texts.size(); ++i) s.Bind(static_cast<int>(i + 1), texts[i]);
        for (size_t i = 0; i < ints.size(); ++i) s.Bind(static_cast<int>(101 + i), ints[i]);
        std::vector<Case> out;
        Status st;
        while (s.Next(st)) out.push_back(ReadCase(s, 0));
        CB_TRY(st);
        return out;
    }

    Result<std::vector<Event>> CaseEvents(CaseId id) override {
        auto reader = AcquireReader();
        CB_TRY_ASSIGN(
            Stmt * prepared,
            reader.Prepared(std::string("SELECT ") + sql::kEventColumns + " FROM events WHERE case_id=?1 ORDER BY id"));
        Stmt& s = *prepared;
        s.Bind(1, int64_t{id});
        std::vector<Event> out;
        Status st;
        while (s.Next(st)) {
            Event e;
            e.case_id = s.Int(0);
            e.time_ms = s.Int(1);
            e.actor = s.Text(2);
            e.action = sql::StoredAction(s.Text(3));
            e.from = sql::StoredStatus(s.Text(4));
            e.to = sql::StoredStatus(s.Text(5));
            e.note = s.Text(6);
            e.via = s.Text(7);
            out.push_back(std::move(e));
        }
        CB_TRY(st);
        return out;
    }

    Result<std::vector<Report>> CaseReports(CaseId id) override {
        auto reader = AcquireReader();
        CB_TRY_ASSIGN(Stmt * prepared,
                      reader.Prepared(std::string("SELECT ") + sql::kReportColumns +
                                      " FROM reports WHERE case_id=?1 ORDER BY id"));
        Stmt& s = *prepared;
        s.Bind(1, int64_t{id});
        std::vector<Report> out;
        Status st;
        while (s.Next(st)) out.push_back(ReadReport(s, 0));
        CB_TRY(st);
        return out;
    }

    Result<std::vector<RequestView>> ListRequests(const RequestFilter& f) override {
        std::string sql = sql::kRequestSelect;
        int next = 1;
        if (!f.ids.empty()) {
            sql += " AND r.id IN (";
            for (size_t i = 0; i < f.ids.size(); ++i) sql += (i ? ",?" : "?") + std::to_string(next++);
            sql += ")";
        }
        const int codes_at = next;
        if (!f.service_codes.empty()) {
            sql += " AND r.category IN (";
            for (size_t i = 0; i < f.service_codes.size(); ++i) sql += (i ? ",?" : "?") + std::to_string(next++);
            sql += ")";
        }
        const int keys_at = next;
        if (!f.idempotency_keys.empty()) {
            sql += " AND r.idem_key IN (";
            for (size_t i = 0; i < f.idempotency_keys.size(); ++i) sql += (i ? ",?" : "?") + std::to_string(next++);
            sql += ")";
        }
        const int since_at = f.since ? next++ : 0;
        if (f.since) sql += " AND r.time_ms >= ?" + std::to_string(since_at);
        const int until_at = f.until ? next++ : 0;
        if (f.until) sql += " AND r.time_ms <= ?" + std::to_string(until_at);
        if (f.open) sql += std::string(" AND c.status ") + (*f.open ? "NOT IN " : "IN ") + sql::kClosedList;
        sql += " ORDER BY r.time_ms DESC, r.id DESC LIMIT " + std::to_string(f.limit);
        auto reader = AcquireReader();
        CB_TRY_ASSIGN(Stmt * prepared, reader.Prepared(sql));
        Stmt& s = *prepared;
        for (size_t i = 0; i < f.ids.size(); ++i) s.Bind(static_cast<int>(1 + i), int64_t{f.ids[i]});
        for (size_t i = 0; i < f.service_codes.size(); ++i) s.Bind(codes_at + static_cast<int>(i), f.service_codes[i]);
        for (size_t i = 0; i < f.idempotency_keys.size(); ++i) {
            s.Bind(keys_at + static_cast<int>(i), f.idempotency_keys[i]);
        }
        if (f.since) s.Bind(since_at, int64_t{*f.since});
        if (f.until) s.Bind(until_at, int64_t{*f.until});
        std::vector<RequestView> out;
        Status st;
        while (s.Next(st)) {
            RequestView v;
            v.report = ReadReport(s, 0);
            constexpr int c = sql::kReportFields;
            v.case_status = sql::StoredStatus(s.Text(c));
            v.department = s.Text(c + 1);
            v.case_updated_ms = s.Int(c + 2);
            v.deadline_ms = s.Int(c + 3);
            const ReportId primary = s.Int(c + 4);
            v.parent_report = sql::ParentReport(v.report, primary);
            out.push_back(std::move(v));
        }
        CB_TRY(st);
        return out;
    }

    Result<Stats> ComputeStats(TimeMs now) override {
        auto reader = AcquireReader();
        Stats out;
        Status st;
        {
            CB_TRY_ASSIGN(Stmt * prepared, reader.Prepared("SELECT COUNT(*), COALESCE(SUM(duplicate),0) FROM reports"));
            Stmt& s = *prepared;
            while (s.Next(st)) {
                out.reports = s.Int(0);
                out.duplicates = s.Int(1);
            }
        }
        {
            CB_TRY_ASSIGN(
                Stmt * prepared,
                reader.Prepared(std::string("SELECT status, department, COUNT(*), "
                                            "SUM(CASE WHEN deadline_ms > 0 AND deadline_ms < ?1 THEN 1 ELSE 0 END), "
                                            "SUM(CASE WHEN escalations > 0 THEN 1 ELSE 0 END) "
                                            "FROM cases GROUP BY status, department")));
            Stmt& s = *prepared;
            s.Bind(1, int64_t{now});
            while (s.Next(st)) sql::AddCaseGroup(out, s.Text(0), s.Text(1), s.Int(2), s.Int(3), s.Int(4));
        }
        {
            CB_TRY_ASSIGN(
                Stmt * prepared,
                reader.Prepared("SELECT closed_ms - created_ms FROM cases WHERE status IN ('closed','evaluated') "
                                "ORDER BY 1"));
            Stmt& s = *prepared;
            std::vector<int64_t> durations;
            while (s.Next(st)) durations.push_back(s.Int(0));
            if (!durations.empty()) {
                const size_t n = durations.size();
                const double mid = n % 2 ? static_cast<double>(durations[n / 2])
                                         : 0.5 * static_cast<double>(durations[n / 2 - 1] + durations[n / 2]);
                out.median_close_s = mid / 1000.0;
            }
        }
        CB_TRY(st);
        return out;
    }

private:
    // Rows per multi-row INSERT: one statement step per 32 rows; measured ~6 % less CPU per intake batch.
    static constexpr int kRowsPerInsert = 32;
    static constexpr int kReportCols = sql::kReportFields;
    static constexpr int kCaseCols = 20;

    static std::string Values(int cols, int rows) {
        std::string out;
        for (int r = 0; r < rows; ++r) {
            out += r ? ",(" : "(";
            for (int c = 1; c <= cols; ++c) out += (c > 1 ? ",?" : "?") + std::to_string(r * cols + c);
            out += ")";
        }
        return out;
    }

    static void BindReport(Stmt& s, int base, const Report& r) {
        s.Bind(base + 1, int64_t{r.id});
        if (r.idempotency_key.empty()) {
            s.BindNull(base + 2);
        } else {
            s.Bind(base + 2, r.idempotency_key);
        }
        s.Bind(base + 3, SourceName(r.source))
            .Bind(base + 4, int64_t{r.time_ms})
            .Bind(base + 5, int64_t{r.received_ms})
            .Bind(base + 6, r.lat)
            .Bind(base + 7, r.lon)
            .Bind(base + 8, r.address)
            .Bind(base + 9, r.category)
            .Bind(base + 10, r.description)
            .Bind(base + 11, r.media_url)
            .Bind(base + 12, r.confidence)
            .Bind(base + 13, r.external_id)
            .Bind(base + 14, int64_t{r.case_id})
            .Bind(base + 15, int64_t{r.duplicate ? 1 : 0})
            .Bind(base + 16, r.address_id)
            .Bind(base + 17, r.via);
    }

    static void BindCase(Stmt& s, int base, const Case& c) {
        s.Bind(base + 1, int64_t{c.id})
            .Bind(base + 2, c.category)
            .Bind(base + 3, c.department)
            .Bind(base + 4, int64_t{c.priority})
            .Bind(base + 5, c.lat)
            .Bind(base + 6, c.lon)
            .Bind(base + 7, c.address)
            .Bind(base + 8, c.grid_cell)
            .Bind(base + 9, c.description)
            .Bind(base + 10, StatusName(c.status))
            .Bind(base + 11, int64_t{c.created_ms})
            .Bind(base + 12, int64_t{c.updated_ms})
            .Bind(base + 13, int64_t{c.last_report_ms})
            .Bind(base + 14, int64_t{c.deadline_ms})
            .Bind(base + 15, int64_t{c.closed_ms})
            .Bind(base + 16, int64_t{c.escalations})
            .Bind(base + 17, int64_t{c.overdue ? 1 : 0})
            .Bind(base + 18, int64_t{c.report_count})
            .Bind(base + 19, int64_t{c.primary_report})
            .Bind(base + 20, int64_t{c.merged_into});
    }

    /// Full chunks through the multi-row statement, the rest row by row.
    template <typename Row, typename BindFn>
    static Status InsertRows(const std::vector<Row>& rows, Stmt& many, Stmt& one, int cols, BindFn bind) {
        size_t i = 0;
        for (; i + kRowsPerInsert <= rows.size(); i += kRowsPerInsert) {
            for (int k = 0; k < kRowsPerInsert; ++k) bind(many, k * cols, rows[i + static_cast<size_t>(k)]);
            CB_TRY(many.Exec());
        }
        for (; i < rows.size(); ++i) {
            bind(one, 0, rows[i]);
            CB_TRY(one.Exec());
        }
        return {};
    }

    /// Inside a write transaction: refuses when another store claimed the file after this one.
    Status CheckWriter() {
        if (epoch_ == 0) return {};
        Status st;
        if (!writer_row_.Next(st)) return st.ok() ? SqliteError(writer_, "the writer row is gone") : st.error();
        const int64_t epoch = writer_row_.Int(0);
        std::string holder = writer_row_.Text(1);
        writer_row_.Reset();
        if (epoch != epoch_) return sql::Fenced(epoch_, epoch, holder);
        return {};
    }

    Status WriteAll(const WriteBatch& batch) {
        CB_TRY(InsertRows(batch.reports, insert_reports_, insert_report_, kReportCols, BindReport));
        CB_TRY(InsertRows(batch.cases, upsert_cases_, upsert_case_, kCaseCols, BindCase));
        for (const Event& e : batch.events) {
            insert_event_.Bind(1, int64_t{e.case_id})
                .Bind(2, int64_t{e.time_ms})
                .Bind(3, e.actor)
                .Bind(4, ActionName(e.action))
                .Bind(5, StatusName(e.from))
                .Bind(6, StatusName(e.to))
                .Bind(7, e.note)
                .Bind(8, e.via);
            CB_TRY(insert_event_.Exec());
        }
        return {};
    }

    /// A reader connection with its prepared statements, kept across calls (preparing costs more than most of
    /// the lookups the API makes).
    struct Reader {
        std::mutex mu;
        sqlite3* db = nullptr;
        std::unordered_map<std::string, std::unique_ptr<Stmt>> cache;
    };
    struct ReadLock {
        std::unique_lock<std::mutex> lock;
        Reader* reader;
        Result<Stmt*> Prepared(const std::string& sql) {
            // Filters with literal limits make many shapes; a small cache that starts over is enough.
            if (reader->cache.size() > 64 && reader->cache.count(sql) == 0) reader->cache.clear();
            auto& slot = reader->cache[sql];
            if (!slot) {
                auto stmt = std::make_unique<Stmt>();
                CB_TRY(stmt->Prepare(reader->db, sql));
                slot = std::move(stmt);
            }
            slot->Reset();
            return slot.get();
        }
    };
    /// A free reader if there is one, else the next in turn: the io threads read in parallel.
    ReadLock AcquireReader() {
        for (auto& r : readers_) {
            std::unique_lock lock(r.mu, std::try_to_lock);
            if (lock.owns_lock()) return ReadLock{std::move(lock), &r};
        }
        Reader& r = readers_[next_reader_.fetch_add(1, std::memory_order_relaxed) % readers_.size()];
        return ReadLock{std::unique_lock(r.mu), &r};
    }

    std::mutex write_mu_;
    sqlite3* writer_ = nullptr;
    std::array<Reader, 2> readers_;
    std::atomic<size_t> next_reader_{0};
    Stmt insert_report_;
    Stmt insert_reports_;
    Stmt upsert_cases_;
    Stmt upsert_case_;
    Stmt insert_event_;
    Stmt claim_, writer_row_;
    int64_t epoch_ = 0;  // this store's claim; 0: it never claimed, and writes unfenced
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, bool durable) {
    auto store = std::make_unique<SqliteStore>();
    CB_TRY(store->Open(path, durable));
    return std::unique_ptr<Store>(std::move(store));
}

}  // namespace citybrain::incident
