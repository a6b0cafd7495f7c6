// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agents/gateway_config.hpp"

namespace citybrain::agents {

/// An upstream's circuit breaker. Closed: every request goes. After `failures` consecutive failures it opens: none
/// goes until `cooldown_ms` have passed; then it is half-open: exactly one trial request goes, and its outcome
/// closes the breaker or opens it for another cool-down. A trial that never reports back (a lost callback) is
/// given up after another cool-down, so a breaker cannot stay half-open for ever.
class Breaker {
public:
    enum class State { kClosed, kOpen, kHalfOpen };
    Breaker(int failures, int64_t cooldown_ms) : failures_(failures), cooldown_ms_(cooldown_ms) {}
    /// May a request go now? In half-open this takes the trial slot.
    bool Admit(int64_t now_ms);
    void Success();
    void Failure(int64_t now_ms);
    State state(int64_t now_ms) const;
    int consecutive_failures() const { return consecutive_; }

private:
    int failures_;
    int64_t cooldown_ms_;
    int consecutive_ = 0;
    bool open_ = false;
    int64_t opened_at_ = 0;
    bool trial_out_ = false;
    int64_t trial_at_ = 0;
};

const char* BreakerStateName(Breaker::State s);

/// The order in which a model's upstreams are tried: by priority, and within a priority by smooth weighted
/// round-robin (nginx's), so that the first choice follows the weights exactly and deterministically, and the
/// others follow as failover. Not thread-safe: the gateway holds it under its lock.
class Router {
public:
    explicit Router(const std::vector<UpstreamConfig>& upstreams);
    /// Indices of the upstreams that serve `model`, in the order to try them; advances the rotation.
    std::vector<size_t> Order(std::string_view model);
    bool Serves(size_t upstream, std::string_view model) const;

private:
    const std::vector<UpstreamConfig>& upstreams_;
    std::vector<int64_t> current_;  // smooth weighted round-robin state, per upstream
};

}  // namespace citybrain::agents
