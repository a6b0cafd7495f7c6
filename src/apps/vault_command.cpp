// SPDX-License-Identifier: Apache-2.0
// `citybrain vault`: the resident's data vault on the home box (init, serve, put, records, grant, grants, revoke,
// audit) and the department's side (keygen, request).
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "agents/vault_client.hpp"
#include "apps/commands.hpp"
#include "apps/stop_signals.hpp"
#include "core/file.hpp"
#include "core/time.hpp"
#include "server/http_server.hpp"
#include "server/vault_api.hpp"
#include "vault/vault.hpp"

namespace citybrain::apps {
namespace {

using nlohmann::json;

struct VaultArgs {
    std::string db = "vault.sqlite";
    std::string passphrase_file;
    std::string kdf = "interactive";
    std::string address = "127.0.0.1";
    int port = 8320;
    bool unlock = false;
    std::string access_log = "-";
    std::string type, fields;
    std::string id;
    std::string department, department_key, department_name;
    std::string scope, purpose, expires;
    int64_t uses = 1;
    std::string vault_key;
    bool all_signatures = false;
    bool json = false;
    std::string name, out, key, url, case_id;
};

/// The CLI's exit codes: a wrong passphrase, a damaged file or a refused input are the user's to fix (2).
int Report(const Error& e, bool json_out) {
    if (e.code == ErrorCode::kFailedPrecondition || e.code == ErrorCode::kConflict) {
        Error as_input = e;
        as_input.code = ErrorCode::kInvalidArgument;
        return ReportError(as_input, json_out);
    }
    return ReportError(e, json_out);
}

/// The passphrase, never from the command line (it would show in `ps`): CITYBRAIN_VAULT_PASSPHRASE, a file, or
/// the terminal with echo off.
Result<std::string> Passphrase(const VaultArgs& a) {
    if (!a.passphrase_file.empty()) {
        CB_TRY_ASSIGN(std::string text, core::ReadFile(a.passphrase_file));
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        if (text.empty()) return InvalidArgument("--passphrase-file", "is empty");
        return text;
    }
    if (const char* env = std::getenv("CITYBRAIN_VAULT_PASSPHRASE"); env != nullptr && *env != '\0')
        return std::string(env);
    if (isatty(STDIN_FILENO) == 0) {
        return InvalidArgument("passphrase",
                               "set CITYBRAIN_VAULT_PASSPHRASE or give --passphrase-file (stdin is not a terminal)");
    }
    std::fprintf(stderr, "vault passphrase: ");
    termios old{};
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::string line;
    std::getline(std::cin, line);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
    if (line.empty()) return InvalidArgument("passphrase", "is empty");
    return line;
}

Result<std::unique_ptr<vault::Vault>> OpenUnlocked(const VaultArgs& a) {
    CB_TRY_ASSIGN(std::unique_ptr<vault::Vault> v, vault::Vault::Open(a.db));
    CB_TRY_ASSIGN(std::string pass, Passphrase(a));
    CB_TRY(v->Unlock(pass));
    return v;
}

std::vector<std::string> SplitComma(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    std::string item;
    while (std::getline(in, item, ',')) {
        if (!item.empty()) out.push_back(item);
    }
    return out;
}

int Init(const VaultArgs& a) {
    auto kdf = vault::KdfByName(a.kdf);
    if (!kdf.ok()) return Report(kdf.error(), a.json);
    auto pass = Passphrase(a);
    if (!pass.ok()) return Report(pass.error(), a.json);
    auto v = vault::Vault::Create(a.db, *pass, *kdf, core::NowMs());
    if (!v.ok()) return Report(v.error(), a.json);
    const json d = (*v)->Describe();
    std::printf(
        "created vault %s\nresident key %s\nvault key %s (give it to departments: their receipts must carry it)\n",
        a.db.c_str(),
        d["resident_key"].get<std::string>().c_str(),
        d["vault_key"].get<std::string>().c_str());
    return kExitOk;
}

int Serve(const VaultArgs& a) {
    if (a.port < 0 || a.port > 65535) return Report(InvalidArgument("--port", "must be 0 to 65535"), false);
    const sigset_t signals = BlockStopSignals();
    auto v = a.unlock ? OpenUnlocked(a) : vault::Vault::Open(a.db);
    if (!v.ok()) return Report(v.error(), false);
    server::VaultApi api(**v, [] { return core::NowMs(); });
    server::ServerOptions options;
    options.address = a.address;
    options.port = static_cast<uint16_t>(a.port);
    options.threads = 1;  // a home box; the vault serialises its work anyway
    options.body_limit = size_t{2} * 1024 * 1024;
    options.access_log = a.access_log;
    server::HttpServer http([&api](const server::ApiRequest& r,
                                   const std::function<void(server::ApiResponse)>& done) { api.Handle(r, done); },
                            options);
    auto port = http.Start();
    if (!port.ok()) return Report(port.error(), false);
    std::printf("citybrain vault %s on http://%s:%u/vault/v1/ (%s)\n",
                a.db.c_str(),
                a.address.c_str(),
                static_cast<unsigned>(*port),
                (*v)->locked() ? "locked: POST /vault/v1/unlock" : "unlocked");
    std::fflush(stdout);
    RunUntilStopSignal(http, signals);
    return kExitOk;
}

int Put(const VaultArgs& a) {
    const json fields = json::parse(a.fields, nullptr, false);
    if (fields.is_discarded()) return Report(InvalidArgument("--fields", "is not valid JSON"), a.json);
    auto v = OpenUnlocked(a);
    if (!v.ok()) return Report(v.error(), a.json);
    auto id = (*v)->Put(a.type, fields, core::NowMs());
    if (!id.ok()) return Report(id.error(), a.json);
    std::printf("%s\n", a.json ? json{{"id", *id}}.dump().c_str() : id->c_str());
    return kExitOk;
}

int Records(const VaultArgs& a) {
    auto v = OpenUnlocked(a);
    if (!v.ok()) return Report(v.error(), a.json);
    auto records = (*v)->Records();
    if (!records.ok()) return Report(records.error(), a.json);
    json out = json::array();
    for (const auto& r : *records) out.push_back({{"id", r.id}, {"type", r.type}, {"fields", r.fields}});
    std::printf("%s\n", out.dump(a.json ? -1 : 2).c_str());
    return kExitOk;
}

int GrantCmd(const VaultArgs& a) {
    vault::GrantSpec spec;
    if (!a.department.empty()) {
        auto k = vault::LoadDepartmentKeys(a.department);
        if (!k.ok()) return Report(k.error(), a.json);
        spec.department = k->keys.public_key;
        spec.department_name = a.department_name.empty() ? k->name : a.department_name;
    } else if (!a.department_key.empty()) {
        auto k = vault::FromBase64(a.department_key, 32, "--department-key");
        if (!k.ok()) return Report(k.error(), a.json);
        spec.department = *k;
        spec.department_name = a.department_name;
        if (spec.department_name.empty())
            return Report(InvalidArgument("--department-name", "is required with --department-key"), a.json);
    } else {
        return Report(InvalidArgument("--department", "give the department's key file or --department-key"), a.json);
    }
    spec.scope = SplitComma(a.scope);
    spec.purpose = a.purpose;
    spec.uses = a.uses;
    auto expires = core::ParseTimestamp(a.expires, "--expires");
    if (!expires.ok()) return Report(expires.error(), a.json);
    spec.expires_ms = *expires;
    auto v = OpenUnlocked(a);
    if (!v.ok()) return Report(v.error(), a.json);
    auto grant = (*v)->GrantConsent(spec, core::NowMs());
    if (!grant.ok()) return Report(grant.error(), a.json);
    std::printf("%s\n",
                json{{"id", vault::ParseGrantPayload(grant->payload)->id}, {"grant", vault::EnvelopeToJson(*grant)}}
                    .dump()
                    .c_str());
    return kExitOk;
}

int Grants(const VaultArgs& a) {
    auto v = vault::Vault::Open(a.db);
    if (!v.ok()) return Report(v.error(), a.json);
    auto grants = (*v)->Grants();
    if (!grants.ok()) return Report(grants.error(), a.json);
    json out = json::array();
    for (const auto& g : *grants) {
        json j{{"id", g.grant.id},
               {"department_name", g.grant.department_name},
               {"department", vault::ToBase64(g.grant.department)},
               {"scope", g.grant.scope},
               {"purpose", g.grant.purpose},
               {"expires", core::FormatTimestamp(g.grant.expires_ms)},
               {"uses", g.grant.uses},
               {"used", g.used}};
        if (g.revoked_ms) j["revoked"] = core::FormatTimestamp(*g.revoked_ms);
        out.push_back(std::move(j));
    }
    std::printf("%s\n", out.dump(a.json ? -1 : 2).c_str());
    return kExitOk;
}

int Revoke(const VaultArgs& a) {
    auto v = OpenUnlocked(a);
    if (!v.ok()) return Report(v.error(), a.json);
    if (Status s = (*v)->Revoke(a.id, core::NowMs()); !s.ok()) return Report(s.error(), a.json);
    std::printf("revoked %s\n", a.id.c_str());
    return kExitOk;
}

int Audit(const VaultArgs& a) {
    std::string pinned;
    if (!a.vault_key.empty()) {
        auto k = vault::FromBase64(a.vault_key, 32, "--vault-key");
        if (!k.ok()) return Report(k.error(), a.json);
        pinned = *k;
    }
    auto rep = vault::Vault::Audit(a.db, a.all_signatures, pinned, true);
    if (!rep.ok()) return Report(rep.error(), a.json);
    if (a.json) {
        json out{{"ok", rep->ok},
                 {"entries", rep->entries},
                 {"releases", rep->releases},
                 {"refusals", rep->refusals},
                 {"grants", rep->grants},
                 {"revocations", rep->revocations},
                 {"all_signatures", rep->all_signatures},
                 {"vault_key", vault::ToBase64(rep->vault_key)}};
        if (!rep->ok) {
            out["first_bad_seq"] = rep->first_bad_seq;
            out["problem"] = rep->problem;
        }
        std::printf("%s\n", out.dump().c_str());
    } else {
        // Who got what, when and why.
        for (const json& e : rep->log) {
            const std::string kind = vault::StringOf(e, "kind");
            // A damaged file's entries may hold anything: read them without trusting their types.
            auto integer = [&e](const char* k) {
                return e.is_object() && e.contains(k) && e[k].is_number_integer() ? e[k].get<int64_t>() : int64_t{0};
            };
            const int64_t t = integer("time_ms");
            std::printf("#%lld %s %-8s",
                        static_cast<long long>(integer("seq")),
                        core::FormatTimestamp(t).c_str(),
                        kind.c_str());
            const std::string who = vault::StringOf(e, "department_name");
            if (kind == "release" || kind == "refusal" || kind == "grant") {
                std::printf(" %s", who.empty() ? vault::StringOf(e, "department").c_str() : who.c_str());
                if (e.is_object() && e.contains("fields")) std::printf(" %s", e["fields"].dump().c_str());
                if (e.is_object() && e.contains("scope")) std::printf(" %s", e["scope"].dump().c_str());
                std::printf(" for \"%s\"", vault::StringOf(e, "purpose").c_str());
                if (!vault::StringOf(e, "case").empty()) std::printf(" (case %s)", vault::StringOf(e, "case").c_str());
                if (kind == "refusal") std::printf(": %s", vault::StringOf(e, "reason").c_str());
            } else if (kind == "revoke") {
                std::printf(" grant %s", vault::StringOf(e, "grant").c_str());
            }
            std::printf("\n");
        }
        std::printf("%s: %lld entries (%lld releases, %lld refusals, %lld grants, %lld revocations); %s\n",
                    rep->ok ? "chain verified" : "CHAIN BROKEN",
                    static_cast<long long>(rep->entries),
                    static_cast<long long>(rep->releases),
                    static_cast<long long>(rep->refusals),
                    static_cast<long long>(rep->grants),
                    static_cast<long long>(rep->revocations),
                    rep->all_signatures ? "every entry's signature checked" : "hash links and the signed head checked");
        if (!rep->ok)
            std::printf(
                "first problem at entry %lld: %s\n", static_cast<long long>(rep->first_bad_seq), rep->problem.c_str());
    }
    return rep->ok ? kExitOk : kExitAuditFailed;
}

int Keygen(const VaultArgs& a) {
    if (a.name.empty()) return Report(InvalidArgument("--name", "is required"), false);
    const vault::DepartmentKeys k = vault::NewDepartmentKeys(a.name);
    if (Status s = vault::SaveDepartmentKeys(k, a.out); !s.ok()) return Report(s.error(), false);
    std::printf("%s\n", vault::ToBase64(k.keys.public_key).c_str());
    return kExitOk;
}

int Request(const VaultArgs& a) {
    auto keys = vault::LoadDepartmentKeys(a.key);
    if (!keys.ok()) return Report(keys.error(), a.json);
    agents::ReleaseAsk ask;
    ask.vault_url = a.url;
    ask.grant_id = a.id;
    ask.fields = SplitComma(a.fields);
    ask.purpose = a.purpose;
    ask.case_id = a.case_id;
    if (!a.vault_key.empty()) {
        auto k = vault::FromBase64(a.vault_key, 32, "--vault-key");
        if (!k.ok()) return Report(k.error(), a.json);
        ask.vault_key = *k;
    }
    auto out = agents::RequestRelease(*keys, ask, core::NowMs());
    if (!out.ok()) return Report(out.error(), a.json);
    json j{{"released", out->released}, {"status", out->status}, {"receipt", out->receipt}};
    if (out->released) {
        j["data"] = out->opened.data;
    } else {
        j["code"] = out->code;
        j["field"] = out->field;
        j["reason"] = out->reason;
    }
    std::printf("%s\n", j.dump(a.json ? -1 : 2).c_str());
    if (!out->released)
        std::fprintf(stderr,
                     "refused (%d %s): %s: %s\n",
                     out->status,
                     out->code.c_str(),
                     out->field.c_str(),
                     out->reason.c_str());
    return out->released ? kExitOk : kExitRefused;
}

}  // namespace

void RegisterVault(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "vault", "the resident's data vault: encrypted records, signed consent, sealed releases, an audited log");
    cmd->require_subcommand(1);
    auto a = std::make_shared<VaultArgs>();
    auto db = [a](CLI::App* c) {
        c->add_option("--db", a->db, "The vault's SQLite file")->capture_default_str();
        c->add_option("--passphrase-file",
                      a->passphrase_file,
                      "A file holding the passphrase (else CITYBRAIN_VAULT_PASSPHRASE, else the terminal)");
        c->add_flag("--json", a->json, "JSON on stdout");
    };
    auto* init = cmd->add_subcommand("init", "Create a vault file (keys, an empty log), locked by a passphrase");
    db(init);
    init->add_option("--kdf", a->kdf, "Argon2id cost: interactive, moderate or sensitive")->capture_default_str();
    init->callback([a] { SetExitCode(Init(*a)); });

