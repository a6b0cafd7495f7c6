// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace citybrain::agents {

/// The model served in process: the deterministic citizen-message pipeline behind the chat API.
inline constexpr std::string_view kLocalModel = "citybrain-local";

/// An OpenAI-compatible server the gateway forwards to (vLLM, another gateway, a vendor's API).
struct UpstreamConfig {
    std::string name;
    std::string url;      // base URL ending where /chat/completions is appended, e.g. http://10.0.0.5:8000/v1
    std::string api_key;  // sent upstream as a bearer token; from `api_key_env` when that is set
    std::vector<std::string> models;  // the model names it serves; "*" serves any name
    int weight = 1;                   // share of the traffic among upstreams of the same priority
    int priority = 0;                 // lower is tried first; a higher one is where failover goes
    int64_t timeout_ms = 30000;       // connect to first byte, and the longest silence inside a stream
    int max_concurrency = 64;         // requests in flight at once; past it the next upstream is tried
};

enum class BudgetPeriod { kDay, kMonth, kTotal };

/// A virtual key, as an agent or a team holds it. Only the key's SHA-256 is kept, in files and in memory.
struct KeyConfig {
    std::string name;  // recorded in the audit log
    std::string sha256;
    std::string agent;
    std::string team;
    std::vector<std::string> models;  // the models it may call; empty: all
    int64_t rpm = 0;                  // requests per minute; 0: unlimited
    int64_t tpm = 0;                  // tokens (in + out) per minute; 0: unlimited
    int64_t budget_tokens = 0;        // tokens per period; 0: unlimited
    BudgetPeriod period = BudgetPeriod::kDay;
};

struct GatewayConfig {
    std::vector<UpstreamConfig> upstreams;
    std::vector<KeyConfig> keys;
    int breaker_failures = 3;             // consecutive failures that open an upstream's breaker
    int64_t breaker_cooldown_ms = 30000;  // open this long, then one trial request decides
    bool fallback_local = true;           // when every upstream of a model fails, citybrain-local answers
    bool audit_content = false;           // store the full request and response, not only their hash
};

/// The gateway's configuration file (JSON): {"upstreams": [...], "keys": [...], "breaker": {"failures",
/// "cooldown_s"}, "fallback_local": bool, "audit": {"content": bool}}. Errors name the field, e.g.
/// "upstreams[1].timeout_s". Unknown fields are refused by name: a misspelt limit must not pass silently.
Result<GatewayConfig> ParseGatewayConfig(std::string_view json, std::string_view source);
Result<GatewayConfig> LoadGatewayConfig(const std::string& path);

/// A keys file: {"keys": [...]} with each key as in the configuration.
Result<std::vector<KeyConfig>> LoadKeysFile(const std::string& path);

/// Keys from CITYBRAIN_GATEWAY_KEYS: comma-separated, each `KEY` (named env-1, env-2, …) or `NAME=KEY`, without
/// limits. The keys are hashed here; the plain text is not kept.
Result<std::vector<KeyConfig>> KeysFromEnv(std::string_view value);

/// Bytes as lower-case hex (libsodium).
std::string Hex(const unsigned char* bytes, size_t n);

/// SHA-256 of `data`, lower-case hex (libsodium).
std::string Sha256Hex(std::string_view data);

/// A fresh key: "cbk-" and 40 hex digits from the system's entropy.
std::string NewKey();

}  // namespace citybrain::agents
