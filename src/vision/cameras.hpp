// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "incident/model.hpp"
#include "vision/detector.hpp"
#include "vision/rules.hpp"
#include "vision/scene.hpp"
#include "vision/scheduler.hpp"
#include "vision/tracker.hpp"

namespace citybrain::vision {

/// A camera of the registry: where it is, what it watches, and its zones.
struct Camera {
    std::string id;
    double lat = 0, lon = 0;
    double heading_deg = 0;
    std::string watches;  // the road or landmark in view, for the case's address
    int priority = 3;
    std::vector<Zone> zones;
    /// Where frames come from when the brain pulls them (empty: they are pushed over HTTP): an image file, a
    /// directory of images (taken in name order, one per sample), or a video file or stream URL (rtsp://, http://)
    /// read through OpenCV's VideoCapture.
    std::string source;
    /// A picture of the camera's view when the road is dry, for its waterlogging zones (empty: its first frame).
    std::string dry_reference;
    /// Silence after which the camera counts as offline (0: the set's default).
    int64_t offline_after_ms = 0;
    /// How often a pulled source is sampled: `every_s` (by priority: 10 s, 10 s, 60 s), and `busy_every_s` within
    /// `busy_hours` [from, to) local time (a school gate at 1 s from 7:30 to 8:30).
    CameraRate rate;
};

/// The registry file: {"cameras": [{"id", "lat", "long", "heading", "watches", "priority", "zones": [...]}]}.
/// Errors name the field: `cameras[2].zones[0].polygon`.
Result<std::vector<Camera>> ParseCameras(std::string_view json,
                                         const std::string& source,
                                         const std::string& base_dir = "");
Result<std::vector<Camera>> LoadCameras(const std::string& path);

/// The service code a rule's event becomes (campus_safety is the taxonomy's school_area_safety; the camera's own
/// faults, camera_offline, camera_frozen and camera_covered, are camera_fault).
std::string CategoryOf(const std::string& event_kind);

/// What one frame gave.
struct FrameOutcome {
    size_t detections = 0;
    bool gated = false;  // the scene had not changed: the last detections stood
    std::vector<VisionEvent> events;
    /// One report per event, for the brain's intake: source camera, the camera's place, the rule's category, the
    /// snapshot's address in media_url, an idempotency key of camera, zone and time.
    std::vector<incident::Report> reports;
};

/// The cameras facade: frames in (pushed JPEGs or PNGs, or read from files), reports out. Per camera: a motion gate,
/// a tracker and the zone rules; one detector for all. Snapshots (the frame with the event's boxes drawn) are
/// written as JPEGs to `snapshot_dir`. Thread-safe: frames are analysed one at a time.
class CameraSet {
public:
    struct Options {
        DetectorOptions detector;
        std::string snapshot_dir;  // empty: no snapshots
        /// The URL prefix a snapshot is served under (`media_url` = prefix + file name).
        std::string snapshot_url = "/api/v1/snapshots/";
        double gate = 2.0;     // mean change of a 64x48 grey thumbnail below which the detector is skipped
        int utc_offset_h = 8;  // the district's time zone, for the rules' hours
        HealthOptions health;
        int64_t start_ms = 0;  // when the set starts watching: a camera silent since then is offline in time
    };
    static Result<std::unique_ptr<CameraSet>> Open(std::vector<Camera> cameras, Options options);
    ~CameraSet();

    /// One frame of camera `id` at `t_ms` (ms since 1970). Errors: an unknown camera (NotFound, "camera_id") and
    /// a bad frame (InvalidArgument, "frame"); both are counted, and nothing else changes.
    Result<FrameOutcome> Ingest(const std::string& id, std::span<const uint8_t> bytes, int64_t t_ms);
    /// A decoded frame (BGR) of camera `id`, from a pulled source.
    Result<FrameOutcome> Ingest(const std::string& id, const cv::Mat& bgr, int64_t t_ms);
    /// Time passes: a report for each camera that has newly gone silent for longer than its offline limit.
    FrameOutcome Tick(int64_t now_ms);
    /// The registry with each camera's counts: frames, bad frames, frames through the detector, events.
    nlohmann::json Status() const;
    /// A snapshot's bytes by its file name (no path may be named), or NotFound.
    Result<std::string> Snapshot(const std::string& name) const;
    size_t size() const;

private:
    CameraSet() = default;
    struct State;
    /// The camera's index, its frame counted; an unknown camera is counted as such. Under `mu_`.
    Result<size_t> CountFrame(const std::string& id);
    Result<FrameOutcome> Analyse(size_t index, const cv::Mat& image, int64_t t_ms);
    incident::Report ReportOf(const Camera& cam, const VisionEvent& e, const cv::Mat* image) const;
    Options options_;
    std::unique_ptr<Detector> detector_;
    std::vector<Camera> cameras_;
    std::map<std::string, size_t> index_;
    std::vector<std::unique_ptr<State>> state_;
    mutable std::mutex mu_;
    int64_t unknown_camera_frames_ = 0;
};

}  // namespace citybrain::vision
