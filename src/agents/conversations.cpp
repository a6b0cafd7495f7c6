// SPDX-License-Identifier: Apache-2.0
#include "agents/conversations.hpp"

#include <sqlite3.h>

namespace citybrain::agents {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY, citizen TEXT NOT NULL, ts_ms INTEGER NOT NULL, role TEXT NOT NULL, agent TEXT NOT NULL,
  text TEXT NOT NULL, intent TEXT NOT NULL, case_id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS messages_citizen ON messages(citizen, id);
CREATE TABLE IF NOT EXISTS tool_calls (
  id INTEGER PRIMARY KEY, citizen TEXT NOT NULL, ts_ms INTEGER NOT NULL, agent TEXT NOT NULL, tool TEXT NOT NULL,
  arguments TEXT NOT NULL, ok INTEGER NOT NULL, result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending (
  citizen TEXT PRIMARY KEY, text TEXT NOT NULL, ts_ms INTEGER NOT NULL, lat REAL, lon REAL);
)sql";

/// A prepared statement that finalises itself.
class Stmt {
public:
    Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
    ~Stmt() { sqlite3_finalize(s_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    bool ok() const { return s_ != nullptr; }
    Stmt& Text(int i, const std::string& v) {
        sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt& Int(int i, int64_t v) {
        sqlite3_bind_int64(s_, i, v);
        return *this;
    }
    Stmt& Real(int i, std::optional<double> v) {
        if (v) {
            sqlite3_bind_double(s_, i, *v);
        } else {
            sqlite3_bind_null(s_, i);
        }
        return *this;
    }
    int Step() { return sqlite3_step(s_); }
    sqlite3_stmt* get() { return s_; }

private:
    sqlite3_stmt* s_ = nullptr;
};

std::string Col(sqlite3_stmt* s, int i) {
    const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
    return t != nullptr ? std::string(t, static_cast<size_t>(sqlite3_column_bytes(s, i))) : std::string();
}

}  // namespace

Result<std::unique_ptr<Conversations>> Conversations::Open(const std::string& path) {
    std::unique_ptr<Conversations> c(new Conversations());
    if (sqlite3_open_v2(
            path.c_str(), &c->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
        SQLITE_OK) {
        return InvalidArgument("--conversations", std::string("cannot open '") + path + "': " + sqlite3_errmsg(c->db_));
    }
    sqlite3_busy_timeout(c->db_, 5000);
    if (Status s = c->Exec(std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;") + kSchema); !s.ok()) {
        return InvalidArgument("--conversations", "'" + path + "' is not a usable database: " + s.error().message);
    }
    return c;
}

Conversations::~Conversations() { sqlite3_close_v2(db_); }

Status Conversations::Exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err != nullptr ? err : "unknown";
        sqlite3_free(err);
        return Error{ErrorCode::kInternal, msg, "conversations"};
    }
    return {};
}

Status Conversations::Append(const Utterance& u) {
    std::lock_guard lock(mu_);
    Stmt s(db_, "INSERT INTO messages (citizen, ts_ms, role, agent, text, intent, case_id) VALUES (?,?,?,?,?,?,?)");
    s.Text(1, u.citizen)
        .Int(2, u.ts_ms)
        .Text(3, u.role)
        .Text(4, u.agent)
        .Text(5, u.text)
        .Text(6, u.intent)
        .Int(7, u.case_id);
    if (s.Step() != SQLITE_DONE) return Error{ErrorCode::kInternal, sqlite3_errmsg(db_), "conversations"};
    return {};
}

Status Conversations::AppendToolCall(const std::string& citizen,
                                     int64_t ts_ms,
                                     const std::string& agent,
                                     const std::string& tool,
                                     const nlohmann::json& arguments,
                                     bool ok,
                                     const std::string& result) {
    std::lock_guard lock(mu_);
    Stmt s(db_, "INSERT INTO tool_calls (citizen, ts_ms, agent, tool, arguments, ok, result) VALUES (?,?,?,?,?,?,?)");
    s.Text(1, citizen)
        .Int(2, ts_ms)
        .Text(3, agent)
        .Text(4, tool)
        .Text(5, arguments.dump())
        .Int(6, ok ? 1 : 0)
        .Text(7, result);
    if (s.Step() != SQLITE_DONE) return Error{ErrorCode::kInternal, sqlite3_errmsg(db_), "conversations"};
    return {};
}

Result<std::vector<int64_t>> Conversations::CasesOf(const std::string& citizen) {
    std::lock_guard lock(mu_);
    Stmt s(db_,
           "SELECT case_id FROM messages WHERE citizen = ? AND case_id > 0 GROUP BY case_id ORDER BY MAX(id) DESC");
    s.Text(1, citizen);
    std::vector<int64_t> out;
    while (s.Step() == SQLITE_ROW) out.push_back(sqlite3_column_int64(s.get(), 0));
    return out;
}

Result<std::vector<Utterance>> Conversations::History(const std::string& citizen, size_t limit) {
    std::lock_guard lock(mu_);
    Stmt s(db_,
           "SELECT citizen, ts_ms, role, agent, text, intent, case_id FROM (SELECT * FROM messages WHERE citizen = ? "
           "ORDER BY id DESC LIMIT ?) ORDER BY id");
    s.Text(1, citizen).Int(2, static_cast<int64_t>(limit));
    std::vector<Utterance> out;
    while (s.Step() == SQLITE_ROW) {
        out.push_back({Col(s.get(), 0),
                       sqlite3_column_int64(s.get(), 1),
                       Col(s.get(), 2),
                       Col(s.get(), 3),
                       Col(s.get(), 4),
                       Col(s.get(), 5),
                       sqlite3_column_int64(s.get(), 6)});
    }
    return out;
}

Status Conversations::SetPending(const std::string& citizen, const PendingReport& p) {
    std::lock_guard lock(mu_);
    Stmt s(db_, "INSERT OR REPLACE INTO pending (citizen, text, ts_ms, lat, lon) VALUES (?,?,?,?,?)");
    s.Text(1, citizen).Text(2, p.text).Int(3, p.ts_ms).Real(4, p.lat).Real(5, p.lon);
    if (s.Step() != SQLITE_DONE) return Error{ErrorCode::kInternal, sqlite3_errmsg(db_), "conversations"};
    return {};
}

Result<std::optional<PendingReport>> Conversations::Pending(const std::string& citizen) {
    std::lock_guard lock(mu_);
    Stmt s(db_, "SELECT text, ts_ms, lat, lon FROM pending WHERE citizen = ?");
    s.Text(1, citizen);
    if (s.Step() != SQLITE_ROW) return std::optional<PendingReport>();
    PendingReport p;
    p.text = Col(s.get(), 0);
    p.ts_ms = sqlite3_column_int64(s.get(), 1);
    if (sqlite3_column_type(s.get(), 2) != SQLITE_NULL) p.lat = sqlite3_column_double(s.get(), 2);
    if (sqlite3_column_type(s.get(), 3) != SQLITE_NULL) p.lon = sqlite3_column_double(s.get(), 3);
    return std::optional<PendingReport>(p);
}

Status Conversations::ClearPending(const std::string& citizen) {
    std::lock_guard lock(mu_);
    Stmt s(db_, "DELETE FROM pending WHERE citizen = ?");
    s.Text(1, citizen);
    s.Step();
    return {};
}

}  // namespace citybrain::agents
