// SPDX-License-Identifier: Apache-2.0
#include "vision/tracker.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/video/tracking.hpp>
#include <tuple>

namespace citybrain::vision {

namespace {

// SORT's state: centre x, y, area s, aspect r, and the velocities of x, y and s (the aspect is taken as constant).
cv::Mat Measure(const Box& b) {
    const float w = b.x2 - b.x1, h = b.y2 - b.y1;
    cv::Mat z(4, 1, CV_32F);
    z.at<float>(0) = b.x1 + w / 2;
    z.at<float>(1) = b.y1 + h / 2;
    z.at<float>(2) = w * h;
    z.at<float>(3) = w / std::max(h, 1e-3F);
    return z;
}

Box ToBox(const cv::Mat& x) {
    const float s = std::max(x.at<float>(2), 1e-3F), r = std::max(x.at<float>(3), 1e-3F);
    const float w = std::sqrt(s * r), h = s / w;
    const float cx = x.at<float>(0), cy = x.at<float>(1);
    return {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
}

}  // namespace

float Track::moved() const {
    const float w = std::max(first_box.x2 - first_box.x1, 1.0F);
    const float dx = (box.x1 + box.x2 - first_box.x1 - first_box.x2) / 2;
    const float dy = (box.y1 + box.y2 - first_box.y1 - first_box.y2) / 2;
    return std::sqrt(dx * dx + dy * dy) / w;
}

struct Tracker::Filter {
    cv::KalmanFilter kf{7, 4, 0, CV_32F};
    explicit Filter(const Box& b) {
        cv::setIdentity(kf.transitionMatrix);
        for (int i = 0; i < 3; ++i) kf.transitionMatrix.at<float>(i, i + 4) = 1;  // x += vx, y += vy, s += vs
        kf.measurementMatrix = cv::Mat::zeros(4, 7, CV_32F);
        for (int i = 0; i < 4; ++i) kf.measurementMatrix.at<float>(i, i) = 1;
        // SORT's noise: uncertain velocities at first, area velocity damped.
        cv::setIdentity(kf.measurementNoiseCov, cv::Scalar(1));
        kf.measurementNoiseCov.at<float>(2, 2) = 10;
        kf.measurementNoiseCov.at<float>(3, 3) = 10;
        cv::setIdentity(kf.errorCovPost, cv::Scalar(10));
        for (int i = 4; i < 7; ++i) kf.errorCovPost.at<float>(i, i) = 1000;
        cv::setIdentity(kf.processNoiseCov, cv::Scalar(1));
        kf.processNoiseCov.at<float>(6, 6) = 0.01F;
        for (int i = 4; i < 6; ++i) kf.processNoiseCov.at<float>(i, i) = 0.01F;
        const cv::Mat z = Measure(b);
        kf.statePost = cv::Mat::zeros(7, 1, CV_32F);
        z.copyTo(kf.statePost.rowRange(0, 4));
    }
    Box Predict() {
        // An area shrinking below zero would flip the box: stop its shrinking first (as SORT does).
        if (kf.statePost.at<float>(6) + kf.statePost.at<float>(2) <= 0) kf.statePost.at<float>(6) = 0;
        return ToBox(kf.predict());
    }
    void Correct(const Box& b) { kf.correct(Measure(b)); }
};

Tracker::Tracker(TrackerOptions options) : options_(options) {}
Tracker::Tracker(Tracker&&) noexcept = default;
Tracker& Tracker::operator=(Tracker&&) noexcept = default;
Tracker::~Tracker() = default;

const std::vector<Track>& Tracker::Update(const std::vector<Detection>& detections, int64_t t_ms) {
    std::vector<Box> predicted;
    predicted.reserve(tracks_.size());
    for (auto& f : filters_) predicted.push_back(f->Predict());
    // Greedy matching by IoU, best pair first, within a class (ties: the older track, then the earlier detection).
    std::vector<std::tuple<float, size_t, size_t>> pairs;
    for (size_t t = 0; t < tracks_.size(); ++t) {
        for (size_t d = 0; d < detections.size(); ++d) {
            if (detections[d].label != tracks_[t].label) continue;
            const float iou = Iou(predicted[t], detections[d].box);
            if (iou >= options_.match_iou) pairs.emplace_back(iou, t, d);
        }
    }
    std::stable_sort(
        pairs.begin(), pairs.end(), [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
    std::vector<char> track_used(tracks_.size(), 0), det_used(detections.size(), 0);
    for (const auto& [iou, t, d] : pairs) {
        if (track_used[t] || det_used[d]) continue;
        track_used[t] = det_used[d] = 1;
        Track& tr = tracks_[t];
        filters_[t]->Correct(detections[d].box);
        tr.box = detections[d].box;
        tr.score = (tr.score * static_cast<float>(tr.hits) + detections[d].score) / static_cast<float>(tr.hits + 1);
        tr.hits += 1;
        tr.misses = 0;
        tr.last_ms = t_ms;
        tr.confirmed = tr.confirmed || tr.hits >= options_.min_hits;
    }
    for (size_t t = 0; t < tracks_.size(); ++t) {
        if (!track_used[t]) tracks_[t].misses += 1;
    }
    // Ended tracks leave; their ids are never reused.
    size_t kept = 0;
    for (size_t t = 0; t < tracks_.size(); ++t) {
        if (tracks_[t].misses > options_.max_misses) continue;
        if (kept != t) {
            tracks_[kept] = std::move(tracks_[t]);
            filters_[kept] = std::move(filters_[t]);
        }
        ++kept;
    }
    tracks_.resize(kept);
    filters_.resize(kept);
    for (size_t d = 0; d < detections.size(); ++d) {
        if (det_used[d]) continue;
        Track tr;
        tr.id = next_id_++;
        tr.label = detections[d].label;
        tr.box = tr.first_box = detections[d].box;
        tr.score = detections[d].score;
        tr.first_ms = tr.last_ms = t_ms;
        tr.hits = 1;
        tr.confirmed = options_.min_hits <= 1;
        tracks_.push_back(std::move(tr));
        filters_.push_back(std::make_unique<Filter>(detections[d].box));
    }
    return tracks_;
}

}  // namespace citybrain::vision
