// SPDX-License-Identifier: Apache-2.0
#include "vault/protocol.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>

#include "core/file.hpp"

namespace citybrain::vault {

namespace {

using nlohmann::json;

constexpr size_t kMaxPayload = size_t{16} * 1024;
constexpr size_t kMaxText = 512;  // a purpose, a name, a case id
constexpr size_t kMaxFields = 64;

Result<json> ParseObject(std::string_view text, const std::string& what) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return InvalidArgument(what, "is not valid JSON");
    if (!j.is_object()) return InvalidArgument(what, "must be a JSON object");
    return j;
}

Status OnlyKnown(const json& j, std::initializer_list<const char*> known, const std::string& what) {
    for (const auto& item : j.items()) {
        const std::string& key = item.key();
        if (std::none_of(known.begin(), known.end(), [&key](const char* k) { return key == k; }))
            return InvalidArgument(what + "." + key, "is not a field of " + what);
    }
    return {};
}

Result<std::string> Text(const json& j, const char* key, const std::string& what, size_t max = kMaxText) {
    const auto it = j.find(key);
    const std::string where = what + "." + key;
    if (it == j.end()) return InvalidArgument(where, "is required");
    if (!it->is_string()) return InvalidArgument(where, "must be a string");
    std::string s = it->get<std::string>();
    if (s.empty()) return InvalidArgument(where, "must not be empty");
    if (s.size() > max) return InvalidArgument(where, "is longer than " + std::to_string(max) + " bytes");
    return s;
}

Result<int64_t> Integer(const json& j, const char* key, const std::string& what) {
    const auto it = j.find(key);
    const std::string where = what + "." + key;
    if (it == j.end()) return InvalidArgument(where, "is required");
    if (!it->is_number_integer()) return InvalidArgument(where, "must be an integer");
    return it->get<int64_t>();
}

Result<std::string> Key(const json& j, const char* key, const std::string& what) {
    CB_TRY_ASSIGN(std::string b64, Text(j, key, what, 64));
    return FromBase64(b64, crypto_sign_PUBLICKEYBYTES, what + "." + key);
}

Result<std::vector<std::string>> FieldList(const json& j, const char* key, const std::string& what) {
    const auto it = j.find(key);
    const std::string where = what + "." + key;
    if (it == j.end()) return InvalidArgument(where, "is required");
    if (!it->is_array() || it->empty()) return InvalidArgument(where, "must be a non-empty array of field names");
    if (it->size() > kMaxFields) return InvalidArgument(where, "names more than 64 fields");
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (size_t i = 0; i < it->size(); ++i) {
        const std::string at = where + "[" + std::to_string(i) + "]";
        if (!(*it)[i].is_string()) return InvalidArgument(at, "must be a string");
        std::string f = (*it)[i].get<std::string>();
        CB_TRY(CheckFieldName(f, at));
        if (!seen.insert(f).second) return InvalidArgument(at, "'" + f + "' is named twice");
        out.push_back(std::move(f));
    }
    return out;
}

Result<std::string> FromHex(std::string_view hex, size_t size, const std::string& field) {
    std::string out(size, '\0');
    size_t len = 0;
    if (hex.size() != size * 2 ||
        sodium_hex2bin(
            reinterpret_cast<unsigned char*>(out.data()), size, hex.data(), hex.size(), nullptr, &len, nullptr) != 0 ||
        len != size) {
        return InvalidArgument(field, "must be " + std::to_string(size * 2) + " hex digits");
    }
    return out;
}

}  // namespace

std::string StringOf(const nlohmann::json& j, const char* key) {
    if (!j.is_object()) return {};
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool IsRecordType(std::string_view type) {
    return std::any_of(std::begin(kRecordTypes), std::end(kRecordTypes), [&](const char* t) { return type == t; });
}

Status CheckFieldName(std::string_view field, const std::string& where) {
    const size_t dot = field.find('.');
    const std::string_view type = field.substr(0, dot);
    if (!IsRecordType(type)) {
        return InvalidArgument(
            where,
            "'" + std::string(type) +
                "' is not a record type (identity, household, residence_permit, health_notes, file)");
    }
    if (dot != std::string_view::npos) {
        const std::string_view name = field.substr(dot + 1);
        if (name.empty() || name.size() > 64) return InvalidArgument(where, "a field name is 1 to 64 bytes");
        for (char c : name) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
            if (!ok) return InvalidArgument(where, "a field name is lower-case letters, digits and '_'");
        }
    }
    return {};
}

