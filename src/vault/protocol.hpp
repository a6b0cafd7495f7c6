// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "vault/crypto.hpp"

namespace citybrain::vault {

/// The record types a vault holds. A field is named "type.field" ("identity.name"); a scope entry is a type (all
/// its fields) or a field.
inline constexpr const char* kRecordTypes[] = {"identity", "household", "residence_permit", "health_notes", "file"};
bool IsRecordType(std::string_view type);
/// j[key] when j is an object holding a string there, else "" (never throws).
std::string StringOf(const nlohmann::json& j, const char* key);

/// Something signed: `payload` is a JSON text, and the signature is over its exact bytes, so nobody has to agree on
/// a canonical form. On the wire: {"payload": "<JSON text>", "signature": "<base64>"}.
struct Envelope {
    std::string payload;
    std::string signature;  // raw, 64 bytes
};
Result<Envelope> ParseEnvelope(std::string_view json_text);
nlohmann::json EnvelopeToJson(const Envelope& e);

/// The resident's consent: who may have which fields, for what, until when and how many times. Signed by the
/// resident's key; a vault honours only grants its resident signed.
struct Grant {
    std::string id;          // 32 hex digits
    std::string resident;    // the resident's Ed25519 public key (raw)
    std::string department;  // the department's Ed25519 public key (raw)
    std::string department_name;
    std::vector<std::string> scope;  // types and type.field names
    std::string purpose;
    int64_t issued_ms = 0;
    int64_t expires_ms = 0;
    int64_t uses = 0;  // releases allowed in all
};
std::string GrantPayload(const Grant& g);
Result<Grant> ParseGrantPayload(std::string_view payload);
/// Whether the grant's scope covers `field` (a type, or type.field): a type covers its fields; a field only itself.
bool Covers(const Grant& g, std::string_view field);
/// "identity" or "identity.name", the type known; `where` names the input in the error.
Status CheckFieldName(std::string_view field, const std::string& where);

/// A department's request for a release, signed by the department's key.
struct ReleaseRequest {
    std::string department;  // Ed25519 public key (raw): the key that signs the request and opens the answer
    std::string grant_id;
    std::vector<std::string> fields;
    std::string purpose;
    std::string case_id;  // the brain's case the data is for (the release is bound to it in the log)
    std::string nonce;    // 8–64 characters, never reused by the department
    int64_t issued_ms = 0;
};
std::string RequestPayload(const ReleaseRequest& r);
/// Every field named in its error ("fields[2]", "issued_ms").
Result<ReleaseRequest> ParseRequestPayload(std::string_view payload);

/// A department's (or an agent's) key pair, in a file of its own: {"format": "citybrain-vault-key/1", "name",
/// "public_key", "secret_key"} (base64). Written with mode 0600.
struct DepartmentKeys {
    std::string name;
    SigningKeys keys;
};
DepartmentKeys NewDepartmentKeys(std::string name);
Status SaveDepartmentKeys(const DepartmentKeys& k, const std::string& path);
Result<DepartmentKeys> LoadDepartmentKeys(const std::string& path);

/// The department's side of a release: the signed request's JSON text.
std::string MakeRequest(const DepartmentKeys& k,
                        const std::string& grant_id,
                        const std::vector<std::string>& fields,
                        const std::string& purpose,
                        const std::string& case_id,
                        int64_t now_ms);

/// A log entry as the vault signs it, handed to the department as its receipt.
struct Receipt {
    int64_t seq = 0;
    std::string entry;      // the entry's JSON text
    std::string prev;       // raw 32 bytes: the previous entry's hash
    std::string hash;       // raw 32 bytes: Hash(prev, entry)
    std::string signature;  // the vault's signature of `hash`
    std::string vault_key;  // the vault's Ed25519 public key (raw)
};
nlohmann::json ReceiptToJson(const Receipt& r);
Result<Receipt> ReceiptFromJson(const nlohmann::json& j);
/// The hash links and the signature hold (against `vault_key` when given, else the receipt's own key).
Status VerifyReceipt(const Receipt& r, std::string_view vault_key = {});

/// What a department gets from a release: the fields, opened, and the receipt that proves what was released.
// clang-tidy 14 reports the implicit move constructor as throwing; nlohmann::json's and std::string's moves are
// noexcept, so it is not.
struct Opened {  // NOLINT(bugprone-exception-escape)
    nlohmann::json data;
    Receipt receipt;
};
/// Opens a vault's answer ({"sealed", "receipt"}) with the department's key, verifies the receipt and that it
/// names this release (the content hash matches what was opened).
Result<Opened> OpenRelease(const DepartmentKeys& k, std::string_view answer_json, std::string_view vault_key = {});

}  // namespace citybrain::vault
