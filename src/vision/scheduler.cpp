// SPDX-License-Identifier: Apache-2.0
#include "vision/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace citybrain::vision {

bool InferenceQueue::Push(const FrameJob& job, std::optional<FrameJob>* evicted) {
    evicted->reset();
    const auto p = static_cast<size_t>(job.priority - 1);
    if (size_ >= capacity_) {
        // The oldest frame of the lowest priority below this one makes room; none: this frame is dropped.
        for (size_t lower = kPriorities; lower-- > p + 1;) {
            if (!by_priority_[lower].empty()) {
                *evicted = by_priority_[lower].front();
                by_priority_[lower].pop_front();
                --size_;
                break;
            }
        }
        if (!evicted->has_value()) return false;
    }
    by_priority_[p].push_back(job);
    ++size_;
    return true;
}

std::vector<FrameJob> InferenceQueue::Pop(size_t batch) {
    std::vector<FrameJob> out;
    for (auto& q : by_priority_) {
        while (!q.empty() && out.size() < batch) {
            out.push_back(q.front());
            q.pop_front();
        }
    }
    size_ -= out.size();
    return out;
}

Sampler::Sampler(std::vector<CameraRate> rates, int64_t start_ms, double start_hour)
    : rates_(std::move(rates)), stretch_(rates_.size(), 1), start_ms_(start_ms), start_hour_(start_hour) {
    // Cameras start spread over their first interval, so that they do not all arrive in the first millisecond.
    for (uint32_t c = 0; c < rates_.size(); ++c) {
        const int64_t interval = IntervalAt(c, start_ms);
        const auto offset =
            static_cast<int64_t>((static_cast<uint64_t>(c) * 2654435761ULL) % static_cast<uint64_t>(interval));
        due_.emplace(start_ms + offset, c);
    }
}

int64_t Sampler::IntervalAt(uint32_t camera, int64_t t_ms) const {
    const CameraRate& r = rates_[camera];
    const double hour = std::fmod(start_hour_ + static_cast<double>(t_ms - start_ms_) / 3.6e6, 24.0);
    const bool busy = r.busy_interval_ms > 0 && hour >= r.busy_from_h && hour < r.busy_to_h;
    return (busy ? r.busy_interval_ms : r.interval_ms) * stretch_[camera];
}

void Sampler::Due(int64_t now_ms, std::vector<uint32_t>& out) {
    out.clear();
    while (!due_.empty() && due_.top().first <= now_ms) {
        const auto [t, c] = due_.top();
        due_.pop();
        out.push_back(c);
        due_.emplace(t + IntervalAt(c, t), c);
    }
}

void Sampler::Dropped(uint32_t camera) { stretch_[camera] = static_cast<uint8_t>(std::min(8, stretch_[camera] * 2)); }

void Sampler::Served(uint32_t camera) {
    if (stretch_[camera] > 1) stretch_[camera] = static_cast<uint8_t>(stretch_[camera] / 2);
}

double Sampler::Degraded(int priority) const {
    size_t n = 0, slow = 0;
    for (size_t c = 0; c < rates_.size(); ++c) {
        if (rates_[c].priority != priority) continue;
        ++n;
        slow += stretch_[c] > 1 ? 1 : 0;
    }
    return n > 0 ? static_cast<double>(slow) / static_cast<double>(n) : 0;
}

