// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "vault/crypto.hpp"
#include "vault/protocol.hpp"

struct sqlite3;

namespace citybrain::vault {

/// A record as the resident sees it, decrypted.
struct Record {
    std::string id;
    std::string type;
    nlohmann::json fields;  // an object of the record's fields
    int64_t created_ms = 0;
};

/// A grant and where it stands (uses are counted from the log, revocation is an entry of the log).
struct GrantState {
    Grant grant;
    Envelope signed_grant;
    int64_t used = 0;
    std::optional<int64_t> revoked_ms;
};

/// What the resident asks to consent to.
struct GrantSpec {
    std::string department;  // Ed25519 public key (raw)
    std::string department_name;
    std::vector<std::string> scope;
    std::string purpose;
    int64_t expires_ms = 0;
    int64_t uses = 1;
};

/// The answer to a department's request: a release (the sealed fields and the receipt) or a refusal (the HTTP status,
/// the field at fault and the reason; refusals are logged and carry a receipt too, except when the vault is locked).
struct Decision {
    bool released = false;
    int status = 200;  // 200; 401 bad signature; 403 no consent; 409 replay; 423 locked
    std::string code;  // "released", "signature", "consent", "replay", "locked"
    std::string field;
    std::string reason;
    std::string sealed;  // raw sealed box
    std::optional<Receipt> receipt;
};

/// One problem the audit found, at a sequence number.
struct AuditReport {
    int64_t entries = 0, releases = 0, refusals = 0, grants = 0, revocations = 0;
    bool ok = true;
    int64_t first_bad_seq = 0;
    std::string problem;
    bool all_signatures = false;
    std::string vault_key;            // raw
    std::vector<nlohmann::json> log;  // the entries, in order (when asked for)
};

/// The resident's data vault on the home box (issue 20): one SQLite file (WAL, synchronous=FULL) holding records
/// encrypted at rest, the resident's signed grants and a hash-chained log signed by the vault. The data key is
/// random and wrapped by a key derived from the passphrase (Argon2id); the passphrase is never stored. A vault
/// opens locked; Unlock with the passphrase. Thread-safe (one mutex: a home box serves a handful of requests).
class Vault {
public:
    /// A new vault file (refused when the path exists), unlocked.
    static Result<std::unique_ptr<Vault>> Create(const std::string& path,
                                                 std::string_view passphrase,
                                                 KdfParams kdf,
                                                 int64_t now_ms);
    /// An existing vault, locked. A file that is not a vault (or is damaged) is an error naming the file.
    static Result<std::unique_ptr<Vault>> Open(const std::string& path);
    ~Vault();
    Vault(const Vault&) = delete;
    Vault& operator=(const Vault&) = delete;

    /// Each commit is fsynced (synchronous=FULL) unless turned off here: only for bulk loads and benchmarks, since
    /// a crash may then lose the last commits that were acknowledged.
    Status SetDurable(bool fsync_each_commit);

    /// A wrong passphrase is kFailedPrecondition "wrong passphrase", and the vault stays locked.
    Status Unlock(std::string_view passphrase);
    /// Wipes the keys from memory.
    void Lock();
    bool locked() const;

    const std::string& path() const { return path_; }
    std::string resident_key() const;  // raw Ed25519 public keys, readable while locked
    std::string vault_key() const;
    nlohmann::json Describe() const;  // locked, counts, keys (base64)

    // The resident's side (unlocked).
    Result<std::string> Put(const std::string& type, const nlohmann::json& fields, int64_t now_ms);
    Result<Record> Get(const std::string& id);
    Result<std::vector<Record>> Records();
    Status Delete(const std::string& id);
    /// Signs a grant with the resident's key, stores it and logs it.
    Result<Envelope> GrantConsent(const GrantSpec& spec, int64_t now_ms);
    Result<std::vector<GrantState>> Grants();
    Status Revoke(const std::string& grant_id, int64_t now_ms);

    /// A department's signed request (the envelope's JSON text). A malformed request is an Error (400, not
    /// logged: it names no one); everything else is a Decision, committed to the log before it is returned.
    Result<Decision> Release(std::string_view request_json, int64_t now_ms);

    /// How far a request's issued_ms may be from the vault's clock; nonces are kept that long.
    static constexpr int64_t kFreshnessMs = int64_t{5} * 60 * 1000;

    /// Verifies the log of the vault file without the passphrase: every entry's hash link, the signature of the
    /// signed head (which covers the whole chain), and with `all_signatures` every entry's own signature.
    /// `expected_vault_key` (raw; empty: the file's own) pins the key. `with_log` fills `log`.
    static Result<AuditReport> Audit(const std::string& path,
                                     bool all_signatures,
                                     std::string_view expected_vault_key,
                                     bool with_log);

private:
    Vault() = default;
    struct Keys;
    Status RequireUnlocked() const;
    Result<Receipt> AppendLocked(nlohmann::json entry, int64_t now_ms);
    Result<Decision> Refuse(const ReleaseRequest* req,
                            const std::string& department_name,
                            int status,
                            std::string code,
                            std::string field,
                            std::string reason,
                            const std::string& request_hash,
                            int64_t now_ms);

    mutable std::mutex mu_;
    sqlite3* db_ = nullptr;
    std::string path_;
    std::string resident_pk_, vault_pk_;
    std::unique_ptr<Keys> keys_;  // null while locked
};

}  // namespace citybrain::vault
