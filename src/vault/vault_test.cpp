// SPDX-License-Identifier: Apache-2.0
// The vault's promises (issue 20): records are encrypted at rest, nothing is released outside a valid grant, every
// release and refusal is in a chain whose tampering is seen, and a damaged file is an error, never a crash.
#include "vault/vault.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>

#include "core/file.hpp"

namespace citybrain::vault {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1'800'000'000'000;
constexpr int64_t kDay = 86'400'000;
constexpr const char* kPass = "correct horse battery staple";

class VaultTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ =
            std::filesystem::temp_directory_path() / ("vault_test_" + std::to_string(::getpid()) + "_" +
                                                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
        path_ = (dir_ / "vault.sqlite").string();
        auto v = Vault::Create(path_, kPass, *KdfByName("interactive"), kNow);
        ASSERT_TRUE(v.ok()) << v.error().ToString();
        vault_ = std::move(*v);
        auto id = vault_->Put(
            "identity", {{"name", "张三"}, {"id_number", "440307199001011234"}, {"phone", "13800000000"}}, kNow);
        ASSERT_TRUE(id.ok()) << id.error().ToString();
        ASSERT_TRUE(vault_->Put("residence_permit", {{"number", "RP-2024-88"}, {"expires", "2027-06-30"}}, kNow).ok());
        ASSERT_TRUE(vault_->Put("health_notes", {{"note", "高血压，服药中"}}, kNow).ok());
    }
    void TearDown() override {
        vault_.reset();
        std::filesystem::remove_all(dir_);
    }

    Envelope GrantTo(const DepartmentKeys& dept,
                     std::vector<std::string> scope,
                     int64_t uses = 3,
                     int64_t expires = kNow + kDay,
                     const std::string& purpose = "居住证续签") {
        GrantSpec spec{dept.keys.public_key, dept.name, std::move(scope), purpose, expires, uses};
        auto g = vault_->GrantConsent(spec, kNow);
        EXPECT_TRUE(g.ok()) << g.error().ToString();
        return g.ok() ? *g : Envelope{};
    }
    static std::string GrantId(const Envelope& e) { return ParseGrantPayload(e.payload)->id; }

    Decision Ask(const DepartmentKeys& dept,
                 const std::string& grant,
                 std::vector<std::string> fields,
                 int64_t at = kNow + 1000,
                 const std::string& purpose = "居住证续签") {
        auto d = vault_->Release(MakeRequest(dept, grant, fields, purpose, "case-42", at), at);
        EXPECT_TRUE(d.ok()) << d.error().ToString();
        return d.ok() ? std::move(*d) : Decision{};
    }

    static std::string Answer(const Decision& d) {
        return json{{"sealed", ToBase64(d.sealed)}, {"receipt", ReceiptToJson(*d.receipt)}}.dump();
    }

    void Sql(const std::string& sql) {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
        char* err = nullptr;
        const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
        ASSERT_EQ(rc, SQLITE_OK) << (err != nullptr ? err : "");
        sqlite3_close(db);
    }

    std::filesystem::path dir_;
    std::string path_;
    std::unique_ptr<Vault> vault_;
    DepartmentKeys police_ = NewDepartmentKeys("区公安分局");
    DepartmentKeys health_ = NewDepartmentKeys("社区健康服务中心");
};

TEST_F(VaultTest, RecordsAreEncryptedAtRestAndTheVaultOpensLocked) {
    vault_.reset();
    const std::string bytes = *core::ReadFile(path_);
    std::string wal;
    if (std::filesystem::exists(path_ + "-wal")) wal = *core::ReadFile(path_ + "-wal");
    for (const char* secret : {"440307199001011234", "RP-2024-88", "13800000000", kPass}) {
        EXPECT_EQ(bytes.find(secret), std::string::npos) << secret;
        EXPECT_EQ(wal.find(secret), std::string::npos) << secret;
    }
    auto v = Vault::Open(path_);
    ASSERT_TRUE(v.ok()) << v.error().ToString();
    EXPECT_TRUE((*v)->locked());
    EXPECT_FALSE((*v)->Records().ok());
    ASSERT_TRUE((*v)->Unlock(kPass).ok());
    auto records = (*v)->Records();
    ASSERT_TRUE(records.ok());
    ASSERT_EQ(records->size(), 3U);
    EXPECT_EQ((*records)[0].fields["id_number"], "440307199001011234");
}