    auto* serve = cmd->add_subcommand("serve", "Serve the vault over HTTP under /vault/v1/ (locked until unlocked)");
    db(serve);
    serve->add_option("--address", a->address, "Address to listen on")->capture_default_str();
    serve->add_option("--port", a->port, "Port (0: any free port)")->capture_default_str();
    serve->add_flag("--unlock", a->unlock, "Unlock at start with the passphrase (else POST /vault/v1/unlock)");
    serve->add_option("--access-log", a->access_log, "'-' for stderr, a file, or '' for none")->capture_default_str();
    serve->callback([a] { SetExitCode(Serve(*a)); });

    auto* put = cmd->add_subcommand("put", "Store a record");
    db(put);
    put->add_option("--type", a->type, "identity, household, residence_permit, health_notes or file")->required();
    put->add_option("--fields", a->fields, "The record's fields as a JSON object")->required();
    put->callback([a] { SetExitCode(Put(*a)); });

    auto* records = cmd->add_subcommand("records", "List the records, decrypted");
    db(records);
    records->callback([a] { SetExitCode(Records(*a)); });

    auto* grant = cmd->add_subcommand("grant", "Consent: sign a grant for a department");
    db(grant);
    grant->add_option("--department", a->department, "The department's key file (its public key and name are used)");
    grant->add_option("--department-key", a->department_key, "Or the department's public key (base64)");
    grant->add_option("--department-name", a->department_name, "The department's name");
    grant->add_option("--scope", a->scope, "Types or type.field names, comma-separated")->required();
    grant->add_option("--purpose", a->purpose, "What the data is for; requests must name the same")->required();
    grant->add_option("--expires", a->expires, "When the grant ends (ISO 8601, e.g. 2027-01-01T00:00:00+08:00)")
        ->required();
    grant->add_option("--uses", a->uses, "Releases allowed in all")->capture_default_str();
    grant->callback([a] { SetExitCode(GrantCmd(*a)); });