Result<Envelope> ParseEnvelope(std::string_view json_text) {
    if (json_text.size() > kMaxPayload * 2) return InvalidArgument("body", "is larger than 32 KiB");
    CB_TRY_ASSIGN(json j, ParseObject(json_text, "body"));
    CB_TRY(OnlyKnown(j, {"payload", "signature"}, "body"));
    Envelope e;
    CB_TRY_ASSIGN(e.payload, Text(j, "payload", "body", kMaxPayload));
    CB_TRY_ASSIGN(std::string sig, Text(j, "signature", "body", 128));
    CB_TRY_ASSIGN(e.signature, FromBase64(sig, crypto_sign_BYTES, "body.signature"));
    return e;
}

nlohmann::json EnvelopeToJson(const Envelope& e) {
    return {{"payload", e.payload}, {"signature", ToBase64(e.signature)}};
}

std::string GrantPayload(const Grant& g) {
    return json{{"format", "citybrain-vault-grant/1"},
                {"id", g.id},
                {"resident", ToBase64(g.resident)},
                {"department", ToBase64(g.department)},
                {"department_name", g.department_name},
                {"scope", g.scope},
                {"purpose", g.purpose},
                {"issued_ms", g.issued_ms},
                {"expires_ms", g.expires_ms},
                {"uses", g.uses}}
        .dump();
}

Result<Grant> ParseGrantPayload(std::string_view payload) {
    CB_TRY_ASSIGN(json j, ParseObject(payload, "grant"));
    CB_TRY(OnlyKnown(j,
                     {"format",
                      "id",
                      "resident",
                      "department",
                      "department_name",
                      "scope",
                      "purpose",
                      "issued_ms",
                      "expires_ms",
                      "uses"},
                     "grant"));
    CB_TRY_ASSIGN(std::string format, Text(j, "format", "grant"));
    if (format != "citybrain-vault-grant/1") return InvalidArgument("grant.format", "is not citybrain-vault-grant/1");
    Grant g;
    CB_TRY_ASSIGN(g.id, Text(j, "id", "grant", 32));
    CB_TRY_ASSIGN(g.resident, Key(j, "resident", "grant"));
    CB_TRY_ASSIGN(g.department, Key(j, "department", "grant"));
    CB_TRY_ASSIGN(g.department_name, Text(j, "department_name", "grant"));
    CB_TRY_ASSIGN(g.scope, FieldList(j, "scope", "grant"));
    CB_TRY_ASSIGN(g.purpose, Text(j, "purpose", "grant"));
    CB_TRY_ASSIGN(g.issued_ms, Integer(j, "issued_ms", "grant"));
    CB_TRY_ASSIGN(g.expires_ms, Integer(j, "expires_ms", "grant"));
    CB_TRY_ASSIGN(g.uses, Integer(j, "uses", "grant"));
    if (g.expires_ms <= g.issued_ms) return InvalidArgument("grant.expires_ms", "must be after issued_ms");
    if (g.uses < 1) return InvalidArgument("grant.uses", "must be at least 1");
    return g;
}

bool Covers(const Grant& g, std::string_view field) {
    const std::string_view type = field.substr(0, field.find('.'));
    return std::any_of(g.scope.begin(), g.scope.end(), [&](const std::string& s) { return s == field || s == type; });
}

std::string RequestPayload(const ReleaseRequest& r) {
    return json{{"format", "citybrain-vault-request/1"},
                {"department", ToBase64(r.department)},
                {"grant", r.grant_id},
                {"fields", r.fields},
                {"purpose", r.purpose},
                {"case", r.case_id},
                {"nonce", r.nonce},
                {"issued_ms", r.issued_ms}}
        .dump();
}

