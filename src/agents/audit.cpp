// SPDX-License-Identifier: Apache-2.0
#include "agents/audit.hpp"

#include <sqlite3.h>

#include <mutex>
#include <pqxx/pqxx>

namespace citybrain::agents {

namespace {

constexpr const char* kColumns =
    "ts_ms, request_id, key_name, agent, team, endpoint, model, upstream, status, tokens_in, tokens_out, "
    "usage_source, latency_ms, stream, content_sha256, content, error";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS gateway_audit (
  id INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  key_name TEXT NOT NULL,
  agent TEXT NOT NULL,
  team TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  model TEXT NOT NULL,
  upstream TEXT NOT NULL,
  status INTEGER NOT NULL,
  tokens_in INTEGER NOT NULL,
  tokens_out INTEGER NOT NULL,
  usage_source TEXT NOT NULL,
  latency_ms INTEGER NOT NULL,
  stream INTEGER NOT NULL,
  content_sha256 TEXT NOT NULL,
  content TEXT,
  error TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gateway_audit_key_ts ON gateway_audit(key_name, ts_ms);
)sql";

Error SqlError(sqlite3* db, const std::string& what) {
    return Error{ErrorCode::kInternal, what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "no database"), "audit"};
}

class SqliteAudit final : public AuditLog {
public:
    static Result<std::unique_ptr<AuditLog>> Open(const std::string& path);
    ~SqliteAudit() override;
    const char* Kind() const override { return "sqlite"; }
    Status Append(const AuditRecord& r) override;
    Result<int64_t> TokensSince(const std::string& key_name, int64_t since_ms) override;
    Result<int64_t> Count() override;

private:
    std::mutex mu_;
    sqlite3* db_ = nullptr;
    sqlite3_stmt* insert_ = nullptr;
};

Result<std::unique_ptr<AuditLog>> SqliteAudit::Open(const std::string& path) {
    std::unique_ptr<SqliteAudit> log(new SqliteAudit());
    if (sqlite3_open_v2(
            path.c_str(), &log->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
        SQLITE_OK) {
        return Error{ErrorCode::kInvalidArgument,
                     std::string("cannot open the audit database: ") + sqlite3_errmsg(log->db_),
                     path};
    }
    sqlite3_busy_timeout(log->db_, 5000);
    // WAL with synchronous=NORMAL: a commit survives the process's death (kill -9); only a power cut can take
    // the last commits, which is the trade every log at this rate makes.
    char* err = nullptr;
    const std::string setup = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;") + kSchema;
    if (sqlite3_exec(log->db_, setup.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err != nullptr ? err : "unknown";
        sqlite3_free(err);
        return Error{ErrorCode::kInvalidArgument, "not a usable audit database: " + msg, path};
    }
    const std::string sql =
        std::string("INSERT INTO gateway_audit (") + kColumns + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    if (sqlite3_prepare_v2(log->db_, sql.c_str(), -1, &log->insert_, nullptr) != SQLITE_OK) {
        return SqlError(log->db_, "prepare");
    }
    return std::unique_ptr<AuditLog>(std::move(log));
}

SqliteAudit::~SqliteAudit() {
    sqlite3_finalize(insert_);
    sqlite3_close_v2(db_);
}

Status SqliteAudit::Append(const AuditRecord& r) {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = insert_;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    int i = 0;
    auto text = [&](const std::string& v) {
        sqlite3_bind_text(s, ++i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    };
    auto integer = [&](int64_t v) { sqlite3_bind_int64(s, ++i, v); };
    integer(r.ts_ms);
    text(r.request_id);
    text(r.key_name);
    text(r.agent);
    text(r.team);
    text(r.endpoint);
    text(r.model);
    text(r.upstream);
    integer(r.status);
    integer(r.tokens_in);
    integer(r.tokens_out);
    text(r.usage_source);
    integer(r.latency_ms);
    integer(r.stream ? 1 : 0);
    text(r.content_sha256);
    if (r.content.empty()) {
        sqlite3_bind_null(s, ++i);
    } else {
        text(r.content);
    }
    text(r.error);
    if (sqlite3_step(s) != SQLITE_DONE) return SqlError(db_, "append");
    return {};
}

Result<int64_t> SqliteAudit::TokensSince(const std::string& key_name, int64_t since_ms) {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_,
                           "SELECT COALESCE(SUM(tokens_in + tokens_out), 0) FROM gateway_audit WHERE key_name = ? AND "
                           "ts_ms >= ?",
                           -1,
                           &s,
                           nullptr) != SQLITE_OK) {
        return SqlError(db_, "prepare");
    }
    sqlite3_bind_text(s, 1, key_name.data(), static_cast<int>(key_name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, since_ms);
    int64_t total = 0;
    if (sqlite3_step(s) == SQLITE_ROW) total = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return total;
}

Result<int64_t> SqliteAudit::Count() {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT COUNT(*) FROM gateway_audit", -1, &s, nullptr) != SQLITE_OK) {
        return SqlError(db_, "prepare");
    }
    int64_t n = 0;
    if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

/// The same log in PostgreSQL: one connection, each row its own committed transaction.
class PostgresAudit final : public AuditLog {
public:
    static Result<std::unique_ptr<AuditLog>> Open(const std::string& url) {
        std::unique_ptr<PostgresAudit> log(new PostgresAudit());
        try {
            log->conn_ = std::make_unique<pqxx::connection>(url);
            pqxx::work tx(*log->conn_);
            tx.exec("SET client_min_messages TO WARNING");
            tx.exec(R"sql(
CREATE TABLE IF NOT EXISTS gateway_audit (
  id BIGSERIAL PRIMARY KEY, ts_ms BIGINT NOT NULL, request_id TEXT NOT NULL, key_name TEXT NOT NULL,
  agent TEXT NOT NULL, team TEXT NOT NULL, endpoint TEXT NOT NULL, model TEXT NOT NULL, upstream TEXT NOT NULL,
  status INTEGER NOT NULL, tokens_in BIGINT NOT NULL, tokens_out BIGINT NOT NULL, usage_source TEXT NOT NULL,
  latency_ms BIGINT NOT NULL, stream INTEGER NOT NULL, content_sha256 TEXT NOT NULL, content TEXT, error TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS gateway_audit_key_ts ON gateway_audit(key_name, ts_ms);
)sql");
            tx.commit();
            log->conn_->prepare("append",
                                std::string("INSERT INTO gateway_audit (") + kColumns +
                                    ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)");
        } catch (const std::exception& e) {
            return Error{
                ErrorCode::kInvalidArgument, std::string("cannot use the audit database: ") + e.what(), "--audit"};
        }
        return std::unique_ptr<AuditLog>(std::move(log));
    }
    const char* Kind() const override { return "postgresql"; }

    Status Append(const AuditRecord& r) override {
        std::lock_guard lock(mu_);
        try {
            pqxx::work tx(*conn_);
            tx.exec_prepared("append",
                             r.ts_ms,
                             r.request_id,
                             r.key_name,
                             r.agent,
                             r.team,
                             r.endpoint,
                             r.model,
                             r.upstream,
                             r.status,
                             r.tokens_in,
                             r.tokens_out,
                             r.usage_source,
                             r.latency_ms,
                             r.stream ? 1 : 0,
                             r.content_sha256,
                             r.content.empty() ? nullptr : r.content.c_str(),
                             r.error);
            tx.commit();
        } catch (const std::exception& e) {
            return Error{ErrorCode::kUnavailable, std::string("audit append: ") + e.what(), "audit"};
        }
        return {};
    }

    Result<int64_t> TokensSince(const std::string& key_name, int64_t since_ms) override {
        return Scalar(
            "SELECT COALESCE(SUM(tokens_in + tokens_out), 0) FROM gateway_audit WHERE key_name = $1 AND "
            "ts_ms >= $2",
            key_name,
            since_ms);
    }
    Result<int64_t> Count() override {
        std::lock_guard lock(mu_);
        try {
            pqxx::read_transaction tx(*conn_);
            return tx.exec("SELECT COUNT(*) FROM gateway_audit")[0][0].as<int64_t>();
        } catch (const std::exception& e) {
            return Error{ErrorCode::kUnavailable, std::string("audit query: ") + e.what(), "audit"};
        }
    }

private:
    Result<int64_t> Scalar(const char* sql, const std::string& a, int64_t b) {
        std::lock_guard lock(mu_);
        try {
            pqxx::read_transaction tx(*conn_);
            const pqxx::result r = tx.exec_params(sql, a, b);
            return r[0][0].as<int64_t>();
        } catch (const std::exception& e) {
            return Error{ErrorCode::kUnavailable, std::string("audit query: ") + e.what(), "audit"};
        }
    }
    std::mutex mu_;
    std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& where) {
    if (where.rfind("postgresql://", 0) == 0 || where.rfind("postgres://", 0) == 0) {
        return PostgresAudit::Open(where);
    }
    return SqliteAudit::Open(where);
}

}  // namespace citybrain::agents
