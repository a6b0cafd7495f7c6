// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "clinic/model.hpp"
#include "clinic/screener.hpp"
#include "core/error.hpp"

struct sqlite3;

namespace citybrain::clinic {

/// The clinic as the server sees it: screening sessions kept in a SQLite file of their own (health data stays apart
/// from the district's cases). A session holds only the findings, the age band's source (months) and the questions
/// asked: never the patient's words, a name or an address. Every change is committed (WAL, synchronous=FULL) before
/// it is answered, so an acknowledged answer survives kill -9. Thread-safe.
class Clinic {
public:
    /// Opens (or creates) `db_path`; the model and vocabulary must outlive the clinic.
    static Result<std::unique_ptr<Clinic>> Open(const std::string& db_path,
                                                const Model& model,
                                                const Vocabulary& vocabulary,
                                                ScreenerOptions options);
    ~Clinic();
    Clinic(const Clinic&) = delete;
    Clinic& operator=(const Clinic&) = delete;

    /// A new session from the patient's text: its id (128 random bits, hex) and the first turn.
    Result<nlohmann::json> Start(std::string_view text, std::optional<double> age_months, int64_t now_ms);
    /// One answer: `answer` is yes | no | unsure (or 是/没有/不确定). NotFound for an unknown session.
    Result<nlohmann::json> Answer(const std::string& session_id,
                                  std::string_view symptom,
                                  std::string_view answer,
                                  int64_t now_ms);
    /// The session's current turn.
    Result<nlohmann::json> Get(const std::string& session_id);
    size_t sessions() const;
    const Model& model() const { return screener_.model(); }

private:
    Clinic(sqlite3* db, const Model& model, const Vocabulary& vocabulary, ScreenerOptions options)
        : db_(db), screener_(model, vocabulary, options) {}
    Result<Session> Read(const std::string& id);
    Status Write(const std::string& id, const Session& s, int64_t now_ms, bool fresh);
    nlohmann::json Render(const std::string& id, const Session& s) const;

    mutable std::mutex mu_;
    sqlite3* db_;
    Screener screener_;
};

/// A session's state as JSON (what the store keeps) and back.
nlohmann::json SessionToJson(const Session& s);
Result<Session> SessionFromJson(const nlohmann::json& j);

}  // namespace citybrain::clinic
