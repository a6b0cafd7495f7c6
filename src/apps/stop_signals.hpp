// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <pthread.h>
#include <signal.h>

#include <functional>
#include <thread>

#include "server/http_server.hpp"

namespace citybrain::apps {

/// SIGINT and SIGTERM, blocked in this thread. Call it before any thread starts, so every thread inherits the mask
/// and the signals are taken by one waiter with sigwait: no io or writer thread is interrupted mid-commit.
inline sigset_t BlockStopSignals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    return signals;
}

/// Runs `http` until SIGINT or SIGTERM (`on_signal` runs first, with the signal, on the waiter's thread), then stops
/// the waiter.
inline void RunUntilStopSignal(server::HttpServer& http,
                               const sigset_t& signals,
                               const std::function<void(int)>& on_signal = {}) {
    std::thread waiter([&http, &on_signal, signals] {
        int sig = 0;
        if (sigwait(&signals, &sig) != 0) return;
        if (on_signal) on_signal(sig);
        http.Stop();
    });
    http.Run();
    // Wakes the waiter from sigwait (SIGTERM is blocked in every thread, so nothing is terminated by it).
    pthread_kill(waiter.native_handle(), SIGTERM);  // NOLINT(bugprone-bad-signal-to-kill-thread)
    waiter.join();
}

}  // namespace citybrain::apps
