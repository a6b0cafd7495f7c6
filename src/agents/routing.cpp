// SPDX-License-Identifier: Apache-2.0
#include "agents/routing.hpp"

#include <algorithm>

namespace citybrain::agents {

bool Breaker::Admit(int64_t now_ms) {
    if (!open_) return true;
    if (now_ms - opened_at_ < cooldown_ms_) return false;
    if (trial_out_ && now_ms - trial_at_ < cooldown_ms_) return false;
    trial_out_ = true;
    trial_at_ = now_ms;
    return true;
}

void Breaker::Success() {
    consecutive_ = 0;
    open_ = false;
    trial_out_ = false;
}

void Breaker::Failure(int64_t now_ms) {
    ++consecutive_;
    if (open_ ? trial_out_ : consecutive_ >= failures_) {
        open_ = true;
        opened_at_ = now_ms;
        trial_out_ = false;
    }
}

Breaker::State Breaker::state(int64_t now_ms) const {
    if (!open_) return State::kClosed;
    return now_ms - opened_at_ < cooldown_ms_ ? State::kOpen : State::kHalfOpen;
}

const char* BreakerStateName(Breaker::State s) {
    switch (s) {
        case Breaker::State::kClosed:
            return "closed";
        case Breaker::State::kOpen:
            return "open";
        case Breaker::State::kHalfOpen:
            return "half_open";
    }
    return "closed";
}

Router::Router(const std::vector<UpstreamConfig>& upstreams) : upstreams_(upstreams), current_(upstreams.size(), 0) {}

bool Router::Serves(size_t upstream, std::string_view model) const {
    const auto& models = upstreams_[upstream].models;
    return std::any_of(models.begin(), models.end(), [&](const std::string& m) { return m == "*" || m == model; });
}

std::vector<size_t> Router::Order(std::string_view model) {
    std::vector<size_t> all;
    for (size_t i = 0; i < upstreams_.size(); ++i) {
        if (Serves(i, model)) all.push_back(i);
    }
    std::stable_sort(
        all.begin(), all.end(), [&](size_t a, size_t b) { return upstreams_[a].priority < upstreams_[b].priority; });
    std::vector<size_t> order;
    order.reserve(all.size());
    for (size_t g = 0; g < all.size();) {
        size_t end = g;
        while (end < all.size() && upstreams_[all[end]].priority == upstreams_[all[g]].priority) ++end;
        // Smooth weighted round-robin over the group picks the first; the rest follow by weight, heaviest first.
        int64_t total = 0;
        size_t best = all[g];
        for (size_t i = g; i < end; ++i) {
            current_[all[i]] += upstreams_[all[i]].weight;
            total += upstreams_[all[i]].weight;
            if (current_[all[i]] > current_[best]) best = all[i];
        }
        current_[best] -= total;
        order.push_back(best);
        std::vector<size_t> rest;
        for (size_t i = g; i < end; ++i) {
            if (all[i] != best) rest.push_back(all[i]);
        }
        std::stable_sort(
            rest.begin(), rest.end(), [&](size_t a, size_t b) { return upstreams_[a].weight > upstreams_[b].weight; });
        order.insert(order.end(), rest.begin(), rest.end());
        g = end;
    }
    return order;
}

}  // namespace citybrain::agents