Result<SimResult> SimulateCameras(const SimOptions& o) {
    if (o.cameras == 0 || o.cameras > 10'000'000) return InvalidArgument("--cameras", "must be 1 to 10,000,000");
    if (o.workers < 1 || o.workers > 100'000) return InvalidArgument("--workers", "must be 1 to 100,000");
    if (!(o.ms_per_frame > 0)) return InvalidArgument("--ms-per-frame", "must be positive");
    if (o.batch < 1 || o.batch > 256) return InvalidArgument("--batch", "must be 1 to 256");
    if (o.queue_capacity < 1) return InvalidArgument("--queue", "must be at least 1");
    if (!(o.minutes > 0 && o.minutes <= 24 * 60)) return InvalidArgument("--minutes", "must be within (0, 1440]");
    std::mt19937_64 rng(o.seed);
    std::vector<CameraRate> rates(o.cameras);
    const uint32_t p1 = static_cast<uint32_t>(std::lround(o.share[0] * o.cameras));
    const uint32_t p2 = p1 + static_cast<uint32_t>(std::lround(o.share[1] * o.cameras));
    for (uint32_t c = 0; c < o.cameras; ++c) {
        CameraRate& r = rates[c];
        r.priority = c < p1 ? 1 : c < p2 ? 2 : 3;
        r.interval_ms = o.interval_ms[static_cast<size_t>(r.priority - 1)];
        if (r.priority == 1) {
            r.busy_from_h = o.busy_from_h;
            r.busy_to_h = o.busy_to_h;
            r.busy_interval_ms = o.gate_busy_interval_ms;
        }
    }
    const int64_t end_ms = static_cast<int64_t>(o.minutes * 60'000);
    Sampler sampler(std::move(rates), 0, o.start_hour);
    InferenceQueue queue(o.queue_capacity);
    // Workers: when each is next free (ms, fractional), and the batch it is running.
    std::vector<double> free_at(static_cast<size_t>(o.workers), 0);
    std::vector<std::vector<FrameJob>> running(static_cast<size_t>(o.workers));
    std::array<std::vector<float>, kPriorities> latency;
    SimResult r;
    std::bernoulli_distribution motion[kPriorities] = {std::bernoulli_distribution(o.motion[0]),
                                                       std::bernoulli_distribution(o.motion[1]),
                                                       std::bernoulli_distribution(o.motion[2])};
    std::vector<uint32_t> due;
    int64_t sampled = 0, detected = 0;
    double busy_ms = 0;
    constexpr int64_t kTick = 10;  // ms
    for (int64_t now = 0; now < end_ms; now += kTick) {
        sampler.Due(now, due);
        for (const uint32_t c : due) {
            ++sampled;
            const int pr = sampler.rate(c).priority;
            const auto pi = static_cast<size_t>(pr - 1);
            if (!motion[pi](rng)) continue;  // a still scene costs no inference
            std::optional<FrameJob> evicted;
            ++r.enqueued[pi];
            if (!queue.Push({c, pr, now}, &evicted)) {
                ++r.dropped[pi];
                sampler.Dropped(c);
            }
            if (evicted) {
                ++r.dropped[static_cast<size_t>(evicted->priority - 1)];
                sampler.Dropped(evicted->camera);
            }
        }
        r.queue_max = std::max(r.queue_max, queue.size());
        for (size_t w = 0; w < free_at.size(); ++w) {
            if (free_at[w] > static_cast<double>(now)) continue;
            for (const FrameJob& j : running[w]) {  // finished: its results are out at free_at
                const auto pi = static_cast<size_t>(j.priority - 1);
                latency[pi].push_back(static_cast<float>(free_at[w] - static_cast<double>(j.sampled_ms)));
                ++r.served[pi];
                sampler.Served(j.camera);
            }
            running[w] = queue.Pop(o.batch);
            if (running[w].empty()) continue;
            // A worker free between ticks starts then, not at the tick (no frame starts before it was taken).
            int64_t newest = 0;
            for (const FrameJob& j : running[w]) newest = std::max(newest, j.sampled_ms);
            const double start = std::max(free_at[w], static_cast<double>(newest));
            const double cost = o.ms_per_frame * static_cast<double>(running[w].size());
            free_at[w] = start + cost;
            busy_ms += cost;
            detected += static_cast<int64_t>(running[w].size());
        }
    }
    const double secs = static_cast<double>(end_ms) / 1000;
    r.sampled_per_s = static_cast<double>(sampled) / secs;
    r.detected_per_s = static_cast<double>(detected) / secs;
    r.cores_busy = busy_ms / static_cast<double>(end_ms);
    for (size_t p = 0; p < kPriorities; ++p) {
        auto& l = latency[p];
        std::sort(l.begin(), l.end());
        if (!l.empty()) {
            r.p50_ms[p] = l[l.size() / 2];
            r.p95_ms[p] = l[std::min(l.size() - 1, l.size() * 95 / 100)];
            r.max_ms[p] = l.back();
        }
        r.degraded[p] = sampler.Degraded(static_cast<int>(p + 1));
    }
    return r;
}

}  // namespace citybrain::vision
