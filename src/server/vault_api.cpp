// SPDX-License-Identifier: Apache-2.0
#include "server/vault_api.hpp"

#include <sodium.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/time.hpp"
#include "vault/vault.hpp"

namespace citybrain::server {

namespace {

using nlohmann::json;

constexpr std::string_view kPrefix = "/vault/v1/";

ApiResponse Json(int status, const json& body) {
    ApiResponse r;
    r.status = status;
    r.body = body.dump();
    return r;
}

ApiResponse Fail(const ApiRequest& req, int status, const std::string& field, const std::string& message) {
    return ErrorFor(req.target.substr(0, req.target.find('?')), status, field, message, req.request_id);
}

/// The API's mapping, but for Argon2id out of memory (a busy box, not a client sending too much): 503.
int StatusOf(const Error& e) { return e.code == ErrorCode::kResourceExhausted ? 503 : HttpStatus(e.code); }

ApiResponse FromError(const ApiRequest& req, const Error& e) {
    const int status = StatusOf(e);
    if (status >= 500) {
        ApiResponse r = Fail(req, status, "", "the vault could not complete the request");
        r.detail = e.ToString();
        return r;
    }
    return Fail(req, status, e.where, e.message);
}

json RecordJson(const vault::Record& r) {
    return {{"id", r.id}, {"type", r.type}, {"created", core::FormatTimestamp(r.created_ms)}, {"fields", r.fields}};
}

Result<json> Body(const ApiRequest& req) {
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return InvalidArgument("body", "must be a JSON object");
    return j;
}

Result<std::string> TextField(const json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end()) return InvalidArgument(key, "is required");
    if (!it->is_string() || it->get<std::string>().empty()) return InvalidArgument(key, "must be a non-empty string");
    return it->get<std::string>();
}

}  // namespace

VaultApi::VaultApi(vault::Vault& vault, std::function<int64_t()> clock_ms)
    : vault_(vault), clock_ms_(std::move(clock_ms)) {}

bool VaultApi::Resident(const ApiRequest& req) const {
    std::lock_guard lock(mu_);
    if (token_.empty() || req.api_key.size() != token_.size()) return false;
    return sodium_memcmp(req.api_key.data(), token_.data(), token_.size()) == 0;
}

void VaultApi::Handle(const ApiRequest& request, const std::function<void(ApiResponse)>& done) {
    const std::string path = request.target.substr(0, request.target.find('?'));
    ApiResponse r;
    try {
        auto routed = Route(request, path);
        r = routed.ok() ? std::move(*routed) : FromError(request, routed.error());
    } catch (const std::exception& e) {
        r = Fail(request, 500, "", "the vault could not complete the request");
        r.detail = e.what();
    }
    if (!r.detail.empty()) {
        std::fprintf(stderr,
                     "citybrain vault: request %s failed (%d): %s\n",
                     request.request_id.c_str(),
                     r.status,
                     r.detail.c_str());
    }
    done(std::move(r));
}

