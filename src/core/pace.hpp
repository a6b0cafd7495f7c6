// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

namespace citybrain::core {

/// Holds simulated time to the wall clock at `speedup` simulated seconds per wall second. Each due time is
/// measured from the start, so a late wake-up or a slow step never accumulates drift: after any number of steps
/// the simulation is where speed-up × elapsed wall time says, to within one nap.
class Pacer {
public:
    using Clock = std::chrono::steady_clock;
    using Now = std::function<Clock::time_point()>;
    using Sleep = std::function<void(Clock::duration)>;

    /// `speedup` 0: no pacing (as fast as it goes). `now` and `sleep` are the real clock unless a test says.
    explicit Pacer(
        double speedup,
        Now now = [] { return Clock::now(); },
        Sleep sleep = [](Clock::duration d) { std::this_thread::sleep_for(d); })
        : speedup_(speedup), now_(std::move(now)), sleep_(std::move(sleep)), start_(now_()) {}

    /// Returns once the wall clock has reached `sim_s / speedup` after the start, or `stop()` is true. Sleeps in
    /// naps of at most `nap`, so that a stop request is seen promptly.
    void WaitFor(
        double sim_s,
        const std::function<bool()>& stop = [] { return false; },
        Clock::duration nap = std::chrono::milliseconds(50)) const {
        if (speedup_ <= 0) return;
        const auto due =
            start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(sim_s / speedup_));
        for (auto now = now_(); now < due && !stop(); now = now_()) sleep_(std::min<Clock::duration>(due - now, nap));
    }

    /// Wall seconds since the start.
    double Elapsed() const { return std::chrono::duration<double>(now_() - start_).count(); }

private:
    double speedup_;
    Now now_;
    Sleep sleep_;
    Clock::time_point start_;
};

}  // namespace citybrain::core
