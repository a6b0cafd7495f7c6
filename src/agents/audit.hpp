// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/error.hpp"

namespace citybrain::agents {

/// One call through the gateway, as the audit keeps it.
struct AuditRecord {
    int64_t ts_ms = 0;  // when the call ended
    std::string request_id;
    std::string key_name;
    std::string agent;
    std::string team;
    std::string endpoint;  // chat.completions, embeddings, models
    std::string model;
    std::string upstream;  // who answered ("" when none did)
    int status = 0;        // what the client got
    int64_t tokens_in = 0;
    int64_t tokens_out = 0;
    std::string usage_source;  // upstream (its usage field), estimate, or none
    int64_t latency_ms = 0;
    bool stream = false;
    std::string content_sha256;  // of the request body and every byte of answer relayed
    std::string content;         // only when the configuration asks for it
    std::string error;           // what went wrong, for the operators
};

/// The gateway's audit log: one row per call, committed before the call's last byte goes to the client, so what
/// a client received is on record even after `kill -9`. Also the memory of budgets: at start the gateway sums each
/// key's tokens in its period from here. SQLite (a file, WAL) by default; PostgreSQL for a compute centre whose
/// gateways share one log. Thread-safe.
class AuditLog {
public:
    /// A PostgreSQL URL (postgresql://…) or a SQLite file.
    static Result<std::unique_ptr<AuditLog>> Open(const std::string& where);
    virtual ~AuditLog() = default;
    virtual const char* Kind() const = 0;
    virtual Status Append(const AuditRecord& r) = 0;
    /// Tokens (in + out) recorded for a key since `since_ms`.
    virtual Result<int64_t> TokensSince(const std::string& key_name, int64_t since_ms) = 0;
    virtual Result<int64_t> Count() = 0;
};

}  // namespace citybrain::agents