Result<ApiResponse> VaultApi::Route(const ApiRequest& req, const std::string& path) {
    if (path.rfind(kPrefix, 0) != 0) return Fail(req, 404, "path", "the vault answers under /vault/v1/");
    const std::string rest = path.substr(kPrefix.size());
    const int64_t now = clock_ms_();
    auto wrong_method = [&](const char* allow) {
        ApiResponse r = Fail(req, 405, "method", req.method + " is not allowed here");
        r.allow = allow;
        return r;
    };

    if (rest == "status") {
        if (req.method != "GET") return wrong_method("GET");
        json d = vault_.Describe();
        if (!Resident(req)) {
            // Anyone on the network may ask whether the vault is locked and for its public keys; how much it holds
            // is the resident's business.
            d.erase("records");
            d.erase("grants");
            d.erase("log_entries");
        }
        return Json(200, d);
    }
    if (rest == "releases") {
        if (req.method != "POST") return wrong_method("POST");
        CB_TRY_ASSIGN(vault::Decision d, vault_.Release(req.body, now));
        json body;
        if (d.receipt) body["receipt"] = vault::ReceiptToJson(*d.receipt);
        if (d.released) {
            body["sealed"] = vault::ToBase64(d.sealed);
            return Json(200, body);
        }
        body["code"] = d.code;
        body["field"] = d.field;
        body["message"] = d.reason;
        body["request_id"] = req.request_id;
        return Json(d.status, body);
    }
    if (rest == "unlock") {
        if (req.method != "POST") return wrong_method("POST");
        {
            std::lock_guard lock(mu_);
            if (now < paused_until_) {
                ApiResponse r = Fail(req, 429, "passphrase", "too many wrong passphrases; wait and try again");
                r.headers.emplace_back("Retry-After", std::to_string((paused_until_ - now + 999) / 1000));
                return r;
            }
        }
        CB_TRY_ASSIGN(json body, Body(req));
        CB_TRY_ASSIGN(std::string passphrase, TextField(body, "passphrase"));
        const Status s = vault_.Unlock(passphrase);
        sodium_memzero(passphrase.data(), passphrase.size());
        std::lock_guard lock(mu_);
        if (!s.ok()) {
            if (s.error().message != "wrong passphrase") return s.error();
            if (++failures_ >= kMaxFailures) {
                failures_ = 0;
                paused_until_ = now + kPauseMs;
            }
            return Fail(req, 403, "passphrase", "wrong passphrase");
        }
        failures_ = 0;
        std::string raw(16, '\0');
        randombytes_buf(raw.data(), raw.size());
        token_ = vault::ToHex(raw);
        return Json(200, {{"token", token_}});
    }

    // Everything below is the resident's: the token from /unlock.
    if (!Resident(req)) {
        if (vault_.locked()) return Fail(req, 423, "vault", "the vault is locked; POST /vault/v1/unlock first");
        return Fail(req, 401, "Authorization", "the resident's token (from /vault/v1/unlock) is missing or wrong");
    }
    if (rest == "lock") {
        if (req.method != "POST") return wrong_method("POST");
        vault_.Lock();
        std::lock_guard lock(mu_);
        token_.clear();
        ApiResponse r;
        r.status = 204;
        return r;
    }
    if (rest == "records") {
        if (req.method == "GET") {
            CB_TRY_ASSIGN(std::vector<vault::Record> records, vault_.Records());
            json out = json::array();
            for (const auto& r : records) out.push_back(RecordJson(r));
            return Json(200, out);
        }
        if (req.method != "POST") return wrong_method("GET, POST");
        CB_TRY_ASSIGN(json body, Body(req));
        CB_TRY_ASSIGN(std::string type, TextField(body, "type"));
        if (!body.contains("fields")) return InvalidArgument("fields", "is required");
        CB_TRY_ASSIGN(std::string id, vault_.Put(type, body["fields"], now));
        return Json(201, {{"id", id}});
    }
    if (rest.rfind("records/", 0) == 0) {
        const std::string id = rest.substr(8);
        if (req.method == "GET") {
            CB_TRY_ASSIGN(vault::Record r, vault_.Get(id));
            return Json(200, RecordJson(r));
        }
        if (req.method != "DELETE") return wrong_method("GET, DELETE");
        CB_TRY(vault_.Delete(id));
        ApiResponse r;
        r.status = 204;
        return r;
    }
    if (rest == "grants") {
        if (req.method == "GET") {
            CB_TRY_ASSIGN(std::vector<vault::GrantState> grants, vault_.Grants());
            json out = json::array();
            for (const auto& g : grants) {
                json j{{"id", g.grant.id},
                       {"department", vault::ToBase64(g.grant.department)},
                       {"department_name", g.grant.department_name},
                       {"scope", g.grant.scope},
                       {"purpose", g.grant.purpose},
                       {"issued", core::FormatTimestamp(g.grant.issued_ms)},
                       {"expires", core::FormatTimestamp(g.grant.expires_ms)},
                       {"uses", g.grant.uses},
                       {"used", g.used},
                       {"grant", vault::EnvelopeToJson(g.signed_grant)}};
                if (g.revoked_ms) j["revoked"] = core::FormatTimestamp(*g.revoked_ms);
                out.push_back(std::move(j));
            }
            return Json(200, out);
        }
        if (req.method != "POST") return wrong_method("GET, POST");
        CB_TRY_ASSIGN(json body, Body(req));
        vault::GrantSpec spec;
        CB_TRY_ASSIGN(std::string key, TextField(body, "department"));
        CB_TRY_ASSIGN(spec.department, vault::FromBase64(key, 32, "department"));
        CB_TRY_ASSIGN(spec.department_name, TextField(body, "department_name"));
        CB_TRY_ASSIGN(spec.purpose, TextField(body, "purpose"));
        CB_TRY_ASSIGN(std::string expires, TextField(body, "expires"));
        CB_TRY_ASSIGN(spec.expires_ms, core::ParseTimestamp(expires, "expires"));
        const auto scope = body.find("scope");
        if (scope == body.end() || !scope->is_array())
            return InvalidArgument("scope", "must be an array of field names");
        for (size_t i = 0; i < scope->size(); ++i) {
            if (!(*scope)[i].is_string())
                return InvalidArgument("scope[" + std::to_string(i) + "]", "must be a string");
            spec.scope.push_back((*scope)[i].get<std::string>());
        }
        const auto uses = body.find("uses");
        if (uses == body.end() || !uses->is_number_integer()) return InvalidArgument("uses", "must be an integer");
        spec.uses = uses->get<int64_t>();
        for (const auto& [k, v] : body.items()) {
            if (k != "department" && k != "department_name" && k != "purpose" && k != "expires" && k != "scope" &&
                k != "uses") {
                return InvalidArgument(k, "is not a field of a grant");
            }
        }
        CB_TRY_ASSIGN(vault::Envelope grant, vault_.GrantConsent(spec, now));
        return Json(201,
                    {{"id", vault::ParseGrantPayload(grant.payload)->id}, {"grant", vault::EnvelopeToJson(grant)}});
    }
    if (rest.rfind("grants/", 0) == 0) {
        if (req.method != "DELETE") return wrong_method("DELETE");
        CB_TRY(vault_.Revoke(rest.substr(7), now));
        ApiResponse r;
        r.status = 204;
        return r;
    }
    if (rest == "audit") {
        if (req.method != "GET") return wrong_method("GET");
        CB_TRY_ASSIGN(vault::AuditReport rep, vault::Vault::Audit(vault_.path(), false, vault_.vault_key(), false));
        json out{{"ok", rep.ok},
                 {"entries", rep.entries},
                 {"releases", rep.releases},
                 {"refusals", rep.refusals},
                 {"grants", rep.grants},
                 {"revocations", rep.revocations}};
        if (!rep.ok) {
            out["first_bad_seq"] = rep.first_bad_seq;
            out["problem"] = rep.problem;
        }
        return Json(200, out);
    }
    return Fail(req, 404, "path", "no such vault resource");
}

}  // namespace citybrain::server
