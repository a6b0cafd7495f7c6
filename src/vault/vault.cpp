// SPDX-License-Identifier: Apache-2.0
#include "vault/vault.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <array>
#include <cstring>
#include <filesystem>

namespace citybrain::vault {

using nlohmann::json;

namespace {

constexpr const char* kFormat = "citybrain-vault/1";
constexpr size_t kMaxRecordBytes = size_t{1024} * 1024;

constexpr const char* kSchema =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS records(id TEXT PRIMARY KEY, type TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " box BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS grants(id TEXT PRIMARY KEY, payload TEXT NOT NULL, signature BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS nonces(department BLOB NOT NULL, nonce TEXT NOT NULL, issued_ms INTEGER NOT NULL,"
    " PRIMARY KEY(department, nonce));"
    "CREATE INDEX IF NOT EXISTS nonces_time ON nonces(issued_ms);"
    "CREATE TABLE IF NOT EXISTS log(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, grant_id TEXT, entry TEXT NOT NULL,"
    " prev BLOB NOT NULL, hash BLOB NOT NULL, signature BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS log_grant ON log(grant_id, kind);";

/// A prepared statement that finalises itself; binds by position from 1.
class Stmt {
public:
    Stmt(sqlite3* db, const char* sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) s_ = nullptr;
    }
    ~Stmt() { sqlite3_finalize(s_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    bool ok() const { return s_ != nullptr; }
    Stmt& Bind(int i, std::string_view text) {
        sqlite3_bind_text(s_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt& BindBlob(int i, std::string_view bytes) {
        sqlite3_bind_blob(s_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt& Bind(int i, int64_t v) {
        sqlite3_bind_int64(s_, i, v);
        return *this;
    }
    /// SQLITE_ROW, SQLITE_DONE or an error code.
    int Step() { return s_ == nullptr ? SQLITE_ERROR : sqlite3_step(s_); }
    int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
    std::string Text(int col) const {
        const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
        return p == nullptr ? std::string() : std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col)));
    }
    /// Valid until the next Step.
    std::string_view View(int col) const {
        const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
        return p == nullptr ? std::string_view()
                            : std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(s_, col)));
    }
    bool Null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
    std::string Why() const { return sqlite3_errmsg(db_); }

private:
    sqlite3* db_;
    sqlite3_stmt* s_ = nullptr;
};

Error StoreError(sqlite3* db, const std::string& path) {
    const int code = sqlite3_errcode(db);
    const std::string why = sqlite3_errmsg(db);
    if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
        return Error{ErrorCode::kFailedPrecondition, "is damaged or not a vault (" + why + ")", path};
    return Error{ErrorCode::kUnavailable, "the vault's store failed: " + why, path};
}

/// One transaction; rolled back unless Commit() succeeded.
class Tx {
public:
    explicit Tx(sqlite3* db) : db_(db) {
        ok_ = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
    }
    ~Tx() {
        if (ok_ && !done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    Tx(const Tx&) = delete;
    Tx& operator=(const Tx&) = delete;
    bool ok() const { return ok_; }
    bool Commit() {
        done_ = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
        return done_;
    }

private:
    sqlite3* db_;
    bool ok_ = false, done_ = false;
};

Result<std::string> Meta(sqlite3* db, const std::string& path, const char* key) {
    Stmt st(db, "SELECT value FROM meta WHERE key = ?");
    if (!st.ok()) return StoreError(db, path);
    st.Bind(1, std::string_view(key));
    const int rc = st.Step();
    if (rc == SQLITE_ROW) return st.Text(0);
    if (rc == SQLITE_DONE)
        return Error{ErrorCode::kFailedPrecondition, std::string("is not a vault (no ") + key + ")", path};
    return StoreError(db, path);
}

bool PutMeta(sqlite3* db, const char* key, std::string_view value) {
    Stmt st(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
    st.Bind(1, std::string_view(key)).BindBlob(2, value);
    return st.Step() == SQLITE_DONE;
}

std::string GenesisHash(std::string_view vault_pk) { return Hash("citybrain-vault-log/1", vault_pk); }

std::string HeadMessage(int64_t seq, std::string_view hash) {
    return "citybrain-vault-head/1:" + std::to_string(seq) + ":" + ToHex(hash);
}

bool ValidId(const std::string& id) {
    if (id.size() != 32) return false;
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

/// A top-level string of a log entry as written (escaped), without parsing the entry: the audit reads a million.
/// Safe on any bytes; exact on the vault's own entries (JSON whose quotes inside strings are escaped, so `"key":"`
/// only occurs as a key, and with no nested objects).
std::string_view ScanString(std::string_view entry, std::string_view key) {
    std::string pattern;
    pattern.reserve(key.size() + 4);
    pattern += '"';
    pattern += key;
    pattern += "\":\"";
    const size_t at = entry.find(pattern);
    if (at == std::string_view::npos) return {};
    const size_t begin = at + pattern.size();
    for (size_t i = begin; i < entry.size(); ++i) {
        if (entry[i] == '\\') {
            ++i;
        } else if (entry[i] == '"') {
            return entry.substr(begin, i - begin);
        }
    }
    return {};
}

/// A top-level integer of a log entry (see ScanString), or -1.
int64_t ScanInt(std::string_view entry, std::string_view key) {
    const std::string pattern = "\"" + std::string(key) + "\":";
    const size_t at = entry.find(pattern);
    if (at == std::string_view::npos) return -1;
    int64_t v = 0;
    size_t i = at + pattern.size();
    if (i >= entry.size() || entry[i] < '0' || entry[i] > '9') return -1;
    for (; i < entry.size() && entry[i] >= '0' && entry[i] <= '9' && v < (int64_t{1} << 56); ++i)
        v = v * 10 + (entry[i] - '0');
    return v;
}

std::string RecordAd(const std::string& id, const std::string& type) { return "record:" + id + ":" + type; }

Result<sqlite3*> OpenDb(const std::string& path, int flags) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
        const std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        return Error{ErrorCode::kUnavailable, "cannot be opened: " + why, path};
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

}  // namespace

struct Vault::Keys {
    Secret data_key;
    SigningKeys resident;
    SigningKeys vault;
};

Vault::~Vault() { sqlite3_close(db_); }

Result<std::unique_ptr<Vault>> Vault::Create(const std::string& path,
                                             std::string_view passphrase,
                                             KdfParams kdf,
                                             int64_t now_ms) {
    CB_TRY(InitCrypto());
    if (passphrase.size() < 8) return InvalidArgument("passphrase", "must be at least 8 bytes");
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) return InvalidArgument(path, "exists already; a vault is created once");
    // The costly and fallible parts first, so that a refused cost leaves no file behind.
    const std::string salt = RandomBytes(kSaltBytes);
    CB_TRY_ASSIGN(Secret kek, DeriveKey(passphrase, salt, kdf));
    auto keys = std::make_unique<Keys>();
    keys->data_key = Secret(RandomBytes(32));
    keys->resident = NewSigningKeys();
    keys->vault = NewSigningKeys();
    CB_TRY_ASSIGN(sqlite3 * db, OpenDb(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
    std::unique_ptr<Vault> v(new Vault());
    v->db_ = db;
    v->path_ = path;
    chmod(path.c_str(), 0600);
    const Status made = [&]() -> Status {
        if (sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr) != SQLITE_OK) return StoreError(db, path);
        Tx tx(db);
        const bool ok =
            tx.ok() && PutMeta(db, "format", kFormat) && PutMeta(db, "salt", salt) &&
            PutMeta(db, "kdf_ops", std::to_string(kdf.ops)) && PutMeta(db, "kdf_mem", std::to_string(kdf.mem)) &&
            PutMeta(db, "data_key", Encrypt(keys->data_key.bytes(), "data key", kek)) &&
            PutMeta(db, "resident_pk", keys->resident.public_key) &&
            PutMeta(db, "resident_sk", Encrypt(keys->resident.secret_key.bytes(), "resident key", keys->data_key)) &&
            PutMeta(db, "vault_pk", keys->vault.public_key) &&
            PutMeta(db, "vault_sk", Encrypt(keys->vault.secret_key.bytes(), "vault key", keys->data_key));
        if (!ok) return StoreError(db, path);
        v->resident_pk_ = keys->resident.public_key;
        v->vault_pk_ = keys->vault.public_key;
        v->keys_ = std::move(keys);
        CB_TRY(v->AppendLocked(
            json{{"kind", "init"}, {"resident_key", ToBase64(v->resident_pk_)}, {"vault_key", ToBase64(v->vault_pk_)}},
            now_ms));
        if (!tx.Commit()) return StoreError(db, path);
        return {};
    }();
    if (!made.ok()) {
        v.reset();  // a half-made vault is no vault: the next init must not find it
        for (const char* ext : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path + ext, ec);
        return made.error();
    }
    return v;
}

Result<std::unique_ptr<Vault>> Vault::Open(const std::string& path) {
    CB_TRY(InitCrypto());
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return NotFound(path, "no vault file here (citybrain vault init)");
    CB_TRY_ASSIGN(sqlite3 * db, OpenDb(path, SQLITE_OPEN_READWRITE));
    std::unique_ptr<Vault> v(new Vault());
    v->db_ = db;
    v->path_ = path;
    if (sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr) != SQLITE_OK) return StoreError(db, path);
    CB_TRY_ASSIGN(std::string format, Meta(db, path, "format"));
    if (format != kFormat)
        return Error{ErrorCode::kFailedPrecondition, "is not a " + std::string(kFormat) + " file", path};
    CB_TRY_ASSIGN(v->resident_pk_, Meta(db, path, "resident_pk"));
    CB_TRY_ASSIGN(v->vault_pk_, Meta(db, path, "vault_pk"));
    return v;
}

Status Vault::Unlock(std::string_view passphrase) {
    std::lock_guard lock(mu_);
    CB_TRY_ASSIGN(std::string salt, Meta(db_, path_, "salt"));
    CB_TRY_ASSIGN(std::string ops, Meta(db_, path_, "kdf_ops"));
    CB_TRY_ASSIGN(std::string mem, Meta(db_, path_, "kdf_mem"));
    CB_TRY_ASSIGN(std::string wrapped, Meta(db_, path_, "data_key"));
    CB_TRY_ASSIGN(std::string resident_sk, Meta(db_, path_, "resident_sk"));
    CB_TRY_ASSIGN(std::string vault_sk, Meta(db_, path_, "vault_sk"));
    KdfParams kdf;
    try {
        kdf.ops = std::stoull(ops);
        kdf.mem = std::stoull(mem);
    } catch (const std::exception&) {
        return Error{ErrorCode::kFailedPrecondition, "the key-derivation cost is damaged", path_};
    }
    CB_TRY_ASSIGN(Secret kek, DeriveKey(passphrase, salt, kdf));
    auto dek = Decrypt(wrapped, "data key", kek, "passphrase");
    if (!dek.ok()) return Error{ErrorCode::kFailedPrecondition, "wrong passphrase", "passphrase"};
    auto keys = std::make_unique<Keys>();
    keys->data_key = Secret(std::move(*dek));
    CB_TRY_ASSIGN(std::string rsk, Decrypt(resident_sk, "resident key", keys->data_key, path_ + ": resident key"));
    CB_TRY_ASSIGN(keys->resident, SigningKeysFromSecret(std::move(rsk), path_ + ": resident key"));
    CB_TRY_ASSIGN(std::string vsk, Decrypt(vault_sk, "vault key", keys->data_key, path_ + ": vault key"));
    CB_TRY_ASSIGN(keys->vault, SigningKeysFromSecret(std::move(vsk), path_ + ": vault key"));
    if (keys->resident.public_key != resident_pk_ || keys->vault.public_key != vault_pk_)
        return Error{ErrorCode::kFailedPrecondition, "the stored public keys do not match the secret keys", path_};
    keys_ = std::move(keys);
    return {};
}

Status Vault::SetDurable(bool fsync_each_commit) {
    std::lock_guard lock(mu_);
    const char* sql = fsync_each_commit ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF";
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return StoreError(db_, path_);
    return {};
}

void Vault::Lock() {
    std::lock_guard lock(mu_);
    keys_.reset();
}

bool Vault::locked() const {
    std::lock_guard lock(mu_);
    return keys_ == nullptr;
}

std::string Vault::resident_key() const { return resident_pk_; }
std::string Vault::vault_key() const { return vault_pk_; }

nlohmann::json Vault::Describe() const {
    std::lock_guard lock(mu_);
    auto count = [&](const char* sql) {
        Stmt st(db_, sql);
        return st.Step() == SQLITE_ROW ? st.Int(0) : int64_t{-1};
    };
    return {{"locked", keys_ == nullptr},
            {"records", count("SELECT count(*) FROM records")},
            {"grants", count("SELECT count(*) FROM grants")},
            {"log_entries", count("SELECT count(*) FROM log")},
            {"resident_key", ToBase64(resident_pk_)},
            {"vault_key", ToBase64(vault_pk_)}};
}

Status Vault::RequireUnlocked() const {
    if (keys_ == nullptr) return Error{ErrorCode::kFailedPrecondition, "the vault is locked", "vault"};
    return {};
}

Result<Receipt> Vault::AppendLocked(nlohmann::json entry, int64_t now_ms) {
    Receipt r;
    {
        Stmt last(db_, "SELECT seq, hash FROM log ORDER BY seq DESC LIMIT 1");
        const int rc = last.Step();
        if (rc == SQLITE_ROW) {
            r.seq = last.Int(0) + 1;
            r.prev = last.Text(1);
        } else if (rc == SQLITE_DONE) {
            r.seq = 1;
            r.prev = GenesisHash(vault_pk_);
        } else {
            return StoreError(db_, path_);
        }
    }
    entry["seq"] = r.seq;
    entry["time_ms"] = now_ms;
    r.entry = entry.dump();
    r.hash = Hash(r.prev, r.entry);
    r.signature = Sign(r.hash, keys_->vault.secret_key);
    r.vault_key = vault_pk_;
    Stmt ins(db_, "INSERT INTO log(seq, kind, grant_id, entry, prev, hash, signature) VALUES(?, ?, ?, ?, ?, ?, ?)");
    ins.Bind(1, r.seq).Bind(2, StringOf(entry, "kind"));
    if (const std::string g = StringOf(entry, "grant"); !g.empty()) ins.Bind(3, g);
    ins.Bind(4, r.entry).BindBlob(5, r.prev).BindBlob(6, r.hash).BindBlob(7, r.signature);
    if (ins.Step() != SQLITE_DONE) return StoreError(db_, path_);
    // The signed head covers the whole chain, so cutting entries off its end is seen too.
    std::string head = r.hash;
    head += Sign(HeadMessage(r.seq, r.hash), keys_->vault.secret_key);
    if (!PutMeta(db_, "head_seq", std::to_string(r.seq)) || !PutMeta(db_, "head", head)) return StoreError(db_, path_);
    return r;
}

Result<std::string> Vault::Put(const std::string& type, const nlohmann::json& fields, int64_t now_ms) {
    if (!IsRecordType(type)) {
        return InvalidArgument("type",
                               "'" + type +
                                   "' is not a record type (identity, household, residence_permit, "
                                   "health_notes, file)");
    }
    if (!fields.is_object() || fields.empty()) return InvalidArgument("fields", "must be a non-empty object");
    for (const auto& [name, value] : fields.items()) CB_TRY(CheckFieldName(type + "." + name, "fields." + name));
    const std::string plain = fields.dump();
    if (plain.size() > kMaxRecordBytes) return InvalidArgument("fields", "a record is at most 1 MiB");
    std::lock_guard lock(mu_);
    CB_TRY(RequireUnlocked());
    const std::string id = RandomId();
    Stmt st(db_, "INSERT INTO records(id, type, created_ms, box) VALUES(?, ?, ?, ?)");
    st.Bind(1, id).Bind(2, type).Bind(3, now_ms).BindBlob(4, Encrypt(plain, RecordAd(id, type), keys_->data_key));
    if (st.Step() != SQLITE_DONE) return StoreError(db_, path_);
    return id;
}

Result<Record> Vault::Get(const std::string& id) {
    if (!ValidId(id)) return InvalidArgument("id", "a record id is 32 hex digits");
    std::lock_guard lock(mu_);
    CB_TRY(RequireUnlocked());
    Stmt st(db_, "SELECT type, created_ms, box FROM records WHERE id = ?");
    st.Bind(1, id);
    const int rc = st.Step();
    if (rc == SQLITE_DONE) return NotFound("id", "no record " + id);
    if (rc != SQLITE_ROW) return StoreError(db_, path_);
    Record r{id, st.Text(0), {}, st.Int(1)};
    CB_TRY_ASSIGN(std::string plain, Decrypt(st.Text(2), RecordAd(id, r.type), keys_->data_key, "record " + id));
    r.fields = json::parse(plain, nullptr, false);
    return r;
}

Result<std::vector<Record>> Vault::Records() {
    std::lock_guard lock(mu_);
    CB_TRY(RequireUnlocked());
    std::vector<Record> out;
    Stmt st(db_, "SELECT id, type, created_ms, box FROM records ORDER BY rowid");
    int rc = 0;
    while ((rc = st.Step()) == SQLITE_ROW) {
        Record r{st.Text(0), st.Text(1), {}, st.Int(2)};
        CB_TRY_ASSIGN(std::string plain,
                      Decrypt(st.Text(3), RecordAd(r.id, r.type), keys_->data_key, "record " + r.id));
        r.fields = json::parse(plain, nullptr, false);
        out.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return StoreError(db_, path_);
    return out;
}

Status Vault::Delete(const std::string& id) {
    if (!ValidId(id)) return InvalidArgument("id", "a record id is 32 hex digits");
    std::lock_guard lock(mu_);
    CB_TRY(RequireUnlocked());
    Stmt st(db_, "DELETE FROM records WHERE id = ?");
    st.Bind(1, id);
    if (st.Step() != SQLITE_DONE) return StoreError(db_, path_);
    if (sqlite3_changes(db_) == 0) return NotFound("id", "no record " + id);
    return {};
}

Result<Envelope> Vault::GrantConsent(const GrantSpec& spec, int64_t now_ms) {
    if (spec.department.size() != 32) return InvalidArgument("department", "an Ed25519 public key is 32 bytes");
    if (spec.department_name.empty() || spec.department_name.size() > 512)
        return InvalidArgument("department_name", "is 1 to 512 bytes");
    if (spec.scope.empty()) return InvalidArgument("scope", "names no field");
    for (size_t i = 0; i < spec.scope.size(); ++i)
        CB_TRY(CheckFieldName(spec.scope[i], "scope[" + std::to_string(i) + "]"));
    if (spec.purpose.empty() || spec.purpose.size() > 512) return InvalidArgument("purpose", "is 1 to 512 bytes");
    if (spec.expires_ms <= now_ms) return InvalidArgument("expires", "must be in the future");
    if (spec.uses < 1) return InvalidArgument("uses", "must be at least 1");
    std::lock_guard lock(mu_);
    CB_TRY(RequireUnlocked());
    Grant g;
    g.id = RandomId();
    g.resident = resident_pk_;
    g.department = spec.department;
    g.department_name = spec.department_name;
    g.scope = spec.scope;
    g.purpose = spec.purpose;
    g.issued_ms = now_ms;
    g.expires_ms = spec.expires_ms;
    g.uses = spec.uses;
    Envelope e{GrantPayload(g), {}};
    e.signature = Sign(e.payload, keys_->resident.secret_key);
    Tx tx(db_);
    if (!tx.ok()) return StoreError(db_, path_);
    Stmt st(db_, "INSERT INTO grants(id, payload, signature) VALUES(?, ?, ?)");
    st.Bind(1, g.id).Bind(2, e.payload).BindBlob(3, e.signature);
    if (st.Step() != SQLITE_DONE) return StoreError(db_, path_);
    CB_TRY(AppendLocked(json{{"kind", "grant"},
                             {"grant", g.id},
                             {"department", ToBase64(g.department)},
                             {"department_name", g.department_name},
                             {"scope", g.scope},
                             {"purpose", g.purpose},
                             {"expires_ms", g.expires_ms},
                             {"uses", g.uses}},
                        now_ms));
    if (!tx.Commit()) return StoreError(db_, path_);
    return e;
}

Result<std::vector<GrantState>> Vault::Grants() {
    std::lock_guard lock(mu_);
    std::vector<GrantState> out;
    Stmt st(db_, "SELECT payload, signature FROM grants ORDER BY rowid");
    int rc = 0;
    while ((rc = st.Step()) == SQLITE_ROW) {
        GrantState s;
        s.signed_grant = {st.Text(0), st.Text(1)};
        CB_TRY_ASSIGN(s.grant, ParseGrantPayload(s.signed_grant.payload));
        Stmt used(db_, "SELECT count(*) FROM log WHERE grant_id = ? AND kind = 'release'");
        used.Bind(1, s.grant.id);
        if (used.Step() == SQLITE_ROW) s.used = used.Int(0);
        Stmt revoked(db_, "SELECT entry FROM log WHERE grant_id = ? AND kind = 'revoke' ORDER BY seq LIMIT 1");
        revoked.Bind(1, s.grant.id);
        if (revoked.Step() == SQLITE_ROW) {
            const json e = json::parse(revoked.Text(0), nullptr, false);
            const auto t = e.is_object() ? e.find("time_ms") : e.end();
            s.revoked_ms = (t != e.end() && t->is_number_integer()) ? t->get<int64_t>() : int64_t{0};
        }
        out.push_back(std::move(s));
    }
    if (rc != SQLITE_DONE) return StoreError(db_, path_);
    return out;
}

Status Vault::Revoke(const std::string& grant_id, int64_t now_ms) {
    if (!ValidId(grant_id)) return InvalidArgument("grant", "a grant id is 32 hex digits");
    std::lock_guard lock(mu_);
    CB_TRY(RequireUnlocked());
    Stmt find(db_, "SELECT 1 FROM grants WHERE id = ?");
    find.Bind(1, grant_id);
    if (find.Step() != SQLITE_ROW) return NotFound("grant", "no grant " + grant_id);
    Stmt already(db_, "SELECT 1 FROM log WHERE grant_id = ? AND kind = 'revoke'");
    already.Bind(1, grant_id);
    if (already.Step() == SQLITE_ROW) return {};  // revoking twice is revoking once
    Tx tx(db_);
    if (!tx.ok()) return StoreError(db_, path_);
    CB_TRY(AppendLocked(json{{"kind", "revoke"}, {"grant", grant_id}}, now_ms));
    if (!tx.Commit()) return StoreError(db_, path_);
    return {};
}

Result<Decision> Vault::Refuse(const ReleaseRequest* req,
                               const std::string& department_name,
                               int status,
                               std::string code,
                               std::string field,
                               std::string reason,
                               const std::string& request_hash,
                               int64_t now_ms) {
    Decision d;
    d.status = status;
    d.code = std::move(code);
    d.field = std::move(field);
    d.reason = std::move(reason);
    json entry{{"kind", "refusal"},
               {"code", d.code},
               {"field", d.field},
               {"reason", d.reason},
               {"request_hash", ToHex(request_hash)}};
    if (req != nullptr) {
        entry["department"] = ToBase64(req->department);
        if (!department_name.empty()) entry["department_name"] = department_name;
        entry["purpose"] = req->purpose;
        entry["case"] = req->case_id;
        entry["fields"] = req->fields;
        entry["refused_grant"] = req->grant_id;  // not "grant": a refusal does not count as a use
    }
    Tx tx(db_);
    if (!tx.ok()) return StoreError(db_, path_);
    // A signed request's nonce is spent even when refused: the same request must not succeed later.
    if (req != nullptr && d.code != "signature" && d.code != "replay") {
        Stmt n(db_, "INSERT OR IGNORE INTO nonces(department, nonce, issued_ms) VALUES(?, ?, ?)");
        n.BindBlob(1, req->department).Bind(2, req->nonce).Bind(3, req->issued_ms);
        if (n.Step() != SQLITE_DONE) return StoreError(db_, path_);
    }
    CB_TRY_ASSIGN(d.receipt, AppendLocked(std::move(entry), now_ms));
    if (!tx.Commit()) return StoreError(db_, path_);
    return d;
}

Result<Decision> Vault::Release(std::string_view request_json, int64_t now_ms) {
    CB_TRY_ASSIGN(Envelope env, ParseEnvelope(request_json));
    CB_TRY_ASSIGN(ReleaseRequest req, ParseRequestPayload(env.payload));
    std::lock_guard lock(mu_);
    if (keys_ == nullptr) {
        Decision d;
        d.status = 423;
        d.code = "locked";
        d.field = "vault";
        d.reason = "the vault is locked; the resident must unlock it";
        return d;
    }
    const std::string request_hash = Hash(env.payload, env.signature);
    if (!Verify(env.payload, env.signature, req.department)) {
        return Refuse(&req,
                      "",
                      401,
                      "signature",
                      "signature",
                      "the signature does not verify with the department key the request names",
                      request_hash,
                      now_ms);
    }
    if (req.issued_ms < now_ms - kFreshnessMs || req.issued_ms > now_ms + kFreshnessMs) {
        return Refuse(&req,
                      "",
                      409,
                      "replay",
                      "issued_ms",
                      "the request was issued more than 5 minutes from the vault's clock",
                      request_hash,
                      now_ms);
    }
    {
        Stmt seen(db_, "SELECT 1 FROM nonces WHERE department = ? AND nonce = ?");
        seen.BindBlob(1, req.department).Bind(2, req.nonce);
        const int rc = seen.Step();
        if (rc == SQLITE_ROW)
            return Refuse(
                &req, "", 409, "replay", "nonce", "this request was seen before (a replay)", request_hash, now_ms);
        if (rc != SQLITE_DONE) return StoreError(db_, path_);
    }
    // The grant: the resident signed it, it is this department's, live, with uses left, for this purpose.
    Grant grant;
    {
        Stmt st(db_, "SELECT payload, signature FROM grants WHERE id = ?");
        st.Bind(1, req.grant_id);
        const int rc = st.Step();
        if (rc == SQLITE_DONE)
            return Refuse(
                &req, "", 403, "consent", "grant", "no grant " + req.grant_id + " in this vault", request_hash, now_ms);
        if (rc != SQLITE_ROW) return StoreError(db_, path_);
        const std::string payload = st.Text(0);
        auto parsed = ParseGrantPayload(payload);
        if (!parsed.ok() || !Verify(payload, st.Text(1), resident_pk_) || parsed->resident != resident_pk_) {
            return Refuse(&req,
                          "",
                          403,
                          "consent",
                          "grant",
                          "grant " + req.grant_id + " does not carry the resident's signature",
                          request_hash,
                          now_ms);
        }
        grant = std::move(*parsed);
    }
    const std::string& name = grant.department_name;
    if (grant.department != req.department) {
        return Refuse(&req,
                      "",
                      403,
                      "consent",
                      "department",
                      "grant " + grant.id + " was given to another department (" + name + ")",
                      request_hash,
                      now_ms);
    }
    {
        Stmt revoked(db_, "SELECT 1 FROM log WHERE grant_id = ? AND kind = 'revoke'");
        revoked.Bind(1, grant.id);
        if (revoked.Step() == SQLITE_ROW)
            return Refuse(
                &req, name, 403, "consent", "grant", "the resident revoked grant " + grant.id, request_hash, now_ms);
    }
    if (now_ms >= grant.expires_ms)
        return Refuse(&req, name, 403, "consent", "grant", "grant " + grant.id + " has expired", request_hash, now_ms);
    {
        Stmt used(db_, "SELECT count(*) FROM log WHERE grant_id = ? AND kind = 'release'");
        used.Bind(1, grant.id);
        if (used.Step() != SQLITE_ROW) return StoreError(db_, path_);
        if (used.Int(0) >= grant.uses)
            return Refuse(&req,
                          name,
                          403,
                          "consent",
                          "grant",
                          "grant " + grant.id + " is used up (" + std::to_string(grant.uses) + " uses)",
                          request_hash,
                          now_ms);
    }
    if (req.purpose != grant.purpose) {
        return Refuse(&req,
                      name,
                      403,
                      "consent",
                      "purpose",
                      "the grant's purpose is '" + grant.purpose + "', not '" + req.purpose + "'",
                      request_hash,
                      now_ms);
    }
    for (size_t i = 0; i < req.fields.size(); ++i) {
        if (!Covers(grant, req.fields[i])) {
            return Refuse(&req,
                          name,
                          403,
                          "consent",
                          "fields[" + std::to_string(i) + "]",
                          "no consent for " + req.fields[i] + " in grant " + grant.id,
                          request_hash,
                          now_ms);
        }
    }

    // Exactly the fields asked for, from every record of their type.
    json records = json::array();
    json missing = json::array();
    {
        std::vector<bool> found(req.fields.size(), false);
        Stmt st(db_, "SELECT id, type, box FROM records ORDER BY rowid");
        int rc = 0;
        while ((rc = st.Step()) == SQLITE_ROW) {
            const std::string id = st.Text(0), type = st.Text(1);
            json out = json::object();
            bool wanted = false;
            json fields;
            for (size_t i = 0; i < req.fields.size(); ++i) {
                const std::string& f = req.fields[i];
                const size_t dot = f.find('.');
                if (f.substr(0, dot) != type) continue;
                if (!wanted) {
                    CB_TRY_ASSIGN(std::string plain,
                                  Decrypt(st.Text(2), RecordAd(id, type), keys_->data_key, "record " + id));
                    fields = json::parse(plain, nullptr, false);
                    wanted = true;
                }
                if (!fields.is_object()) continue;
                if (dot == std::string::npos) {
                    out.update(fields);
                    found[i] = true;
                } else if (const auto it = fields.find(f.substr(dot + 1)); it != fields.end()) {
                    out[it.key()] = *it;
                    found[i] = true;
                }
            }
            if (!out.empty()) records.push_back({{"id", id}, {"type", type}, {"fields", std::move(out)}});
        }
        if (rc != SQLITE_DONE) return StoreError(db_, path_);
        for (size_t i = 0; i < req.fields.size(); ++i)
            if (!found[i]) missing.push_back(req.fields[i]);
    }
    const std::string content = json{
        {"case", req.case_id},
        {"purpose", req.purpose},
        {"grant", grant.id},
        {"records", std::move(records)},
        {"missing", missing}}.dump();
    Decision d;
    d.released = true;
    d.code = "released";
    CB_TRY_ASSIGN(d.sealed, SealFor(content, req.department));
    Tx tx(db_);
    if (!tx.ok()) return StoreError(db_, path_);
    Stmt n(db_, "INSERT INTO nonces(department, nonce, issued_ms) VALUES(?, ?, ?)");
    n.BindBlob(1, req.department).Bind(2, req.nonce).Bind(3, req.issued_ms);
    if (n.Step() != SQLITE_DONE) return StoreError(db_, path_);
    Stmt prune(db_, "DELETE FROM nonces WHERE issued_ms < ?");
    prune.Bind(1, now_ms - 2 * kFreshnessMs);
    if (prune.Step() != SQLITE_DONE) return StoreError(db_, path_);
    CB_TRY_ASSIGN(d.receipt,
                  AppendLocked(json{{"kind", "release"},
                                    {"grant", grant.id},
                                    {"department", ToBase64(req.department)},
                                    {"department_name", name},
                                    {"purpose", req.purpose},
                                    {"case", req.case_id},
                                    {"fields", req.fields},
                                    {"missing", missing},
                                    {"content_hash", ToHex(Hash(content))},
                                    {"request_hash", ToHex(request_hash)}},
                               now_ms));
    if (!tx.Commit()) return StoreError(db_, path_);
    return d;
}

Result<AuditReport> Vault::Audit(const std::string& path,
                                 bool all_signatures,
                                 std::string_view expected_vault_key,
                                 bool with_log) {
    CB_TRY(InitCrypto());
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return NotFound(path, "no vault file here");
    CB_TRY_ASSIGN(sqlite3 * db, OpenDb(path, SQLITE_OPEN_READONLY));
    std::unique_ptr<sqlite3, int (*)(sqlite3*)> guard(db, sqlite3_close);
    AuditReport rep;
    rep.all_signatures = all_signatures;
    CB_TRY_ASSIGN(std::string format, Meta(db, path, "format"));
    if (format != kFormat)
        return Error{ErrorCode::kFailedPrecondition, "is not a " + std::string(kFormat) + " file", path};
    CB_TRY_ASSIGN(rep.vault_key, Meta(db, path, "vault_pk"));
    auto fail = [&](int64_t seq, std::string why) {
        if (rep.ok) {
            rep.ok = false;
            rep.first_bad_seq = seq;
            rep.problem = std::move(why);
        }
    };
    if (!expected_vault_key.empty() && expected_vault_key != rep.vault_key)
        fail(0, "the file's vault key is not the key given: the file is another vault's, or was replaced");
    std::string prev = GenesisHash(rep.vault_key);
    std::string last_sig;
    int64_t expect = 1;
    Stmt st(db, "SELECT seq, kind, grant_id, entry, prev, hash, signature FROM log ORDER BY seq");
    if (!st.ok()) return StoreError(db, path);
    int rc = 0;
    std::string hash, sig;
    while ((rc = st.Step()) == SQLITE_ROW) {
        const int64_t seq = st.Int(0);
        const std::string_view entry = st.View(3);
        hash.assign(st.View(5));
        sig.assign(st.View(6));
        ++rep.entries;
        if (seq != expect) fail(expect, "entry " + std::to_string(expect) + " is missing");
        expect = seq + 1;
        if (st.View(4) != prev) fail(seq, "does not link to the entry before it (an entry was changed or removed)");
        if (Hash(prev, entry) != hash) fail(seq, "its hash does not match its content (the entry was changed)");
        if (ScanInt(entry, "seq") != seq) fail(seq, "its content does not carry its sequence number");
        const std::string_view kind = ScanString(entry, "kind");
        if (kind != st.View(1) || ScanString(entry, "grant") != (st.Null(2) ? std::string_view() : st.View(2)))
            fail(seq, "its index columns disagree with its signed content");
        if (kind == "release") ++rep.releases;
        if (kind == "refusal") ++rep.refusals;
        if (kind == "grant") ++rep.grants;
        if (kind == "revoke") ++rep.revocations;
        if (all_signatures && !Verify(hash, sig, rep.vault_key)) fail(seq, "its signature does not verify");
        if (with_log) rep.log.push_back(json::parse(entry, nullptr, false));
        prev.swap(hash);
        last_sig.swap(sig);
    }
    if (rc != SQLITE_DONE) return StoreError(db, path);
    if (rep.entries == 0) fail(1, "the log is empty (a vault logs its creation)");
    if (!Verify(prev, last_sig, rep.vault_key)) fail(expect - 1, "the last entry's signature does not verify");
    auto head_seq = Meta(db, path, "head_seq");
    auto head = Meta(db, path, "head");
    if (!head_seq.ok() || !head.ok() || head->size() != 32 + 64) {
        fail(expect - 1, "the signed head is missing");
    } else if (*head_seq != std::to_string(expect - 1) || head->substr(0, 32) != prev ||
               !Verify(HeadMessage(expect - 1, prev), head->substr(32), rep.vault_key)) {
        fail(expect - 1, "the log does not end where the signed head says (entries were cut off or the head replaced)");
    }
    return rep;
}

}  // namespace citybrain::vault
