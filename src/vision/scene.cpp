// SPDX-License-Identifier: Apache-2.0
#include "vision/scene.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace citybrain::vision {

namespace {

constexpr int kWorkWidth = 320;
constexpr int kCell = 8;

/// Per 8x8 cell of the frame at working scale: its mean colour, grey level and gradient magnitude of grey. The
/// means come from an area resize by the cell's side (exact block averages), not a mean per cell.
struct Planes {
    cv::Mat bgr, grey, grad;  // one pixel a cell
};

Planes Prepare(const cv::Mat& bgr, int width, int height) {
    cv::Mat work, grey, gx, gy, grad;
    cv::resize(bgr, work, cv::Size(width, height), 0, 0, cv::INTER_AREA);
    work.convertTo(work, CV_32FC3);
    cv::cvtColor(work, grey, cv::COLOR_BGR2GRAY);
    cv::Sobel(grey, gx, CV_32F, 1, 0);
    cv::Sobel(grey, gy, CV_32F, 0, 1);
    cv::magnitude(gx, gy, grad);
    Planes p;
    const cv::Size cells(width / kCell, height / kCell);
    cv::resize(work, p.bgr, cells, 0, 0, cv::INTER_AREA);
    cv::resize(grey, p.grey, cells, 0, 0, cv::INTER_AREA);
    cv::resize(grad, p.grad, cells, 0, 0, cv::INTER_AREA);
    return p;
}

/// A cell's mean grey level, its chromaticity (the shares of red and green in R+G+B, in per cent: the same
/// under a brighter or a dimmer light) and its texture.
struct CellStats {
    float grey, r, g, texture;
};

CellStats Stats(const Planes& p, int gx, int gy) {
    const cv::Vec3f m = p.bgr.at<cv::Vec3f>(gy, gx);
    const float sum = std::max(1.0F, m[0] + m[1] + m[2]);
    return {p.grey.at<float>(gy, gx), 100 * m[2] / sum, 100 * m[1] / sum, p.grad.at<float>(gy, gx)};
}

}  // namespace

Result<DryReference> DryReference::Make(const cv::Mat& dry_bgr,
                                        const std::vector<std::pair<float, float>>& polygon,
                                        const std::string& where,
                                        Options options) {
    if (dry_bgr.empty()) return InvalidArgument(where, "the dry reference is an empty image");
    DryReference ref;
    ref.options_ = options;
    ref.width_ = kWorkWidth;
    ref.height_ = std::max(
        kCell,
        static_cast<int>(std::lround(static_cast<double>(dry_bgr.rows) * kWorkWidth / dry_bgr.cols)) / kCell * kCell);
    const Planes p = Prepare(dry_bgr, ref.width_, ref.height_);
    std::vector<cv::Point2f> poly;
    for (const auto& [x, y] : polygon) {
        poly.emplace_back(static_cast<float>(x * ref.width_ / dry_bgr.cols),
                          static_cast<float>(y * ref.height_ / dry_bgr.rows));
    }
    for (int gy = 0; gy < ref.height_ / kCell; ++gy) {
        for (int gx = 0; gx < ref.width_ / kCell; ++gx) {
            const cv::Point2f centre((gx + 0.5F) * kCell, (gy + 0.5F) * kCell);
            const CellStats s = Stats(p, gx, gy);
            Cell c{gx, gy, s.grey, s.r, s.g, s.texture};
            (cv::pointPolygonTest(poly, centre, false) >= 0 ? ref.cells_ : ref.outside_).push_back(c);
        }
    }
    if (ref.cells_.empty()) return InvalidArgument(where, "the area is smaller than one 8x8 cell at 320 px wide");
    return ref;
}

DryReference::Reading DryReference::Compare(const cv::Mat& bgr, const std::vector<Box>& hidden) const {
    Reading out;
    if (bgr.empty()) return out;
    const Planes p = Prepare(bgr, width_, height_);
    const double sx = static_cast<double>(width_) / bgr.cols, sy = static_cast<double>(height_) / bgr.rows;
    const auto hidden_cell = [&](const Cell& c) {
        for (const Box& b : hidden) {
            const double x1 = b.x1 * sx, x2 = b.x2 * sx, y1 = b.y1 * sy, y2 = b.y2 * sy;
            if (x2 > c.x * kCell && x1 < (c.x + 1) * kCell && y2 > c.y * kCell && y1 < (c.y + 1) * kCell) return true;
        }
        return false;
    };
    // The frame's overall brightness change, from the rest of the picture (the median ratio of its cells): a cloud
    // or the evening dims the road's texture as much as the rest, and is not water.
    std::vector<float> ratios;
    for (const Cell& c : outside_) {
        if (c.grey < 5 || hidden_cell(c)) continue;
        ratios.push_back(Stats(p, c.x, c.y).grey / c.grey);
    }
    float gain = 1;
    if (!ratios.empty()) {
        std::nth_element(ratios.begin(), ratios.begin() + static_cast<std::ptrdiff_t>(ratios.size() / 2), ratios.end());
        gain = std::clamp(ratios[ratios.size() / 2], 0.2F, 5.0F);
    }
    size_t seen = 0, changed = 0;
    int x1 = width_, y1 = height_, x2 = 0, y2 = 0;
    for (const Cell& c : cells_) {
        if (hidden_cell(c)) continue;
        ++seen;
        const CellStats s = Stats(p, c.x, c.y);
        const double chroma = std::hypot(s.r - c.r, s.g - c.g);
        const bool smoothed =
            c.texture >= options_.texture_floor && s.texture < options_.texture_ratio * c.texture * gain;
        if (chroma <= options_.chroma_threshold && !smoothed) continue;
        ++changed;
        x1 = std::min(x1, c.x * kCell);
        y1 = std::min(y1, c.y * kCell);
        x2 = std::max(x2, (c.x + 1) * kCell);
        y2 = std::max(y2, (c.y + 1) * kCell);
    }
    out.seen_share = static_cast<double>(seen) / static_cast<double>(cells_.size());
    if (seen > 0) out.changed_share = static_cast<double>(changed) / static_cast<double>(seen);
    if (changed > 0) {
        out.changed_box = {static_cast<float>(x1 / sx),
                           static_cast<float>(y1 / sy),
                           static_cast<float>(x2 / sx),
                           static_cast<float>(y2 / sy)};
    }
    return out;
}

