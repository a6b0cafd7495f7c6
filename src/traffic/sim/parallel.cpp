// SPDX-License-Identifier: Apache-2.0
#include "traffic/sim/parallel.hpp"

namespace citybrain::traffic {

ThreadTeam::ThreadTeam(int threads) : size_(threads < 1 ? 1 : threads), errors_(static_cast<size_t>(size_)) {
    for (int t = 1; t < size_; ++t) workers_.emplace_back([this, t] { Worker(t); });
}

ThreadTeam::~ThreadTeam() {
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    for (auto& w : workers_) w.join();
}

void ThreadTeam::Run(const std::function<void(int)>& fn) {
    if (size_ == 1) {
        fn(0);
        return;
    }
    job_ = &fn;
    pending_.store(size_ - 1, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    try {
        fn(0);
    } catch (...) {
        errors_[0] = std::current_exception();
    }
    int spins = 0;
    while (pending_.load(std::memory_order_acquire) != 0) {
        if (++spins > 2000) std::this_thread::yield();
    }
    job_ = nullptr;
    for (auto& e : errors_) {
        if (e) {
            auto copy = e;
            for (auto& x : errors_) x = nullptr;
            std::rethrow_exception(copy);
        }
    }
}

void ThreadTeam::Worker(int index) {
    uint64_t seen = 0;
    while (true) {
        int spins = 0;
        uint64_t gen;
        while ((gen = generation_.load(std::memory_order_acquire)) == seen) {
            // Spin through the short serial stretches of a step; then sleep, so an idle team (a run paused, a
            // network too small to share) leaves the cores to others.
            if (++spins > kSpinsBeforeSleep) {
                generation_.wait(seen, std::memory_order_acquire);
            } else if (spins > 2000) {
                std::this_thread::yield();
            }
        }
        seen = gen;
        if (stop_.load(std::memory_order_acquire)) return;
        try {
            (*job_)(index);
        } catch (...) {
            errors_[static_cast<size_t>(index)] = std::current_exception();
        }
        pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

}  // namespace citybrain::traffic
