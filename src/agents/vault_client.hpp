// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "vault/protocol.hpp"

namespace citybrain::agents {

/// What a department asks a resident's vault for, and why.
struct ReleaseAsk {
    std::string vault_url;  // http://host:port of the resident's vault
    std::string grant_id;
    std::vector<std::string> fields;
    std::string purpose;
    std::string case_id;
    std::string
        vault_key;  // the vault's Ed25519 public key (raw) when the department knows it: the receipt must carry it
    std::chrono::milliseconds timeout{5000};
};

/// The vault's refusal, as it gave it (HTTP status, code, field, reason), with the receipt of the refusal.
struct ReleaseOutcome {  // NOLINT(bugprone-exception-escape): as vault::Opened, a false report of clang-tidy 14
    bool released = false;
    int status = 0;
    std::string code, field, reason;
    vault::Opened opened;    // when released: the fields and the verified receipt
    nlohmann::json receipt;  // the receipt as the vault sent it (kept with the case; never the fields)
};

/// The brain's side of the vault protocol (issue 20): signs a request with the department's key, sends it to the
/// resident's vault over HTTP, opens the sealed answer and verifies its receipt. Errors: the vault could not be
/// reached, or its answer does not verify (never a silent success).
Result<ReleaseOutcome> RequestRelease(const vault::DepartmentKeys& keys, const ReleaseAsk& ask, int64_t now_ms);

}  // namespace citybrain::agents
