// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "agents/gateway_config.hpp"

namespace citybrain::agents {

/// A count over the last 60 s in one-second slots: no allocation, exact to the second.
class MinuteWindow {
public:
    void Add(int64_t now_ms, int64_t n);
    int64_t Sum(int64_t now_ms) const;
    /// Seconds until the sum falls below `limit` if nothing more is added (at least 1).
    int64_t SecondsUntilBelow(int64_t now_ms, int64_t limit) const;

private:
    std::array<int64_t, 60> count_{};
    std::array<int64_t, 60> second_{};
};

/// Where a budget period starts and ends, in the district's time (UTC+8): a day from local midnight, a month from
/// the first; a total never ends.
int64_t PeriodStartMs(BudgetPeriod period, int64_t now_ms);
int64_t PeriodEndMs(BudgetPeriod period, int64_t now_ms);

/// One key's use: requests and tokens this minute, tokens this budget period. Not thread-safe: the gateway holds
/// it under its lock.
class KeyUsage {
public:
    struct Verdict {
        bool ok = true;
        std::string limit;  // "rpm", "tpm" or "budget"
        std::string message;
        int64_t retry_after_s = 0;
    };
    /// Admits a request (and counts it) or says which limit it hits and when to come back.
    Verdict Admit(const KeyConfig& key, int64_t now_ms);
    /// Counts tokens as they are used; false once the period's budget is spent.
    bool AddTokens(const KeyConfig& key, int64_t now_ms, int64_t tokens);
    /// Tokens already used in the period (from the audit log at start).
    void SetPeriodTokens(const KeyConfig& key, int64_t now_ms, int64_t tokens);
    int64_t period_tokens() const { return period_tokens_; }

private:
    void Roll(const KeyConfig& key, int64_t now_ms);
    MinuteWindow requests_;
    MinuteWindow tokens_;
    int64_t period_start_ = -1;
    int64_t period_tokens_ = 0;
};

/// A rough token count where an upstream reports none (a stream without usage): a CJK character is a token, other
/// text about four bytes one. Used only as a floor for counting; the audit says which kind of count it holds.
int64_t EstimateTokens(std::string_view text);

}  // namespace citybrain::agents
