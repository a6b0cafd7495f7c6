// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "server/api.hpp"

namespace citybrain::vault {
class Vault;
}

namespace citybrain::server {

/// The resident's vault over HTTP under /vault/v1/ (`citybrain vault serve`): it parses, validates, calls the vault's
/// facade and renders. The resident unlocks with the passphrase and gets a token for the resident's endpoints
/// (records, grants, audit); departments call POST /vault/v1/releases with a signed request and no token.
class VaultApi {
public:
    VaultApi(vault::Vault& vault, std::function<int64_t()> clock_ms);
    /// Calls `done` exactly once, on this thread.
    void Handle(const ApiRequest& request, const std::function<void(ApiResponse)>& done);

    /// Consecutive wrong passphrases before unlocking pauses, and for how long.
    static constexpr int kMaxFailures = 5;
    static constexpr int64_t kPauseMs = 60'000;

private:
    /// An Error becomes a 4xx naming its field (5xx for the store's failures).
    Result<ApiResponse> Route(const ApiRequest& req, const std::string& path);
    bool Resident(const ApiRequest& req) const;

    vault::Vault& vault_;
    std::function<int64_t()> clock_ms_;
    mutable std::mutex mu_;
    std::string token_;  // the resident's session, until the vault is locked
    int failures_ = 0;
    int64_t paused_until_ = 0;
};

}  // namespace citybrain::server
