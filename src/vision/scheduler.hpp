// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <queue>
#include <vector>

#include "core/error.hpp"

namespace citybrain::vision {

inline constexpr int kPriorities = 3;  // 1: school gates, junctions at risk; 2: main roads; 3: quiet streets

/// How often a camera is looked at: a base interval, and a busier one inside a daily window (a school gate at one
/// frame a second from 7:30 to 8:30).
struct CameraRate {
    int priority = 3;  // 1 … kPriorities
    int64_t interval_ms = 60'000;
    double busy_from_h = 0, busy_to_h = 0;  // local hours; empty window when equal
    int64_t busy_interval_ms = 0;
};

/// One frame waiting for the detector.
struct FrameJob {
    uint32_t camera = 0;
    int priority = 3;
    int64_t sampled_ms = 0;
};

/// The bounded queue in front of the detector. Higher priorities are served first; when it is full, a new frame
/// takes the place of the oldest frame of a lower priority (which is dropped and counted), or is itself dropped
/// when nothing lower is waiting. So priority-1 cameras keep their rate and the others degrade.
class InferenceQueue {
public:
    explicit InferenceQueue(size_t capacity) : capacity_(capacity) {}
    /// False when `job` was dropped; `evicted` is set to the job dropped in its place, if any.
    bool Push(const FrameJob& job, std::optional<FrameJob>* evicted);
    /// Up to `batch` jobs, highest priority first, oldest first within one.
    std::vector<FrameJob> Pop(size_t batch);
    size_t size() const { return size_; }
    size_t capacity() const { return capacity_; }

private:
    size_t capacity_;
    size_t size_ = 0;
    std::array<std::deque<FrameJob>, kPriorities> by_priority_;
};

/// Sampling of many cameras: each camera's next due time in a heap, its rate from CameraRate and the time of day,
/// stretched (doubled, up to 8x) while its frames are being dropped and relaxed back as they get through.
class Sampler {
public:
    Sampler(std::vector<CameraRate> rates, int64_t start_ms, double start_hour);
    /// Cameras due at or before `now_ms`, each once, in due order (ties: camera index).
    void Due(int64_t now_ms, std::vector<uint32_t>& out);
    /// A camera's frame was dropped: look at it less often for a while. A frame got through: back towards its rate.
    void Dropped(uint32_t camera);
    void Served(uint32_t camera);
    /// The share of cameras of a priority now sampled slower than their rate.
    double Degraded(int priority) const;
    const CameraRate& rate(uint32_t camera) const { return rates_[camera]; }

private:
    int64_t IntervalAt(uint32_t camera, int64_t t_ms) const;
    std::vector<CameraRate> rates_;
    std::vector<uint8_t> stretch_;  // 1, 2, 4, 8
    int64_t start_ms_;
    double start_hour_;
    using Entry = std::pair<int64_t, uint32_t>;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> due_;
};

/// A day's sizing question for many cameras: synthetic frame arrival and motion, the real Sampler and
/// InferenceQueue, detector workers whose cost is the measured ms a frame.
struct SimOptions {
    uint32_t cameras = 250'000;
    std::array<double, kPriorities> share = {0.02, 0.18, 0.80};  // of the cameras
    std::array<int64_t, kPriorities> interval_ms = {10'000, 10'000, 60'000};
    int64_t gate_busy_interval_ms = 1'000;  // priority 1 in its busy hours
    double busy_from_h = 7.5, busy_to_h = 8.5;
    std::array<double, kPriorities> motion = {0.6, 0.5, 0.2};  // share of frames the motion gate lets through
    int workers = 400;                                         // detector cores
    double ms_per_frame = 54;
    size_t batch = 1;
    size_t queue_capacity = 20'000;
    double start_hour = 7.4;  // just before the school-gate hour
    double minutes = 10;
    uint64_t seed = 1;
};

struct SimResult {
    double sampled_per_s = 0;   // frames looked at (before the motion gate)
    double detected_per_s = 0;  // frames through the detector
    size_t queue_max = 0;
    std::array<int64_t, kPriorities> enqueued{}, dropped{}, served{};
    std::array<double, kPriorities> p50_ms{}, p95_ms{}, max_ms{};  // frame sampled -> detections
    std::array<double, kPriorities> degraded{};                    // share of cameras slowed at the end
    double cores_busy = 0;                                         // mean busy workers
};

Result<SimResult> SimulateCameras(const SimOptions& options);

}  // namespace citybrain::vision
