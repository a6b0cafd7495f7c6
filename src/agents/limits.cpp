// SPDX-License-Identifier: Apache-2.0
#include "agents/limits.hpp"

#include <algorithm>
#include <chrono>

#include "core/utf8.hpp"

namespace citybrain::agents {

namespace {

constexpr int64_t kDistrictOffsetMs = int64_t{8} * 3600 * 1000;  // UTC+8: budgets reset at the district's midnight
constexpr int64_t kDayMs = int64_t{24} * 3600 * 1000;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

}  // namespace

void MinuteWindow::Add(int64_t now_ms, int64_t n) {
    const int64_t s = FloorDiv(now_ms, 1000);
    const size_t slot = static_cast<size_t>(((s % 60) + 60) % 60);
    if (second_[slot] != s) {
        second_[slot] = s;
        count_[slot] = 0;
    }
    count_[slot] += n;
}

int64_t MinuteWindow::Sum(int64_t now_ms) const {
    const int64_t s = FloorDiv(now_ms, 1000);
    int64_t total = 0;
    for (size_t i = 0; i < 60; ++i) {
        if (second_[i] > s - 60 && second_[i] <= s) total += count_[i];
    }
    return total;
}

int64_t MinuteWindow::SecondsUntilBelow(int64_t now_ms, int64_t limit) const {
    const int64_t s = FloorDiv(now_ms, 1000);
    int64_t total = Sum(now_ms);
    // Slots leave the window oldest first; count how many seconds pass before enough has left.
    for (int64_t wait = 1; wait <= 60; ++wait) {
        const int64_t leaving = s - 60 + wait;  // this second's slot drops out `wait` seconds from now
        const size_t slot = static_cast<size_t>(((leaving % 60) + 60) % 60);
        if (second_[slot] == leaving) total -= count_[slot];
        if (total < limit) return wait;
    }
    return 60;
}

int64_t PeriodStartMs(BudgetPeriod period, int64_t now_ms) {
    if (period == BudgetPeriod::kTotal) return 0;
    const int64_t local = now_ms + kDistrictOffsetMs;
    const int64_t day = FloorDiv(local, kDayMs);
    if (period == BudgetPeriod::kDay) return day * kDayMs - kDistrictOffsetMs;
    using namespace std::chrono;
    const year_month_day ymd{sys_days{days{day}}};
    const sys_days first{ymd.year() / ymd.month() / 1};
    return int64_t{first.time_since_epoch().count()} * kDayMs - kDistrictOffsetMs;
}

int64_t PeriodEndMs(BudgetPeriod period, int64_t now_ms) {
    if (period == BudgetPeriod::kTotal) return INT64_MAX;
    if (period == BudgetPeriod::kDay) return PeriodStartMs(period, now_ms) + kDayMs;
    using namespace std::chrono;
    const int64_t day = FloorDiv(PeriodStartMs(period, now_ms) + kDistrictOffsetMs, kDayMs);
    const year_month_day ymd{sys_days{days{day}}};
    const sys_days next{(ymd.year() / ymd.month() / 1) + months{1}};
    return int64_t{next.time_since_epoch().count()} * kDayMs - kDistrictOffsetMs;
}

void KeyUsage::Roll(const KeyConfig& key, int64_t now_ms) {
    const int64_t start = PeriodStartMs(key.period, now_ms);
    if (start != period_start_) {
        period_start_ = start;
        period_tokens_ = 0;
    }
}

KeyUsage::Verdict KeyUsage::Admit(const KeyConfig& key, int64_t now_ms) {
    Roll(key, now_ms);
    Verdict v;
    if (key.budget_tokens > 0 && period_tokens_ >= key.budget_tokens) {
        v.ok = false;
        v.limit = "budget";
        v.message = "the key's token budget for this period (" + std::to_string(key.budget_tokens) + ") is spent";
        const int64_t end = PeriodEndMs(key.period, now_ms);
        v.retry_after_s = end == INT64_MAX ? 0 : std::max<int64_t>(1, (end - now_ms + 999) / 1000);
        return v;
    }
    if (key.rpm > 0 && requests_.Sum(now_ms) >= key.rpm) {
        v.ok = false;
        v.limit = "rpm";
        v.message = "the key's limit of " + std::to_string(key.rpm) + " requests per minute is reached";
        v.retry_after_s = requests_.SecondsUntilBelow(now_ms, key.rpm);
        return v;
    }
    if (key.tpm > 0 && tokens_.Sum(now_ms) >= key.tpm) {
        v.ok = false;
        v.limit = "tpm";
        v.message = "the key's limit of " + std::to_string(key.tpm) + " tokens per minute is reached";
        v.retry_after_s = tokens_.SecondsUntilBelow(now_ms, key.tpm);
        return v;
    }
    requests_.Add(now_ms, 1);
    return v;
}

bool KeyUsage::AddTokens(const KeyConfig& key, int64_t now_ms, int64_t tokens) {
    Roll(key, now_ms);
    tokens_.Add(now_ms, tokens);
    period_tokens_ += tokens;
    return key.budget_tokens == 0 || period_tokens_ < key.budget_tokens;
}

void KeyUsage::SetPeriodTokens(const KeyConfig& key, int64_t now_ms, int64_t tokens) {
    Roll(key, now_ms);
    period_tokens_ = tokens;
}

int64_t EstimateTokens(std::string_view text) {
    int64_t cjk = 0;
    int64_t other_bytes = 0;
    size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        const size_t len = core::Utf8SequenceLength(c);
        if (len >= 3) {
            ++cjk;
        } else {
            other_bytes += static_cast<int64_t>(len);
        }
        i += len;
    }
    return cjk + (other_bytes + 3) / 4;
}

}  // namespace citybrain::agents
