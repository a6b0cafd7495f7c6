// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for what reaches a resident's vault from outside: a department's signed request (through the
// whole release path of a real vault file), a grant, and a vault's answer as a department opens it. The first byte
// picks the parser; any bytes give a clean error or a refusal, never a crash or a release.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "vault/vault.hpp"

using namespace citybrain;

namespace {

vault::Vault& TheVault() {
    static std::unique_ptr<vault::Vault> v = [] {
        const std::string dir = std::filesystem::temp_directory_path() / ("vault_fuzz_" + std::to_string(::getpid()));
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
        static const std::string to_remove = dir;
        std::atexit([] { std::filesystem::remove_all(to_remove); });
        auto made =
            vault::Vault::Create(dir + "/vault.sqlite", "fuzzing passphrase", *vault::KdfByName("interactive"), 0);
        if (!made.ok()) __builtin_trap();
        if (!(*made)->Put("identity", {{"name", "x"}}, 0).ok()) __builtin_trap();
        return std::move(*made);
    }();
    return *v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 3) {
        case 0: {
            auto d = TheVault().Release(in, 1000);
            if (!d.ok()) {
                if (d.error().where.empty()) __builtin_trap();  // every error names its field
                return 0;
            }
            // No grant exists: nothing the fuzzer writes can be released.
            if (d->released || d->status < 400) __builtin_trap();
            break;
        }
        case 1: {
            auto g = vault::ParseGrantPayload(in);
            if (g.ok() && (g->uses < 1 || g->expires_ms <= g->issued_ms || g->scope.empty())) __builtin_trap();
            auto r = vault::ParseRequestPayload(in);
            if (r.ok() && (r->fields.empty() || r->nonce.size() < 8)) __builtin_trap();
            break;
        }
        case 2: {
            static const vault::DepartmentKeys keys = vault::NewDepartmentKeys("fuzz");
            auto o = vault::OpenRelease(keys, in);
            if (o.ok()) __builtin_trap();  // nothing but the vault's sealed box opens
            break;
        }
    }
    return 0;
}
