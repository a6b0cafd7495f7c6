// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

namespace citybrain::traffic {

/// A fixed team of threads that runs one function on every member and waits for all (fork-join per phase).
/// Work is split statically by the caller (thread t takes its own index range), so results never depend on
/// scheduling. Members spin briefly, then yield: a tick is short and a sleep/wake costs more than the work.
class ThreadTeam {
public:
    explicit ThreadTeam(int threads);
    ~ThreadTeam();
    ThreadTeam(const ThreadTeam&) = delete;
    ThreadTeam& operator=(const ThreadTeam&) = delete;

    int size() const { return size_; }
    /// Runs fn(t) for t in [0, size()) and returns when all are done; the caller runs t = 0.
    /// An exception thrown by fn is captured and rethrown here after all members finished.
    void Run(const std::function<void(int)>& fn);

private:
    void Worker(int index);

    static constexpr int kSpinsBeforeSleep = 20000;
    int size_;
    std::vector<std::thread> workers_;
    const std::function<void(int)>* job_ = nullptr;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<bool> stop_{false};
    std::vector<std::exception_ptr> errors_;
};

/// [begin, end) of part t of n items split into `parts` nearly equal contiguous chunks.
inline std::pair<size_t, size_t> Chunk(size_t n, int parts, int t) {
    const size_t base = n / static_cast<size_t>(parts);
    const size_t extra = n % static_cast<size_t>(parts);
    const size_t ut = static_cast<size_t>(t);
    const size_t begin = ut * base + std::min(ut, extra);
    return {begin, begin + base + (ut < extra ? 1 : 0)};
}

}  // namespace citybrain::traffic
