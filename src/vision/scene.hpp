// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "vision/detector.hpp"

namespace cv {
class Mat;
}

namespace citybrain::vision {

/// What the picture itself says, where no object detector helps: water over a marked road area, and whether the
/// camera still sees at all.

/// A road area's dry look, kept as cells of 8x8 pixels on the frame scaled to 320 pixels wide: each cell's
/// chromaticity (its colour whatever the brightness) and texture (mean gradient of its grey level). Standing water
/// hides the road's grain and markings (its texture drops) and takes the colour of the water or of the sky it reflects;
/// a passing cloud changes brightness alone.
class DryReference {
public:
    struct Options {
        /// A cell's chromaticity distance from its dry colour (per-cent points of R and G in R+G+B) above which it
        /// counts as changed. Brightness is left out: shadows and the time of day change it, and the texture test
        /// covers water as grey as the road.
        double chroma_threshold = 4;
        /// A textured cell counts as changed when its texture falls below this share of its dry texture (after the
        /// frame's overall brightness change is taken out).
        double texture_ratio = 0.5;
        /// Cells whose dry texture is below this (grey levels per pixel, Sobel) have no grain to lose; only colour
        /// counts.
        double texture_floor = 8;
    };

    /// The reference from a dry frame of the camera, for the area inside `polygon` (image pixels of that frame).
    /// Errors: an empty frame, or a polygon that covers no cell (`where`).
    static Result<DryReference> Make(const cv::Mat& dry_bgr,
                                     const std::vector<std::pair<float, float>>& polygon,
                                     const std::string& where,
                                     Options options);
    static Result<DryReference> Make(const cv::Mat& dry_bgr,
                                     const std::vector<std::pair<float, float>>& polygon,
                                     const std::string& where) {
        return Make(dry_bgr, polygon, where, Options{});
    }

    struct Reading {
        double changed_share = 0;  // of the cells seen
        double seen_share = 0;     // of the area's cells not hidden by an object
        Box changed_box;           // around the changed cells, in the frame's pixels (empty when none)
    };
    /// How much of the area looks wet in `bgr` (any size: it is scaled as the reference was). Cells under an
    /// object's box (`hidden`, frame pixels) are left out: a car standing on the road is not water.
    Reading Compare(const cv::Mat& bgr, const std::vector<Box>& hidden) const;
    size_t cells() const { return cells_.size(); }

private:
    struct Cell {
        int x = 0, y = 0;  // grid position
        float grey = 0, r = 0, g = 0, texture = 0;
    };
    Options options_;
    int width_ = 0, height_ = 0;  // of the frame the reference was taken from
    std::vector<Cell> cells_;     // inside the area
    std::vector<Cell> outside_;   // the rest of the frame, for its overall brightness
};

/// A synthetic picture of water standing over a road area, for the simulated district's cameras and for tests (no
/// photograph of a flooded street ships with Debian): the dry picture with the lowest `fraction` of `area`'s height
/// under water, the water being the scene above reflected, blurred as a still surface does, and tinted the brown of
/// run-off. It has what gives water away to DryReference: the paving's grain gone and a colour not the road's.
class StandingWater {
public:
    explicit StandingWater(const cv::Mat& dry_bgr);
    ~StandingWater();
    StandingWater(StandingWater&&) noexcept;
    StandingWater& operator=(StandingWater&&) noexcept;
    /// `fraction` 0: the dry picture; 1: the whole area under water.
    cv::Mat Render(const std::vector<std::pair<float, float>>& area, double fraction) const;

private:
    std::unique_ptr<cv::Mat> dry_, water_;
};

/// The camera's own health, from its frames and their absence: offline (no frame for a while), frozen (the same
/// picture, bit for bit at thumbnail scale, for a while: a stuck encoder or a replayed stream; a live sensor's noise
/// always changes some pixel), covered (a dark or featureless picture for a while: a lens covered, sprayed or
/// turned to a wall).
enum class Health : uint8_t { kOk, kOffline, kFrozen, kCovered };
const char* HealthName(Health h);

struct HealthOptions {
    int64_t offline_after_ms = 300'000;
    int64_t frozen_after_ms = 600'000;
    int64_t covered_after_ms = 60'000;
    double covered_stddev = 6;  // grey levels: below this the picture has no features
    double covered_mean = 12;   // or is this dark (a covered lens at night is not told from a dark scene below it)
};

class HealthWatch {
public:
    HealthWatch(HealthOptions options, int64_t start_ms) : options_(options), last_frame_ms_(start_ms) {}
    /// A frame arrived at `t_ms`: returns the health it newly fell into, once per episode (a frozen or covered
    /// picture for long enough), or nothing. A good frame ends an episode.
    std::optional<Health> Frame(const cv::Mat& bgr, int64_t t_ms);
    /// Time passes without frames: kOffline once, when the camera has been silent too long.
    std::optional<Health> Tick(int64_t now_ms);
    Health health() const { return health_; }
    int64_t last_frame_ms() const { return last_frame_ms_; }

private:
    HealthOptions options_;
    Health health_ = Health::kOk;
    int64_t last_frame_ms_;
    std::vector<uint8_t> thumb_;  // the last frame's 64x48 grey thumbnail
    int64_t same_since_ = -1;     // first frame of the current run of identical thumbnails
    int64_t blank_since_ = -1;    // first frame of the current run of blank ones
};

}  // namespace citybrain::vision