StandingWater::StandingWater(const cv::Mat& dry_bgr) : dry_(std::make_unique<cv::Mat>(dry_bgr.clone())) {
    cv::Mat reflection;
    cv::flip(*dry_, reflection, 0);
    cv::GaussianBlur(reflection, reflection, cv::Size(0, 0), 9);
    const cv::Mat tint(dry_->size(), dry_->type(), cv::Scalar(60, 105, 135));
    water_ = std::make_unique<cv::Mat>();
    cv::addWeighted(reflection, 0.45, tint, 0.55, 0, *water_);
}

StandingWater::~StandingWater() = default;
StandingWater::StandingWater(StandingWater&&) noexcept = default;
StandingWater& StandingWater::operator=(StandingWater&&) noexcept = default;

cv::Mat StandingWater::Render(const std::vector<std::pair<float, float>>& area, double fraction) const {
    cv::Mat out = dry_->clone();
    if (!(fraction > 0) || area.size() < 3) return out;
    float top = area[0].second, bottom = area[0].second;
    std::vector<cv::Point> poly;
    for (const auto& [x, y] : area) {
        poly.emplace_back(static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y)));
        top = std::min(top, y);
        bottom = std::max(bottom, y);
    }
    cv::Mat mask = cv::Mat::zeros(dry_->size(), CV_8UC1);
    cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{poly}, cv::Scalar(255));
    // The waterline: water fills the area from its lowest point up.
    const int line = static_cast<int>(std::lround(bottom - std::min(1.0, fraction) * (bottom - top)));
    if (line > 0) mask.rowRange(0, std::min(line, mask.rows)).setTo(0);
    water_->copyTo(out, mask);
    return out;
}

const char* HealthName(Health h) {
    switch (h) {
        case Health::kOk:
            return "ok";
        case Health::kOffline:
            return "offline";
        case Health::kFrozen:
            return "frozen";
        case Health::kCovered:
            return "covered";
    }
    return "?";
}

std::optional<Health> HealthWatch::Frame(const cv::Mat& bgr, int64_t t_ms) {
    last_frame_ms_ = t_ms;
    cv::Mat thumb;
    cv::cvtColor(bgr, thumb, cv::COLOR_BGR2GRAY);
    cv::resize(thumb, thumb, cv::Size(64, 48), 0, 0, cv::INTER_AREA);
    const bool same = thumb_.size() == thumb.total() && std::memcmp(thumb_.data(), thumb.data, thumb_.size()) == 0;
    thumb_.assign(thumb.datastart, thumb.dataend);
    cv::Scalar mean, stddev;
    cv::meanStdDev(thumb, mean, stddev);
    const bool blank = stddev[0] < options_.covered_stddev || mean[0] < options_.covered_mean;
    if (!same) same_since_ = t_ms;
    blank_since_ = blank ? (blank_since_ < 0 ? t_ms : blank_since_) : -1;
    // Covered: blank for long enough, or still blank in an episode that began so (it ends with a good frame).
    // Frozen: the same picture for long enough, or still the same in an episode of it.
    const bool covered =
        blank_since_ >= 0 && (t_ms - blank_since_ >= options_.covered_after_ms || health_ == Health::kCovered);
    const bool frozen = t_ms - same_since_ >= options_.frozen_after_ms || (health_ == Health::kFrozen && same);
    const Health now = covered ? Health::kCovered : frozen ? Health::kFrozen : Health::kOk;
    const Health before = health_;
    health_ = now;
    if (now != Health::kOk && now != before) return now;
    return std::nullopt;
}

std::optional<Health> HealthWatch::Tick(int64_t now_ms) {
    if (health_ == Health::kOffline || now_ms - last_frame_ms_ < options_.offline_after_ms) return std::nullopt;
    health_ = Health::kOffline;
    return Health::kOffline;
}

}  // namespace citybrain::vision
