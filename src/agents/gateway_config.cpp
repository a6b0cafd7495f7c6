// SPDX-License-Identifier: Apache-2.0
#include "agents/gateway_config.hpp"

#include <sodium.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "core/file.hpp"

namespace citybrain::agents {

namespace {

using nlohmann::json;

/// Refuses fields the schema does not have, by name.
Status OnlyFields(const json& obj, const std::string& where, const std::set<std::string>& allowed) {
    for (const auto& [k, v] : obj.items()) {
        // A field with an empty name is still named, as "": an error always says where.
        if (allowed.count(k) == 0) return InvalidArgument(where + (k.empty() ? "\"\"" : k), "unknown field");
    }
    return {};
}

Result<std::string> Text(const json& obj, const std::string& where, const char* name, bool required) {
    if (!obj.contains(name)) {
        if (required) return InvalidArgument(where + name, "missing");
        return std::string();
    }
    if (!obj[name].is_string()) return InvalidArgument(where + name, "must be a string");
    return obj[name].get<std::string>();
}

Result<int64_t> Integer(
    const json& obj, const std::string& where, const char* name, int64_t fallback, int64_t lo, int64_t hi) {
    if (!obj.contains(name)) return fallback;
    const json& v = obj[name];
    if (!v.is_number_integer()) return InvalidArgument(where + name, "must be an integer");
    const auto n = v.get<int64_t>();
    if (n < lo || n > hi) {
        return InvalidArgument(where + name, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    return n;
}

Result<int64_t> Seconds(const json& obj, const std::string& where, const char* name, int64_t fallback_ms, double hi_s) {
    if (!obj.contains(name)) return fallback_ms;
    const json& v = obj[name];
    if (!v.is_number()) return InvalidArgument(where + name, "must be a number of seconds");
    const double s = v.get<double>();
    if (!(s > 0) || s > hi_s) return InvalidArgument(where + name, "must be in (0, " + std::to_string(hi_s) + "]");
    return static_cast<int64_t>(std::llround(s * 1000));
}

Result<std::vector<std::string>> Names(const json& obj, const std::string& where, const char* name) {
    std::vector<std::string> out;
    if (!obj.contains(name)) return out;
    if (!obj[name].is_array()) return InvalidArgument(where + name, "must be an array of model names");
    for (size_t i = 0; i < obj[name].size(); ++i) {
        const json& m = obj[name][i];
        if (!m.is_string() || m.get<std::string>().empty()) {
            return InvalidArgument(where + name + "[" + std::to_string(i) + "]", "must be a non-empty string");
        }
        out.push_back(m.get<std::string>());
    }
    return out;
}

bool IsHex64(const std::string& s) {
    if (s.size() != 64) return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

Result<UpstreamConfig> ParseUpstream(const json& u, const std::string& where) {
    if (!u.is_object()) return InvalidArgument(where.substr(0, where.size() - 1), "must be an object");
    CB_TRY(OnlyFields(
        u,
        where,
        {"name", "url", "api_key", "api_key_env", "models", "weight", "priority", "timeout_s", "max_concurrency"}));
    UpstreamConfig c;
    CB_TRY_ASSIGN(c.name, Text(u, where, "name", true));
    CB_TRY_ASSIGN(c.url, Text(u, where, "url", true));
    if (c.url.rfind("http://", 0) != 0) {
        return InvalidArgument(where + "url", "must start with http:// (put a TLS proxy in front for https)");
    }
    CB_TRY_ASSIGN(c.api_key, Text(u, where, "api_key", false));
    CB_TRY_ASSIGN(const std::string env, Text(u, where, "api_key_env", false));
    if (!env.empty()) {
        const char* v = std::getenv(env.c_str());
        if (v == nullptr) return InvalidArgument(where + "api_key_env", "environment variable " + env + " is not set");
        c.api_key = v;
    }
    CB_TRY_ASSIGN(c.models, Names(u, where, "models"));
    if (c.models.empty()) return InvalidArgument(where + "models", "must name at least one model (or \"*\")");
    for (const std::string& m : c.models) {
        if (m == kLocalModel) return InvalidArgument(where + "models", "citybrain-local is served in process");
    }
    CB_TRY_ASSIGN(const int64_t weight, Integer(u, where, "weight", 1, 1, 1000));
    CB_TRY_ASSIGN(const int64_t priority, Integer(u, where, "priority", 0, 0, 100));
    CB_TRY_ASSIGN(const int64_t concurrency, Integer(u, where, "max_concurrency", 64, 1, 100000));
    c.weight = static_cast<int>(weight);
    c.priority = static_cast<int>(priority);
    c.max_concurrency = static_cast<int>(concurrency);
    CB_TRY_ASSIGN(c.timeout_ms, Seconds(u, where, "timeout_s", 30000, 600));
    return c;
}

Result<KeyConfig> ParseKey(const json& k, const std::string& where) {
    if (!k.is_object()) return InvalidArgument(where.substr(0, where.size() - 1), "must be an object");
    CB_TRY(
        OnlyFields(k, where, {"name", "sha256", "agent", "team", "models", "rpm", "tpm", "budget_tokens", "period"}));
    KeyConfig c;
    CB_TRY_ASSIGN(c.name, Text(k, where, "name", true));
    CB_TRY_ASSIGN(c.sha256, Text(k, where, "sha256", true));
    if (!IsHex64(c.sha256)) {
        return InvalidArgument(where + "sha256",
                               "must be the key's SHA-256 in 64 lower-case hex digits (citybrain gateway key prints "
                               "one); the key itself is never stored");
    }
    CB_TRY_ASSIGN(c.agent, Text(k, where, "agent", false));
    CB_TRY_ASSIGN(c.team, Text(k, where, "team", false));
    CB_TRY_ASSIGN(c.models, Names(k, where, "models"));
    constexpr int64_t kMax = int64_t{1} << 50;
    CB_TRY_ASSIGN(c.rpm, Integer(k, where, "rpm", 0, 0, kMax));
    CB_TRY_ASSIGN(c.tpm, Integer(k, where, "tpm", 0, 0, kMax));
    CB_TRY_ASSIGN(c.budget_tokens, Integer(k, where, "budget_tokens", 0, 0, kMax));
    CB_TRY_ASSIGN(const std::string period, Text(k, where, "period", false));
    if (period.empty() || period == "day") {
        c.period = BudgetPeriod::kDay;
    } else if (period == "month") {
        c.period = BudgetPeriod::kMonth;
    } else if (period == "total") {
        c.period = BudgetPeriod::kTotal;
    } else {
        return InvalidArgument(where + "period", "must be day, month or total");
    }
    return c;
}

Result<std::vector<KeyConfig>> ParseKeyList(const json& keys, const std::string& where) {
    if (!keys.is_array()) return InvalidArgument(where, "must be an array");
    std::vector<KeyConfig> out;
    std::set<std::string> names, hashes;
    for (size_t i = 0; i < keys.size(); ++i) {
        const std::string at = where + "[" + std::to_string(i) + "].";
        CB_TRY_ASSIGN(KeyConfig k, ParseKey(keys[i], at));
        if (!names.insert(k.name).second) return InvalidArgument(at + "name", "'" + k.name + "' is used twice");
        if (!hashes.insert(k.sha256).second) return InvalidArgument(at + "sha256", "the same key is listed twice");
        out.push_back(std::move(k));
    }
    return out;
}

}  // namespace

std::string Hex(const unsigned char* bytes, size_t n) {
    std::string out(2 * n + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), bytes, n);
    out.pop_back();  // the terminating NUL libsodium writes
    return out;
}

std::string Sha256Hex(std::string_view data) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    return Hex(digest, sizeof digest);
}

std::string NewKey() {
    if (sodium_init() < 0) std::abort();  // no entropy source: nothing safe can be made
    unsigned char raw[20];
    randombytes_buf(raw, sizeof raw);
    return "cbk-" + Hex(raw, sizeof raw);
}

Result<GatewayConfig> ParseGatewayConfig(std::string_view text, std::string_view source) {
    const json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) return InvalidArgument(std::string(source), "not valid JSON");
    if (!doc.is_object()) return InvalidArgument(std::string(source), "must be a JSON object");
    CB_TRY(OnlyFields(doc, "", {"upstreams", "keys", "breaker", "fallback_local", "audit"}));
    GatewayConfig c;
    if (doc.contains("upstreams")) {
        if (!doc["upstreams"].is_array()) return InvalidArgument("upstreams", "must be an array");
        std::set<std::string> names;
        for (size_t i = 0; i < doc["upstreams"].size(); ++i) {
            const std::string at = "upstreams[" + std::to_string(i) + "].";
            CB_TRY_ASSIGN(UpstreamConfig u, ParseUpstream(doc["upstreams"][i], at));
            if (!names.insert(u.name).second) return InvalidArgument(at + "name", "'" + u.name + "' is used twice");
            c.upstreams.push_back(std::move(u));
        }
    }
    if (doc.contains("keys")) {
        CB_TRY_ASSIGN(c.keys, ParseKeyList(doc["keys"], "keys"));
    }
    if (doc.contains("breaker")) {
        const json& b = doc["breaker"];
        if (!b.is_object()) return InvalidArgument("breaker", "must be an object");
        CB_TRY(OnlyFields(b, "breaker.", {"failures", "cooldown_s"}));
        CB_TRY_ASSIGN(const int64_t failures, Integer(b, "breaker.", "failures", 3, 1, 1000));
        c.breaker_failures = static_cast<int>(failures);
        CB_TRY_ASSIGN(c.breaker_cooldown_ms, Seconds(b, "breaker.", "cooldown_s", 30000, 86400));
    }
    if (doc.contains("fallback_local")) {
        if (!doc["fallback_local"].is_boolean()) return InvalidArgument("fallback_local", "must be true or false");
        c.fallback_local = doc["fallback_local"].get<bool>();
    }
    if (doc.contains("audit")) {
        const json& a = doc["audit"];
        if (!a.is_object()) return InvalidArgument("audit", "must be an object");
        CB_TRY(OnlyFields(a, "audit.", {"content"}));
        if (a.contains("content")) {
            if (!a["content"].is_boolean()) return InvalidArgument("audit.content", "must be true or false");
            c.audit_content = a["content"].get<bool>();
        }
    }
    return c;
}

Result<GatewayConfig> LoadGatewayConfig(const std::string& path) {
    CB_TRY_ASSIGN(const std::string text, core::ReadFile(path));
    auto c = ParseGatewayConfig(text, path);
    if (!c.ok()) {
        Error e = c.error();
        e.message = e.where + ": " + e.message;
        e.where = path;
        return e;
    }
    return c;
}

Result<std::vector<KeyConfig>> LoadKeysFile(const std::string& path) {
    CB_TRY_ASSIGN(const std::string text, core::ReadFile(path));
    const json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys")) {
        return InvalidArgument(path, "must be a JSON object with a \"keys\" array");
    }
    auto keys = ParseKeyList(doc["keys"], "keys");
    if (!keys.ok()) {
        Error e = keys.error();
        e.message = e.where + ": " + e.message;
        e.where = path;
        return e;
    }
    return keys;
}

Result<std::vector<KeyConfig>> KeysFromEnv(std::string_view value) {
    std::vector<KeyConfig> out;
    size_t start = 0;
    int n = 0;
    while (start <= value.size()) {
        size_t comma = value.find(',', start);
        if (comma == std::string_view::npos) comma = value.size();
        std::string item(value.substr(start, comma - start));
        start = comma + 1;
        while (!item.empty() && item.back() == ' ') item.pop_back();
        while (!item.empty() && item.front() == ' ') item.erase(0, 1);
        if (item.empty()) continue;
        KeyConfig k;
        const size_t eq = item.find('=');
        if (eq != std::string::npos) {
            k.name = item.substr(0, eq);
            item = item.substr(eq + 1);
        } else {
            k.name = "env-" + std::to_string(++n);
        }
        if (item.size() < 8) {
            return InvalidArgument("CITYBRAIN_GATEWAY_KEYS", "a key is shorter than 8 characters ('" + k.name + "')");
        }
        k.sha256 = Sha256Hex(item);
        out.push_back(std::move(k));
    }
    return out;
}

}  // namespace citybrain::agents
