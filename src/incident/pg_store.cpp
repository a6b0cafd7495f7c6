// SPDX-License-Identifier: Apache-2.0
// The PostgreSQL store (libpqxx): the same tables and semantics as the SQLite one, for several nodes sharing a
// city. A writer and a reader connection, like the SQLite store, so API reads never queue behind a commit.
#include <mutex>
#include <pqxx/pqxx>

#include "incident/sql_common.hpp"
#include "incident/store.hpp"

namespace citybrain::incident {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS reports (
  id BIGINT PRIMARY KEY, idem_key TEXT, source TEXT NOT NULL, time_ms BIGINT NOT NULL, received_ms BIGINT NOT NULL,
  lat DOUBLE PRECISION, lon DOUBLE PRECISION, address TEXT NOT NULL, category TEXT NOT NULL, description TEXT NOT NULL,
  media_url TEXT NOT NULL, confidence DOUBLE PRECISION NOT NULL, external_id TEXT NOT NULL, case_id BIGINT NOT NULL,
  duplicate INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS reports_case ON reports(case_id);
CREATE INDEX IF NOT EXISTS reports_time ON reports(time_ms);
CREATE INDEX IF NOT EXISTS reports_key ON reports(idem_key);
CREATE TABLE IF NOT EXISTS cases (
  id BIGINT PRIMARY KEY, category TEXT NOT NULL, department TEXT NOT NULL, priority INTEGER NOT NULL,
  lat DOUBLE PRECISION, lon DOUBLE PRECISION, address TEXT NOT NULL, grid_cell TEXT NOT NULL, description TEXT NOT NULL,
  status TEXT NOT NULL, created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, last_report_ms BIGINT NOT NULL,
  deadline_ms BIGINT NOT NULL, closed_ms BIGINT NOT NULL, escalations INTEGER NOT NULL, overdue INTEGER NOT NULL,
  report_count INTEGER NOT NULL, primary_report BIGINT NOT NULL, merged_into BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS cases_created ON cases(created_ms);
CREATE TABLE IF NOT EXISTS events (
  id BIGSERIAL PRIMARY KEY, case_id BIGINT NOT NULL, time_ms BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  from_status TEXT NOT NULL, to_status TEXT NOT NULL, note TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_case ON events(case_id);
)sql";

Error PgError(const std::exception& e, const char* what) {
    return Error{ErrorCode::kUnavailable, std::string(what) + ": " + e.what(), "postgresql"};
}

/// Throws broken_connection when the server has closed the connection (restarted, or killed), before a statement is
/// sent on it: libpqxx 6.4 leaks the error result of a statement that finds the connection broken (fixed upstream
/// in 7.x, jtv/libpqxx#500). Reading what waits on the socket finds a closed one without a result; it costs one
/// non-blocking read.
void CheckAlive(pqxx::connection& c) { c.get_notifs(); }

std::optional<double> OptDouble(const pqxx::field& f) {
    if (f.is_null()) return std::nullopt;
    return f.as<double>();
}

/// NULL or the number as text, kept alive in `buf`.
const char* NumOrNull(const std::optional<double>& v, std::string& buf) {
    if (!v) return nullptr;
    char tmp[40];
    std::snprintf(tmp, sizeof tmp, "%.10f", *v);
    buf = tmp;
    return buf.c_str();
}

Report ReadReport(const pqxx::row& row, int c0) {
    Report r;
    r.id = row[c0].as<int64_t>();
    r.idempotency_key = row[c0 + 1].is_null() ? std::string() : row[c0 + 1].as<std::string>();
    r.source = sql::StoredSource(row[c0 + 2].c_str());
    r.time_ms = row[c0 + 3].as<int64_t>();
    r.received_ms = row[c0 + 4].as<int64_t>();
    r.lat = OptDouble(row[c0 + 5]);
    r.lon = OptDouble(row[c0 + 6]);
    r.address = row[c0 + 7].as<std::string>();
    r.category = row[c0 + 8].as<std::string>();
    r.description = row[c0 + 9].as<std::string>();
    r.media_url = row[c0 + 10].as<std::string>();
    r.confidence = row[c0 + 11].as<double>();
    r.external_id = row[c0 + 12].as<std::string>();
    r.case_id = row[c0 + 13].as<int64_t>();
    r.duplicate = row[c0 + 14].as<int>() != 0;
    r.address_id = row[c0 + 15].as<std::string>();
    r.via = row[c0 + 16].as<std::string>();
    return r;
}

Case ReadCase(const pqxx::row& row) {
    Case c;
    c.id = row[0].as<int64_t>();
    c.category = row[1].as<std::string>();
    c.department = row[2].as<std::string>();
    c.priority = row[3].as<int>();
    c.lat = OptDouble(row[4]);
    c.lon = OptDouble(row[5]);
    c.address = row[6].as<std::string>();
    c.grid_cell = row[7].as<std::string>();
    c.description = row[8].as<std::string>();
    c.status = sql::StoredStatus(row[9].c_str());
    c.created_ms = row[10].as<int64_t>();
    c.updated_ms = row[11].as<int64_t>();
    c.last_report_ms = row[12].as<int64_t>();
    c.deadline_ms = row[13].as<int64_t>();
    c.closed_ms = row[14].as<int64_t>();
    c.escalations = row[15].as<int>();
    c.overdue = row[16].as<int>() != 0;
    c.report_count = row[17].as<int>();
    c.primary_report = row[18].as<int64_t>();
    c.merged_into = row[19].as<int64_t>();
    return c;
}

class PostgresStore final : public Store {
public:
    const char* Kind() const override { return "postgresql"; }

    Status Open(const std::string& url, const std::string& schema) {
        for (const char c : schema) {
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
                return InvalidArgument("schema", "'" + schema + "': only a-z, 0-9 and _");
            }
        }
        try {
            writer_ = std::make_unique<pqxx::connection>(url);
            reader_ = std::make_unique<pqxx::connection>(url);
            // Two nodes creating the same schema at once: one of them gets a unique violation, and its retry
            // finds everything there.
            for (int attempt = 0;; ++attempt) {
                try {
                    CreateTables(schema);
                    break;
                } catch (const pqxx::sql_error&) {
                    if (attempt == 2) throw;
                }
            }
            if (!schema.empty()) {
                // Session-wide: every later statement on both connections finds the tables in the schema.
                pqxx::nontransaction tx(*reader_);
                tx.exec("SET search_path TO " + schema);
            }
            writer_->prepare("report",
                             std::string("INSERT INTO reports(") + sql::kReportColumns +
                                 ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)");
            writer_->prepare("case",
                             std::string("INSERT INTO cases(") + sql::kCaseColumns +
                                 ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)" +
                                 sql::kCaseUpsert);
            writer_->prepare(
                "event", std::string("INSERT INTO events(") + sql::kEventColumns + ") VALUES($1,$2,$3,$4,$5,$6,$7,$8)");
        } catch (const std::exception& e) {
            return PgError(e, "connect");
        }
        return {};
    }

    void CreateTables(const std::string& schema) {
        pqxx::work tx(*writer_);
        tx.exec("SET client_min_messages TO WARNING");
        if (!schema.empty()) {
            tx.exec("CREATE SCHEMA IF NOT EXISTS " + schema);
            tx.exec("SET search_path TO " + schema);  // outlives the transaction, for this connection
        }
        tx.exec(kSchema);
        tx.exec(sql::kWriterTable);
        // A database written by an older release lacks the columns added since.
        for (const auto& add : sql::kAddedColumns) {
            tx.exec(std::string("ALTER TABLE ") + add.table + " ADD COLUMN IF NOT EXISTS " + add.column + " " +
                    add.definition);
        }
        tx.commit();
    }

    Result<int64_t> ClaimWriter(const std::string& holder, TimeMs now) override {
        std::lock_guard lock(write_mu_);
        try {
            // The row lock of this update waits for commits holding the writer row (FOR SHARE), and theirs for it.
            CheckAlive(*writer_);
            pqxx::work tx(*writer_);
            const pqxx::row row = tx.exec_params1(sql::kClaimWriter, holder, now);
            tx.commit();
            epoch_ = row[0].as<int64_t>();
        } catch (const std::exception& e) {
            return PgError(e, "claim");
        }
        return epoch_;
    }

    Status Commit(const WriteBatch& batch) override {
        if (batch.empty()) return {};
        CB_TRY(sql::CheckStorable(batch));
        std::lock_guard lock(write_mu_);
        try {
            CheckAlive(*writer_);
            pqxx::work tx(*writer_);
            if (epoch_ != 0) {
                // Held until this transaction ends: a claim made meanwhile waits for it, and one made before is seen.
                const pqxx::row w = tx.exec1("SELECT epoch, holder FROM writer FOR SHARE");
                if (w[0].as<int64_t>() != epoch_)
                    return sql::Fenced(epoch_, w[0].as<int64_t>(), w[1].as<std::string>());
            }
            std::string lat, lon;
            for (const Report& r : batch.reports) {
                tx.exec_prepared("report",
                                 r.id,
                                 r.idempotency_key.empty() ? nullptr : r.idempotency_key.c_str(),
                                 SourceName(r.source),
                                 r.time_ms,
                                 r.received_ms,
                                 NumOrNull(r.lat, lat),
                                 NumOrNull(r.lon, lon),
                                 r.address,
                                 r.category,
                                 r.description,
                                 r.media_url,
                                 r.confidence,
                                 r.external_id,
                                 r.case_id,
                                 r.duplicate ? 1 : 0,
                                 r.address_id,
                                 r.via);
            }
            for (const Case& c : batch.cases) {
                tx.exec_prepared("case",
                                 c.id,
                                 c.category,
                                 c.department,
                                 c.priority,
                                 NumOrNull(c.lat, lat),
                                 NumOrNull(c.lon, lon),
                                 c.address,
                                 c.grid_cell,
                                 c.description,
                                 StatusName(c.status),
                                 c.created_ms,
                                 c.updated_ms,
                                 c.last_report_ms,
                                 c.deadline_ms,
                                 c.closed_ms,
                                 c.escalations,
                                 c.overdue ? 1 : 0,
                                 c.report_count,
                                 c.primary_report,
                                 c.merged_into);
            }
            for (const Event& e : batch.events) {
                tx.exec_prepared("event",
                                 e.case_id,
                                 e.time_ms,
                                 e.actor,
                                 ActionName(e.action),
                                 StatusName(e.from),
                                 StatusName(e.to),
                                 e.note,
                                 e.via);
            }
            tx.commit();
        } catch (const std::exception& e) {
            return PgError(e, "commit");
        }
        return {};
    }

    Result<Counters> MaxIds() override {
        CB_TRY_ASSIGN(pqxx::result r,
                      Query("SELECT (SELECT COALESCE(MAX(id),0) FROM reports), "
                            "(SELECT COALESCE(MAX(id),0) FROM cases)",
                            {}));
        return Counters{r[0][0].as<int64_t>(), r[0][1].as<int64_t>()};
    }

    Result<std::vector<Case>> LoadOpenCases() override {
        CaseFilter f;
        f.open = true;
        f.limit = -1;
        return ListCases(f, 0);
    }

    Result<std::vector<KeyEntry>> LoadIdempotencyKeys(TimeMs window_ms) override {
        CB_TRY_ASSIGN(
            pqxx::result r,
            Query("SELECT idem_key, id, case_id, duplicate, received_ms FROM reports WHERE idem_key IS NOT NULL "
                  "AND received_ms >= (SELECT COALESCE(MAX(received_ms), 0) FROM reports) - $1 ORDER BY id",
                  {std::to_string(window_ms)}));
        std::vector<KeyEntry> out;
        for (const auto& row : r) {
            out.push_back({row[0].as<std::string>(),
                           row[1].as<int64_t>(),
                           row[2].as<int64_t>(),
                           row[3].as<int>() != 0,
                           row[4].as<int64_t>()});
        }
        return out;
    }

    Result<std::optional<Case>> GetCase(CaseId id) override {
        CB_TRY_ASSIGN(
            pqxx::result r,
            Query(std::string("SELECT ") + sql::kCaseColumns + " FROM cases WHERE id=$1", {std::to_string(id)}));
        if (r.empty()) return std::optional<Case>();
        return std::optional<Case>(ReadCase(r[0]));
    }

    Result<std::vector<Case>> ListCases(const CaseFilter& f, TimeMs now) override {
        std::string sql = std::string("SELECT ") + sql::kCaseColumns + " FROM cases WHERE 1=1";
        std::vector<std::string> params;
        auto add = [&](const std::string& clause, std::string value) {
            params.push_back(std::move(value));
            sql += " AND " + clause + "$" + std::to_string(params.size());
        };
        if (f.status) add("status=", StatusName(*f.status));
        if (!f.category.empty()) add("category=", f.category);
        if (!f.department.empty()) add("department=", f.department);
        if (!f.grid_cell.empty()) add("grid_cell=", f.grid_cell);
        if (f.since) add("created_ms >= ", std::to_string(*f.since));
        if (f.until) add("created_ms < ", std::to_string(*f.until));
        if (f.overdue_only) add("deadline_ms > 0 AND deadline_ms < ", std::to_string(now));
        if (f.open) sql += std::string(" AND status ") + (*f.open ? "NOT IN " : "IN ") + sql::kClosedList;
        if (f.overdue_only) sql += std::string(" AND status NOT IN ") + sql::kClosedList;
        sql += " ORDER BY id";
        if (f.limit >= 0) sql += " LIMIT " + std::to_string(f.limit);
        sql += " OFFSET " + std::to_string(std::max(0, f.offset));
        CB_TRY_ASSIGN(pqxx::result r, Query(sql, params));
        std::vector<Case> out;
        for (const auto& row : r) out.push_back(ReadCase(row));
        return out;
    }

    Result<std::vector<Event>> CaseEvents(CaseId id) override {
        CB_TRY_ASSIGN(pqxx::result r,
                      Query(std::string("SELECT ") + sql::kEventColumns + " FROM events WHERE case_id=$1 ORDER BY id",
                            {std::to_string(id)}));
        std::vector<Event> out;
        for (const auto& row : r) {
            Event e;
            e.case_id = row[0].as<int64_t>();
            e.time_ms = row[1].as<int64_t>();
            e.actor = row[2].as<std::string>();
            e.action = sql::StoredAction(row[3].c_str());
            e.from = sql::StoredStatus(row[4].c_str());
            e.to = sql::StoredStatus(row[5].c_str());
            e.note = row[6].as<std::string>();
            e.via = row[7].as<std::string>();
            out.push_back(std::move(e));
        }
        return out;
    }

    Result<std::vector<Report>> CaseReports(CaseId id) override {
        CB_TRY_ASSIGN(pqxx::result r,
                      Query(std::string("SELECT ") + sql::kReportColumns + " FROM reports WHERE case_id=$1 ORDER BY id",
                            {std::to_string(id)}));
        std::vector<Report> out;
        for (const auto& row : r) out.push_back(ReadReport(row, 0));
        return out;
    }

    Result<std::vector<RequestView>> ListRequests(const RequestFilter& f) override {
        std::string sql = sql::kRequestSelect;
        std::vector<std::string> params;
        auto list = [&](const char* column, const auto& values, auto to_text) {
            if (values.empty()) return;
            sql += std::string(" AND ") + column + " IN (";
            for (size_t i = 0; i < values.size(); ++i) {
                params.push_back(to_text(values[i]));
                sql += (i ? ",$" : "$") + std::to_string(params.size());
            }
            sql += ")";
        };
        list("r.id", f.ids, [](ReportId id) { return std::to_string(id); });
        list("r.category", f.service_codes, [](const std::string& s) { return s; });
        list("r.idem_key", f.idempotency_keys, [](const std::string& s) { return s; });
        if (f.since) {
            params.push_back(std::to_string(*f.since));
            sql += " AND r.time_ms >= $" + std::to_string(params.size());
        }
        if (f.until) {
            params.push_back(std::to_string(*f.until));
            sql += " AND r.time_ms <= $" + std::to_string(params.size());
        }
        if (f.open) sql += std::string(" AND c.status ") + (*f.open ? "NOT IN " : "IN ") + sql::kClosedList;
        sql += " ORDER BY r.time_ms DESC, r.id DESC LIMIT " + std::to_string(f.limit);
        CB_TRY_ASSIGN(pqxx::result r, Query(sql, params));
        std::vector<RequestView> out;
        for (const auto& row : r) {
            RequestView v;
            v.report = ReadReport(row, 0);
            constexpr int c = sql::kReportFields;
            v.case_status = sql::StoredStatus(row[c].c_str());
            v.department = row[c + 1].as<std::string>();
            v.case_updated_ms = row[c + 2].as<int64_t>();
            v.deadline_ms = row[c + 3].as<int64_t>();
            const ReportId primary = row[c + 4].as<int64_t>();
            v.parent_report = sql::ParentReport(v.report, primary);
            out.push_back(std::move(v));
        }
        return out;
    }

    Result<Stats> ComputeStats(TimeMs now) override {
        Stats out;
        CB_TRY_ASSIGN(pqxx::result totals, Query("SELECT COUNT(*), COALESCE(SUM(duplicate),0) FROM reports", {}));
        out.reports = totals[0][0].as<int64_t>();
        out.duplicates = totals[0][1].as<int64_t>();
        CB_TRY_ASSIGN(pqxx::result groups,
                      Query("SELECT status, department, COUNT(*), "
                            "SUM(CASE WHEN deadline_ms > 0 AND deadline_ms < $1 THEN 1 ELSE 0 END), "
                            "SUM(CASE WHEN escalations > 0 THEN 1 ELSE 0 END) FROM cases GROUP BY status, department",
                            {std::to_string(now)}));
        for (const auto& row : groups) {
            sql::AddCaseGroup(out,
                              row[0].as<std::string>(),
                              row[1].as<std::string>(),
                              row[2].as<int64_t>(),
                              row[3].as<int64_t>(),
                              row[4].as<int64_t>());
        }
        CB_TRY_ASSIGN(pqxx::result median,
                      Query("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY closed_ms - created_ms) FROM cases "
                            "WHERE status IN ('closed','evaluated')",
                            {}));
        if (!median[0][0].is_null()) out.median_close_s = median[0][0].as<double>() / 1000.0;
        return out;
    }

private:
    Result<pqxx::result> Query(const std::string& sql, const std::vector<std::string>& params) {
        std::lock_guard lock(read_mu_);
        try {
            CheckAlive(*reader_);
            pqxx::read_transaction tx(*reader_);
            return tx.exec_params(sql, pqxx::prepare::make_dynamic_params(params));
        } catch (const std::exception& e) {
            return PgError(e, "query");
        }
    }

    std::mutex write_mu_;
    std::mutex read_mu_;
    std::unique_ptr<pqxx::connection> writer_;
    std::unique_ptr<pqxx::connection> reader_;
    int64_t epoch_ = 0;  // this store's claim; 0: it never claimed, and writes unfenced
};

}  // namespace

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url, const std::string& schema) {
    auto store = std::make_unique<PostgresStore>();
    CB_TRY(store->Open(url, schema));
    return std::unique_ptr<Store>(std::move(store));
}

}  // namespace citybrain::incident