Result<ReleaseRequest> ParseRequestPayload(std::string_view payload) {
    CB_TRY_ASSIGN(json j, ParseObject(payload, "request"));
    CB_TRY(
        OnlyKnown(j, {"format", "department", "grant", "fields", "purpose", "case", "nonce", "issued_ms"}, "request"));
    CB_TRY_ASSIGN(std::string format, Text(j, "format", "request"));
    if (format != "citybrain-vault-request/1")
        return InvalidArgument("request.format", "is not citybrain-vault-request/1");
    ReleaseRequest r;
    CB_TRY_ASSIGN(r.department, Key(j, "department", "request"));
    CB_TRY_ASSIGN(r.grant_id, Text(j, "grant", "request", 32));
    CB_TRY_ASSIGN(r.fields, FieldList(j, "fields", "request"));
    CB_TRY_ASSIGN(r.purpose, Text(j, "purpose", "request"));
    CB_TRY_ASSIGN(r.case_id, Text(j, "case", "request", 128));
    CB_TRY_ASSIGN(r.nonce, Text(j, "nonce", "request", 64));
    if (r.nonce.size() < 8) return InvalidArgument("request.nonce", "must be at least 8 characters");
    CB_TRY_ASSIGN(r.issued_ms, Integer(j, "issued_ms", "request"));
    return r;
}

DepartmentKeys NewDepartmentKeys(std::string name) { return {std::move(name), NewSigningKeys()}; }

Status SaveDepartmentKeys(const DepartmentKeys& k, const std::string& path) {
    const std::string text = json{{"format", "citybrain-vault-key/1"},
                                  {"name", k.name},
                                  {"public_key", ToBase64(k.keys.public_key)},
                                  {"secret_key", ToBase64(k.keys.secret_key.bytes())}}
                                 .dump(2) +
                             "\n";
    // Created 0600 before a byte is written, so the secret is never readable by others.
    std::FILE* f = std::fopen(path.c_str(), "wx");
    if (f == nullptr) return InvalidArgument(path, "cannot be created (does it exist already?)");
    chmod(path.c_str(), 0600);
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    if (std::fclose(f) != 0 || !ok) return Error{ErrorCode::kUnavailable, "could not be written", path};
    return {};
}

Result<DepartmentKeys> LoadDepartmentKeys(const std::string& path) {
    CB_TRY_ASSIGN(std::string text, core::ReadFile(path));
    CB_TRY_ASSIGN(json j, ParseObject(text, path));
    CB_TRY(OnlyKnown(j, {"format", "name", "public_key", "secret_key"}, path));
    CB_TRY_ASSIGN(std::string format, Text(j, "format", path));
    if (format != "citybrain-vault-key/1") return InvalidArgument(path + ".format", "is not citybrain-vault-key/1");
    DepartmentKeys k;
    CB_TRY_ASSIGN(k.name, Text(j, "name", path));
    CB_TRY_ASSIGN(std::string pk, Key(j, "public_key", path));
    CB_TRY_ASSIGN(std::string sk64, Text(j, "secret_key", path, 128));
    CB_TRY_ASSIGN(std::string sk, FromBase64(sk64, crypto_sign_SECRETKEYBYTES, path + ".secret_key"));
    CB_TRY_ASSIGN(k.keys, SigningKeysFromSecret(std::move(sk), path + ".secret_key"));
    if (k.keys.public_key != pk) return InvalidArgument(path + ".public_key", "does not match the secret key");
    return k;
}

std::string MakeRequest(const DepartmentKeys& k,
                        const std::string& grant_id,
                        const std::vector<std::string>& fields,
                        const std::string& purpose,
                        const std::string& case_id,
                        int64_t now_ms) {
    ReleaseRequest r;
    r.department = k.keys.public_key;
    r.grant_id = grant_id;
    r.fields = fields;
    r.purpose = purpose;
    r.case_id = case_id;
    r.nonce = RandomId();
    r.issued_ms = now_ms;
    Envelope e;
    e.payload = RequestPayload(r);
    e.signature = Sign(e.payload, k.keys.secret_key);
    return EnvelopeToJson(e).dump();
}

