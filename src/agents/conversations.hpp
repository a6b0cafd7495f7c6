// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

struct sqlite3;

namespace citybrain::agents {

/// What was said in a conversation, by whom.
struct Utterance {
    std::string citizen;
    int64_t ts_ms = 0;
    std::string role;  // citizen | agent
    std::string agent;
    std::string text;
    std::string intent;
    int64_t case_id = 0;
};

/// A report still missing a slot (its place), waiting for the citizen's next message.
struct PendingReport {
    std::string text;
    int64_t ts_ms = 0;
    std::optional<double> lat, lon;
};

/// Conversations per citizen (SQLite, WAL): every message and answer, every tool call with its arguments and
/// outcome, and the report waiting for a slot. The citizen's cases are the ones their conversation created, so a
/// citizen can ask after their own cases and no one else's. Thread-safe.
class Conversations {
public:
    static Result<std::unique_ptr<Conversations>> Open(const std::string& path);
    ~Conversations();
    Conversations(const Conversations&) = delete;
    Conversations& operator=(const Conversations&) = delete;

    Status Append(const Utterance& u);
    Status AppendToolCall(const std::string& citizen,
                          int64_t ts_ms,
                          const std::string& agent,
                          const std::string& tool,
                          const nlohmann::json& arguments,
                          bool ok,
                          const std::string& result);
    /// The cases this citizen's conversation created, newest first.
    Result<std::vector<int64_t>> CasesOf(const std::string& citizen);
    Result<std::vector<Utterance>> History(const std::string& citizen, size_t limit);
    Status SetPending(const std::string& citizen, const PendingReport& p);
    Result<std::optional<PendingReport>> Pending(const std::string& citizen);
    Status ClearPending(const std::string& citizen);

private:
    Conversations() = default;
    Status Exec(const std::string& sql);
    std::mutex mu_;
    sqlite3* db_ = nullptr;
};

}  // namespace citybrain::agents
