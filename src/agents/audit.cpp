// SPDX-License-Identifier: Apache-2.0
#include "agents/audit.hpp"

#include <sqlite3.h>

namespace citybrain::agents {

namespace {

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

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path) {
    std::unique_ptr<AuditLog> log(new AuditLog());
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
    const char* sql =
        "INSERT INTO gateway_audit (ts_ms, request_id, key_name, agent, team, endpoint, model, upstream, status, "
        "tokens_in, tokens_out, usage_source, latency_ms, stream, content_sha256, content, error) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    if (sqlite3_prepare_v2(log->db_, sql, -1, &log->insert_, nullptr) != SQLITE_OK) {
        return SqlError(log->db_, "prepare");
    }
    return log;
}

AuditLog::~AuditLog() {
    sqlite3_finalize(insert_);
    sqlite3_close_v2(db_);
}

Status AuditLog::Append(const AuditRecord& r) {
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

Result<int64_t> AuditLog::TokensSince(const std::string& key_name, int64_t since_ms) {
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

Result<int64_t> AuditLog::Count() {
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

}  // namespace citybrain::agents