nlohmann::json ReceiptToJson(const Receipt& r) {
    return {{"seq", r.seq},
            {"entry", r.entry},
            {"prev", ToHex(r.prev)},
            {"hash", ToHex(r.hash)},
            {"signature", ToBase64(r.signature)},
            {"vault_key", ToBase64(r.vault_key)}};
}

Result<Receipt> ReceiptFromJson(const nlohmann::json& j) {
    if (!j.is_object()) return InvalidArgument("receipt", "must be an object");
    Receipt r;
    CB_TRY_ASSIGN(r.seq, Integer(j, "seq", "receipt"));
    CB_TRY_ASSIGN(r.entry, Text(j, "entry", "receipt", kMaxPayload));
    CB_TRY_ASSIGN(std::string prev, Text(j, "prev", "receipt", 64));
    CB_TRY_ASSIGN(r.prev, FromHex(prev, 32, "receipt.prev"));
    CB_TRY_ASSIGN(std::string hash, Text(j, "hash", "receipt", 64));
    CB_TRY_ASSIGN(r.hash, FromHex(hash, 32, "receipt.hash"));
    CB_TRY_ASSIGN(std::string sig, Text(j, "signature", "receipt", 128));
    CB_TRY_ASSIGN(r.signature, FromBase64(sig, crypto_sign_BYTES, "receipt.signature"));
    CB_TRY_ASSIGN(r.vault_key, Key(j, "vault_key", "receipt"));
    return r;
}

Status VerifyReceipt(const Receipt& r, std::string_view vault_key) {
    if (!vault_key.empty() && vault_key != r.vault_key)
        return InvalidArgument("receipt.vault_key", "is not the vault's key this department knows");
    if (Hash(r.prev, r.entry) != r.hash) return InvalidArgument("receipt.hash", "does not match prev and entry");
    if (!Verify(r.hash, r.signature, r.vault_key))
        return InvalidArgument("receipt.signature", "does not verify with the vault's key");
    const json entry = json::parse(r.entry, nullptr, false);
    if (!entry.is_object() || !entry.contains("seq") || entry["seq"] != r.seq)
        return InvalidArgument("receipt.entry", "does not carry the receipt's sequence number");
    return {};
}

Result<Opened> OpenRelease(const DepartmentKeys& k, std::string_view answer_json, std::string_view vault_key) {
    CB_TRY_ASSIGN(json j, ParseObject(answer_json, "answer"));
    CB_TRY_ASSIGN(std::string sealed64, Text(j, "sealed", "answer", size_t{8} * 1024 * 1024));
    CB_TRY_ASSIGN(std::string sealed, FromBase64(sealed64, 0, "answer.sealed"));
    if (!j.contains("receipt")) return InvalidArgument("answer.receipt", "is required");
    CB_TRY_ASSIGN(Receipt receipt, ReceiptFromJson(j["receipt"]));
    CB_TRY(VerifyReceipt(receipt, vault_key));
    CB_TRY_ASSIGN(std::string plain, OpenSealed(sealed, k.keys));
    const json entry = json::parse(receipt.entry, nullptr, false);
    if (StringOf(entry, "kind") != "release" || StringOf(entry, "department") != ToBase64(k.keys.public_key))
        return InvalidArgument("answer.receipt", "is not a release to this department");
    if (StringOf(entry, "content_hash") != ToHex(Hash(plain)))
        return InvalidArgument("answer.receipt", "names other content than what was sealed");
    Opened o;
    o.data = json::parse(plain, nullptr, false);
    if (o.data.is_discarded()) return InvalidArgument("answer.sealed", "does not hold JSON");
    o.receipt = std::move(receipt);
    return o;
}

}  // namespace citybrain::vault
