// SPDX-License-Identifier: Apache-2.0
#include "clinic/clinic.hpp"

#include <sqlite3.h>

#include <cstdio>
#include <random>

#include "core/utf8.hpp"

namespace citybrain::clinic {

namespace {

constexpr const char* kSchema =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS clinic_sessions(id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL, state TEXT NOT NULL);";

std::string NewId() {
    std::random_device entropy;  // the kernel's getrandom on Linux
    std::string id;
    char hex[9];
    for (int i = 0; i < 4; ++i) {
        std::snprintf(hex, sizeof hex, "%08x", entropy());
        id += hex;
    }
    return id;
}

bool ValidId(const std::string& id) {
    if (id.size() != 32) return false;
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

struct Stmt {
    sqlite3_stmt* s = nullptr;
    ~Stmt() { sqlite3_finalize(s); }
};

}  // namespace

nlohmann::json SessionToJson(const Session& s) {
    nlohmann::json items = nlohmann::json::array();
    for (const Finding& f : s.findings.items) items.push_back({f.symptom, static_cast<int>(f.answer), f.duration_days});
    nlohmann::json j{
        {"findings", items}, {"elderly", s.findings.elderly}, {"asked", s.asked}, {"questions", s.questions}};
    if (s.findings.age_months) j["age_months"] = *s.findings.age_months;
    if (s.findings.max_temp_c) j["max_temp_c"] = *s.findings.max_temp_c;
    if (!s.text.empty()) j["text_scores"] = s.text;
    return j;
}

Result<Session> SessionFromJson(const nlohmann::json& j) {
    Session s;
    try {
        for (const auto& f : j.at("findings")) {
            const int a = f.at(1).get<int>();
            if (a < 0 || a > 2) return InvalidArgument("session", "an answer out of range");
            s.findings.items.push_back(
                Finding{f.at(0).get<std::string>(), static_cast<clinic::Answer>(a), f.at(2).get<int>()});
        }
        s.findings.elderly = j.at("elderly").get<bool>();
        s.asked = j.at("asked").get<std::vector<std::string>>();
        s.questions = j.at("questions").get<int>();
        if (j.contains("age_months")) s.findings.age_months = j["age_months"].get<double>();
        if (j.contains("max_temp_c")) s.findings.max_temp_c = j["max_temp_c"].get<double>();
        if (j.contains("text_scores")) s.text = j["text_scores"].get<std::vector<double>>();
    } catch (const nlohmann::json::exception& e) {
        return InvalidArgument("session", std::string("a stored session does not read back: ") + e.what());
    }
    return s;
}

Result<std::unique_ptr<Clinic>> Clinic::Open(const std::string& db_path,
                                             const Model& model,
                                             const Vocabulary& vocabulary,
                                             ScreenerOptions options) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(
            db_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
        SQLITE_OK) {
        const std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        return InvalidArgument(db_path, "cannot open the clinic's session store: " + why);
    }
    char* err = nullptr;
    if (sqlite3_exec(db, kSchema, nullptr, nullptr, &err) != SQLITE_OK) {
        const std::string why = err != nullptr ? err : "unknown error";
        sqlite3_free(err);
        sqlite3_close(db);
        return InvalidArgument(db_path, "not a clinic session store: " + why);
    }
    return std::unique_ptr<Clinic>(new Clinic(db, model, vocabulary, options));
}

Clinic::~Clinic() { sqlite3_close(db_); }

size_t Clinic::sessions() const {
    std::lock_guard lock(mu_);
    Stmt st;
    if (sqlite3_prepare_v2(db_, "SELECT count(*) FROM clinic_sessions", -1, &st.s, nullptr) != SQLITE_OK) return 0;
    return sqlite3_step(st.s) == SQLITE_ROW ? static_cast<size_t>(sqlite3_column_int64(st.s, 0)) : 0;
}

Result<Session> Clinic::Read(const std::string& id) {
    if (!ValidId(id)) return NotFound("session_id", "no clinic session '" + core::Utf8Prefix(id, 40) + "'");
    Stmt st;
    if (sqlite3_prepare_v2(db_, "SELECT state FROM clinic_sessions WHERE id = ?", -1, &st.s, nullptr) != SQLITE_OK)
        return Error{ErrorCode::kInternal, sqlite3_errmsg(db_), "clinic store"};
    sqlite3_bind_text(st.s, 1, id.c_str(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    const int rc = sqlite3_step(st.s);
    if (rc == SQLITE_DONE) return NotFound("session_id", "no clinic session '" + id + "'");
    if (rc != SQLITE_ROW) return Error{ErrorCode::kInternal, sqlite3_errmsg(db_), "clinic store"};
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 0));
    auto j = nlohmann::json::parse(text != nullptr ? text : "", nullptr, false);
    if (j.is_discarded()) return Error{ErrorCode::kInternal, "a stored session is not JSON", "clinic store"};
    return SessionFromJson(j);
}

Status Clinic::Write(const std::string& id, const Session& s, int64_t now_ms, bool fresh) {
    Stmt st;
    const char* sql = fresh ? "INSERT INTO clinic_sessions(id, created_ms, updated_ms, state) VALUES(?1, ?2, ?2, ?3)"
                            : "UPDATE clinic_sessions SET updated_ms = ?2, state = ?3 WHERE id = ?1";
    if (sqlite3_prepare_v2(db_, sql, -1, &st.s, nullptr) != SQLITE_OK)
        return Error{ErrorCode::kInternal, sqlite3_errmsg(db_), "clinic store"};
    const std::string state = SessionToJson(s).dump();
    sqlite3_bind_text(st.s, 1, id.c_str(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(st.s, 2, now_ms);
    sqlite3_bind_text(st.s, 3, state.c_str(), static_cast<int>(state.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(st.s) != SQLITE_DONE) return Error{ErrorCode::kUnavailable, sqlite3_errmsg(db_), "clinic store"};
    return {};
}

nlohmann::json Clinic::Render(const std::string& id, const Session& s) const {
    nlohmann::json j = TurnJson(s, screener_.Next(s));
    j["session_id"] = id;
    j["model"] = screener_.model().source();
    j["notice"] = "仅供筛查参考，不能代替医生诊断";
    return j;
}

Result<nlohmann::json> Clinic::Start(std::string_view text, std::optional<double> age_months, int64_t now_ms) {
    auto s = screener_.Start(text, age_months);
    if (!s.ok()) return s.error();
    std::lock_guard lock(mu_);
    const std::string id = NewId();
    if (auto st = Write(id, *s, now_ms, true); !st.ok()) return st.error();
    return Render(id, *s);
}

Result<nlohmann::json> Clinic::Answer(const std::string& session_id,
                                      std::string_view symptom,
                                      std::string_view answer,
                                      int64_t now_ms) {
    auto a = ParseAnswer(answer, "answer");
    if (!a.ok()) return a.error();
    std::lock_guard lock(mu_);
    auto s = Read(session_id);
    if (!s.ok()) return s.error();
    if (auto st = screener_.Answer(*s, symptom, *a); !st.ok()) return st.error();
    if (auto st = Write(session_id, *s, now_ms, false); !st.ok()) return st.error();
    return Render(session_id, *s);
}

Result<nlohmann::json> Clinic::Get(const std::string& session_id) {
    std::lock_guard lock(mu_);
    auto s = Read(session_id);
    if (!s.ok()) return s.error();
    return Render(session_id, *s);
}

}  // namespace citybrain::clinic