TEST_F(VaultTest, ARefusedCreationLeavesNoFileBehind) {
    const std::string other = (dir_ / "other.sqlite").string();
    auto weak = Vault::Create(other, "short", *KdfByName("interactive"), kNow);
    ASSERT_FALSE(weak.ok());
    EXPECT_EQ(weak.error().where, "passphrase");
    auto costly = Vault::Create(other, kPass, KdfParams{1'000'000, size_t{1} << 40}, kNow);
    ASSERT_FALSE(costly.ok());
    EXPECT_FALSE(std::filesystem::exists(other));
    auto again = Vault::Create(path_, kPass, *KdfByName("interactive"), kNow);
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.error().message.find("exists"), std::string::npos);
}

TEST_F(VaultTest, AWrongPassphraseIsRefusedAndTheVaultStaysLocked) {
    vault_.reset();
    auto v = Vault::Open(path_);
    ASSERT_TRUE(v.ok());
    const Status s = (*v)->Unlock("correct horse battery stapler");
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message, "wrong passphrase");
    EXPECT_TRUE((*v)->locked());
    auto d = (*v)->Release(MakeRequest(police_, std::string(32, 'a'), {"identity.name"}, "p", "c", kNow), kNow);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->status, 423);
}

TEST_F(VaultTest, AReleaseHoldsExactlyTheRequestedFieldsSealedForTheDepartment) {
    const Envelope grant = GrantTo(police_, {"identity.name", "residence_permit"});
    ASSERT_TRUE(Verify(grant.payload, grant.signature, vault_->resident_key()));
    const Decision d = Ask(police_, GrantId(grant), {"identity.name", "residence_permit.expires"});
    ASSERT_TRUE(d.released) << d.reason;
    EXPECT_EQ(d.status, 200);
    auto opened = OpenRelease(police_, Answer(d), vault_->vault_key());
    ASSERT_TRUE(opened.ok()) << opened.error().ToString();
    const json& records = opened->data["records"];
    ASSERT_EQ(records.size(), 2U);
    EXPECT_EQ(records[0]["fields"], json({{"name", "张三"}}));
    EXPECT_EQ(records[1]["fields"], json({{"expires", "2027-06-30"}}));
    EXPECT_EQ(opened->data["case"], "case-42");
    EXPECT_EQ(opened->data.dump().find("440307199001011234"), std::string::npos);
    // Nobody else opens it.
    EXPECT_FALSE(OpenRelease(health_, Answer(d)).ok());
}

TEST_F(VaultTest, OneFieldMoreThanGrantedIsRefusedNamingTheField) {
    const Envelope grant = GrantTo(police_, {"identity.name"});
    const Decision d = Ask(police_, GrantId(grant), {"identity.name", "identity.id_number"});
    EXPECT_FALSE(d.released);
    EXPECT_EQ(d.status, 403);
    EXPECT_EQ(d.field, "fields[1]");
    EXPECT_NE(d.reason.find("identity.id_number"), std::string::npos);
    EXPECT_TRUE(d.sealed.empty());
    ASSERT_TRUE(d.receipt.has_value());
    EXPECT_EQ(StringOf(json::parse(d.receipt->entry), "kind"), "refusal");
    // A refusal is not a use: the grant still serves what it covers.
    EXPECT_TRUE(Ask(police_, GrantId(grant), {"identity.name"}).released);
}