    auto* grants = cmd->add_subcommand("grants", "List the grants with their uses and revocations");
    db(grants);
    grants->callback([a] { SetExitCode(Grants(*a)); });

    auto* revoke = cmd->add_subcommand("revoke", "Revoke a grant");
    db(revoke);
    revoke->add_option("--grant", a->id, "The grant's id")->required();
    revoke->callback([a] { SetExitCode(Revoke(*a)); });

    auto* audit = cmd->add_subcommand(
        "audit", "Verify the log's chain and print who got what, when and why (exit 3 when the chain is broken)");
    db(audit);
    audit->add_option("--vault-key", a->vault_key, "The vault's public key (base64) the log must be signed with");
    audit->add_flag("--all-signatures", a->all_signatures, "Check every entry's signature, not only the signed head");
    audit->callback([a] { SetExitCode(Audit(*a)); });

    auto* keygen = cmd->add_subcommand("keygen", "A department's (or agent's) key pair, written to a new file (0600)");
    keygen->add_option("--name", a->name, "The department's name, e.g. 区公安分局")->required();
    keygen->add_option("--out", a->out, "The key file to create")->required();
    keygen->callback([a] { SetExitCode(Keygen(*a)); });

    auto* request = cmd->add_subcommand(
        "request", "As a department: ask a resident's vault for fields under a grant (exit 4 when refused)");
    request->add_option("--key", a->key, "The department's key file")->required();
    request->add_option("--url", a->url, "The vault, e.g. http://192.168.1.20:8320")->required();
    request->add_option("--grant", a->id, "The grant's id")->required();
    request->add_option("--fields", a->fields, "type.field names, comma-separated")->required();
    request->add_option("--purpose", a->purpose, "The grant's purpose")->required();
    request->add_option("--case", a->case_id, "The case the data is for")->required();
    request->add_option("--vault-key", a->vault_key, "The vault's public key (base64): receipts must carry it");
    request->add_flag("--json", a->json, "JSON on one line");
    request->callback([a] { SetExitCode(Request(*a)); });
}

}  // namespace citybrain::apps
