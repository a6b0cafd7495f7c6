// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vision/detector.hpp"

namespace citybrain::vision {

struct TrackerOptions {
    /// A detection continues a track of its class when their boxes overlap at least this much (the track's box
    /// predicted to the frame's time).
    float match_iou = 0.3F;
    /// Frames a track may go unseen before it ends (an occlusion, a missed detection).
    int max_misses = 5;
    /// Detections before a track counts (one-frame false positives never become tracks).
    int min_hits = 3;
};

/// One object followed across frames.
struct Track {
    int64_t id = 0;
    std::string label;
    Box box;          // the latest detection's box
    float score = 0;  // mean detection score
    int64_t first_ms = 0;
    int64_t last_ms = 0;
    int hits = 0;
    int misses = 0;
    Box first_box;  // where it was first seen: how far it moved since
    bool confirmed = false;

    int64_t dwell_ms() const { return last_ms - first_ms; }
    /// Distance the box's centre moved since first seen, in box widths (under 0.5: it stood still).
    float moved() const;
};

/// SORT-style multi-object tracking: a constant-velocity Kalman filter per track (OpenCV's KalmanFilter, on the
/// box's centre, area and aspect), detections matched to predicted boxes greedily by IoU within a class, unmatched
/// detections starting tracks, tracks ending after `max_misses` frames unseen. Deterministic.
class Tracker {
public:
    explicit Tracker(TrackerOptions options = {});
    Tracker(Tracker&&) noexcept;
    Tracker& operator=(Tracker&&) noexcept;
    ~Tracker();

    /// One frame's detections at `t_ms`; returns the live tracks (confirmed or not), oldest first.
    const std::vector<Track>& Update(const std::vector<Detection>& detections, int64_t t_ms);
    const std::vector<Track>& tracks() const { return tracks_; }
    /// Tracks started so far (ids are 1..started()).
    int64_t started() const { return next_id_ - 1; }

private:
    struct Filter;
    TrackerOptions options_;
    std::vector<Track> tracks_;
    std::vector<std::unique_ptr<Filter>> filters_;  // parallel to tracks_
    int64_t next_id_ = 1;
};

}  // namespace citybrain::vision