TEST_F(VaultTest, AnExpiredGrantIsRefused) {
    const Envelope grant = GrantTo(police_, {"identity"}, 3, kNow + 60'000);
    EXPECT_TRUE(Ask(police_, GrantId(grant), {"identity.name"}, kNow + 59'000).released);
    const Decision d = Ask(police_, GrantId(grant), {"identity.name"}, kNow + 60'000);
    EXPECT_EQ(d.status, 403);
    EXPECT_NE(d.reason.find("expired"), std::string::npos);
}

TEST_F(VaultTest, ARevokedGrantIsRefused) {
    const Envelope grant = GrantTo(police_, {"identity"});
    EXPECT_TRUE(Ask(police_, GrantId(grant), {"identity.name"}).released);
    ASSERT_TRUE(vault_->Revoke(GrantId(grant), kNow + 2000).ok());
    const Decision d = Ask(police_, GrantId(grant), {"identity.name"}, kNow + 3000);
    EXPECT_EQ(d.status, 403);
    EXPECT_NE(d.reason.find("revoked"), std::string::npos);
    auto grants = vault_->Grants();
    ASSERT_TRUE(grants.ok());
    ASSERT_EQ(grants->size(), 1U);
    EXPECT_EQ((*grants)[0].used, 1);
    EXPECT_EQ((*grants)[0].revoked_ms, kNow + 2000);
}

TEST_F(VaultTest, AGrantIsUsedAtMostItsNumberOfUses) {
    const Envelope grant = GrantTo(police_, {"identity.name"}, 2);
    EXPECT_TRUE(Ask(police_, GrantId(grant), {"identity.name"}).released);
    EXPECT_TRUE(Ask(police_, GrantId(grant), {"identity.name"}).released);
    const Decision d = Ask(police_, GrantId(grant), {"identity.name"});
    EXPECT_EQ(d.status, 403);
    EXPECT_NE(d.reason.find("used up"), std::string::npos);
}

TEST_F(VaultTest, AReplayedRequestIsRefused) {
    const Envelope grant = GrantTo(police_, {"identity.name"}, 5);
    const std::string request = MakeRequest(police_, GrantId(grant), {"identity.name"}, "居住证续签", "case-42", kNow);
    auto first = vault_->Release(request, kNow);
    ASSERT_TRUE(first.ok());
    EXPECT_TRUE(first->released);
    auto again = vault_->Release(request, kNow + 10);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->status, 409);
    EXPECT_EQ(again->field, "nonce");
    // And a request from outside the freshness window, even with a new nonce.
    auto stale = vault_->Release(MakeRequest(police_, GrantId(grant), {"identity.name"}, "居住证续签", "c", kNow),
                                 kNow + Vault::kFreshnessMs + 1);
    ASSERT_TRUE(stale.ok());
    EXPECT_EQ(stale->status, 409);
    EXPECT_EQ(stale->field, "issued_ms");
}

TEST_F(VaultTest, ARequestSignedByAnotherDepartmentIsRefused) {
    const Envelope grant = GrantTo(police_, {"identity.name"});
    // The health centre uses the police's grant under its own key: the grant is not its.
    const Decision other = Ask(health_, GrantId(grant), {"identity.name"});
    EXPECT_EQ(other.status, 403);
    EXPECT_EQ(other.field, "department");
    // The health centre names the police's key but signs with its own: the signature fails.
    ReleaseRequest r;
    r.department = police_.keys.public_key;
    r.grant_id = GrantId(grant);
    r.fields = {"identity.name"};
    r.purpose = "居住证续签";
    r.case_id = "c";
    r.nonce = RandomId();
    r.issued_ms = kNow;
    Envelope forged{RequestPayload(r), {}};
    forged.signature = Sign(forged.payload, health_.keys.secret_key);
    auto d = vault_->Release(EnvelopeToJson(forged).dump(), kNow);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->status, 401);
    EXPECT_FALSE(d->released);
}

TEST_F(VaultTest, AnotherPurposeIsRefused) {
    const Envelope grant = GrantTo(police_, {"identity.name"});
    const Decision d = Ask(police_, GrantId(grant), {"identity.name"}, kNow + 1000, "治安调查");
    EXPECT_EQ(d.status, 403);
    EXPECT_EQ(d.field, "purpose");
}

TEST_F(VaultTest, AGrantWidenedInTheFileIsRefused) {
    const Envelope grant = GrantTo(police_, {"identity.name"});
    const std::string id = GrantId(grant);
    vault_.reset();
    // Someone with the file widens the scope; the resident's signature no longer holds.
    Sql("UPDATE grants SET payload = replace(payload, '\"identity.name\"', '\"identity\"') WHERE id = '" + id + "'");
    vault_ = std::move(Vault::Open(path_).value());
    ASSERT_TRUE(vault_->Unlock(kPass).ok());
    const Decision d = Ask(police_, id, {"identity.id_number"});
    EXPECT_EQ(d.status, 403);
    EXPECT_NE(d.reason.find("signature"), std::string::npos);
}

TEST_F(VaultTest, ARecordMovedToAnotherIdDoesNotDecrypt) {
    auto records = vault_->Records();
    ASSERT_TRUE(records.ok());
    const std::string a = (*records)[0].id, b = (*records)[1].id;
    vault_.reset();
    Sql("UPDATE records SET box = (SELECT box FROM records WHERE id = '" + a + "') WHERE id = '" + b + "'");
    vault_ = std::move(Vault::Open(path_).value());
    ASSERT_TRUE(vault_->Unlock(kPass).ok());
    auto r = vault_->Get(b);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().ToString().find(b), std::string::npos);
}

TEST_F(VaultTest, TheAuditVerifiesAnUntouchedLog) {
    const Envelope grant = GrantTo(police_, {"identity.name"});
    Ask(police_, GrantId(grant), {"identity.name"});
    Ask(police_, GrantId(grant), {"identity.phone"});
    auto rep = Vault::Audit(path_, true, vault_->vault_key(), true);
    ASSERT_TRUE(rep.ok()) << rep.error().ToString();
    EXPECT_TRUE(rep->ok) << rep->problem;
    EXPECT_EQ(rep->entries, 4);  // init, grant, release, refusal
    EXPECT_EQ(rep->releases, 1);
    EXPECT_EQ(rep->refusals, 1);
    EXPECT_EQ(rep->log.size(), 4U);
    // Pinned to another vault's key, the same file fails.
    auto other = Vault::Audit(path_, false, NewSigningKeys().public_key, false);
    ASSERT_TRUE(other.ok());
    EXPECT_FALSE(other->ok);
}

TEST_F(VaultTest, ATamperedLogEntryIsDetected) {
    const Envelope grant = GrantTo(police_, {"identity.name"});
    Ask(police_, GrantId(grant), {"identity.name"});
    Ask(police_, GrantId(grant), {"identity.name"});
    vault_.reset();
    // The first release is made to look like another case's.
    Sql("UPDATE log SET entry = replace(entry, 'case-42', 'case-43') WHERE seq = 3");
    auto rep = Vault::Audit(path_, false, {}, false);
    ASSERT_TRUE(rep.ok());
    EXPECT_FALSE(rep->ok);
    EXPECT_EQ(rep->first_bad_seq, 3);
}

TEST_F(VaultTest, ALogRewrittenFromAnEntryOnIsDetected) {
    const Envelope grant = GrantTo(police_, {"identity.name"});
    Ask(police_, GrantId(grant), {"identity.name"});
    vault_.reset();
    // The forger recomputes the changed entry's hash too; without the vault's key the signed head gives it away.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT prev, entry FROM log WHERE seq = 3", -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    const std::string prev(static_cast<const char*>(sqlite3_column_blob(st, 0)), 32);
    std::string entry(reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
    sqlite3_finalize(st);
    entry.replace(entry.find("case-42"), 7, "case-99");
    const std::string hash = Hash(prev, entry);
    sqlite3_prepare_v2(db, "UPDATE log SET entry = ?, hash = ? WHERE seq = 3", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, entry.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, hash.data(), 32, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    auto rep = Vault::Audit(path_, false, {}, false);
    ASSERT_TRUE(rep.ok());
    EXPECT_FALSE(rep->ok);
    EXPECT_EQ(rep->first_bad_seq, 3);
}

TEST_F(VaultTest, EntriesCutFromTheEndOrTheMiddleAreDetected) {
    const Envelope grant = GrantTo(police_, {"identity.name"}, 5);
    for (int i = 0; i < 3; ++i) Ask(police_, GrantId(grant), {"identity.name"});
    vault_.reset();
    Sql("DELETE FROM log WHERE seq = 5");  // the last release
    auto tail = Vault::Audit(path_, false, {}, false);
    ASSERT_TRUE(tail.ok());
    EXPECT_FALSE(tail->ok);
    Sql("DELETE FROM log WHERE seq = 3");
    auto middle = Vault::Audit(path_, false, {}, false);
    ASSERT_TRUE(middle.ok());
    EXPECT_FALSE(middle->ok);
    EXPECT_EQ(middle->first_bad_seq, 3);
}

TEST_F(VaultTest, DeletingAReleaseFromTheLogDoesNotGiveTheUseBackUnseen) {
    const Envelope grant = GrantTo(police_, {"identity.name"}, 1);
    EXPECT_TRUE(Ask(police_, GrantId(grant), {"identity.name"}).released);
    vault_.reset();
    Sql("DELETE FROM log WHERE kind = 'release'");
    // The use is back (uses are counted from the log), but the audit names the gap.
    auto rep = Vault::Audit(path_, false, {}, false);
    ASSERT_TRUE(rep.ok());
    EXPECT_FALSE(rep->ok);
}

TEST_F(VaultTest, ATruncatedFileIsAnErrorNotACrash) {
    vault_.reset();
    sqlite3* db = nullptr;  // fold the WAL into the file, so the cut is in the data
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    const auto size = std::filesystem::file_size(path_);
    for (const auto keep : {size / 2, size_t{4096}, size_t{100}, size_t{0}}) {
        std::filesystem::resize_file(path_, keep);
        std::filesystem::remove(path_ + "-wal");
        std::filesystem::remove(path_ + "-shm");
        auto v = Vault::Open(path_);
        if (v.ok()) {
            const Status s = (*v)->Unlock(kPass);
            if (s.ok()) {
                EXPECT_FALSE((*v)->Records().ok()) << keep;
            }
        }
        auto rep = Vault::Audit(path_, false, {}, false);
        EXPECT_TRUE(!rep.ok() || !rep->ok) << "a file cut to " << keep << " bytes passed the audit";
    }
}

TEST_F(VaultTest, MalformedRequestsNameTheirField) {
    struct Case {
        std::string body, field;
    };
    const std::vector<Case> cases = {
        {"", "body"},
        {"[]", "body"},
        {R"({"payload": "{}"})", "body.signature"},
        {R"({"payload": 5, "signature": "x"})", "body.payload"},
        {R"({"payload": "{}", "signature": "!!"})", "body.signature"},
        {R"({"payload": "{}", "signature": "AAAA"})", "body.signature"},
        {R"({"payload": "{}", "signature": "AAAA", "extra": 1})", "body.extra"},
    };
    for (const Case& c : cases) {
        auto d = vault_->Release(c.body, kNow);
        ASSERT_FALSE(d.ok()) << c.body;
        EXPECT_EQ(d.error().where, c.field) << c.body << ": " << d.error().ToString();
    }
    ReleaseRequest r;
    r.department = police_.keys.public_key;
    r.grant_id = "g";
    r.fields = {"identity.name", "passport.number"};
    r.purpose = "p";
    r.case_id = "c";
    r.nonce = "12345678";
    auto bad = ParseRequestPayload(RequestPayload(r));
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().where, "request.fields[1]");
}

TEST_F(VaultTest, TheDepartmentsKeyFileRoundTripsAndIsPrivate) {
    const std::string key = (dir_ / "police.key").string();
    ASSERT_TRUE(SaveDepartmentKeys(police_, key).ok());
    EXPECT_EQ(std::filesystem::status(key).permissions() & std::filesystem::perms::others_read,
              std::filesystem::perms::none);
    auto k = LoadDepartmentKeys(key);
    ASSERT_TRUE(k.ok()) << k.error().ToString();
    EXPECT_EQ(k->keys.public_key, police_.keys.public_key);
    EXPECT_EQ(k->name, "区公安分局");
    EXPECT_FALSE(SaveDepartmentKeys(police_, key).ok());  // never overwrites a key
}

}  // namespace
}  // namespace citybrain::vault
