// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "incident/model.hpp"
#include "vision/cameras.hpp"
#include "vision/scheduler.hpp"

namespace cv {
class Mat;
}

namespace citybrain::vision {

/// Where a camera's frames come from when the brain pulls them: an image file (the same picture each time, which
/// the health watch calls frozen after ten minutes, as it would a stuck camera), a
/// directory of JPEG or PNG images (one per sample, in name order, round again at the end), or a video file or a
/// stream URL (rtsp://, http://) through OpenCV's VideoCapture. A video file plays on the clock it is given: a
/// sample at 90 s into the run reads the frame at 90 s (modulo its length), so a recorded street behaves as a live
/// one whatever the sampling rate. A stream is read by a thread of its own, which keeps only the newest frame, and
/// opens (and re-opens) the stream in the background: a stream that is down is an error per sample, not at Open.
class FrameSource {
public:
    /// Errors name `where`: a path that is not there, an empty directory, a video OpenCV cannot open, a URL scheme
    /// that is not a stream's.
    static Result<std::unique_ptr<FrameSource>> Open(const std::string& spec, const std::string& where);
    virtual ~FrameSource() = default;
    /// The frame at `elapsed_ms` since the feed started (BGR). An error is a frame that could not be had (a
    /// stream that dropped, a file gone bad); the camera's health watch notices the silence.
    virtual Result<cv::Mat> Next(int64_t elapsed_ms) = 0;
    virtual const char* kind() const = 0;
};

/// The cameras' feeds: pulls the frames of the cameras that have a source, each at its rate (the Sampler: priority,
/// the busy hours of a school gate, slowed while its frames are being dropped), through the bounded InferenceQueue
/// (priority 1 first; when it is full a lower priority's frame is dropped) into the CameraSet, one at a time; and
/// ticks every camera's health once a second (pushed cameras included), so a silent camera becomes a case.
/// Each report goes to `sink` (the brain's intake) as it is made.
class CameraFeeds {
public:
    struct Options {
        /// The clock (ms since 1970); tests and replays run it faster than the wall's.
        std::function<int64_t()> clock;
        size_t queue_capacity = 64;
        double utc_offset_h = 8;
    };
    using Sink = std::function<void(incident::Report, const VisionEvent&)>;

    /// Opens every camera's source (errors name `cameras[i].source`) and starts the feed thread.
    static Result<std::unique_ptr<CameraFeeds>> Start(CameraSet& set,
                                                      const std::vector<Camera>& cameras,
                                                      Sink sink,
                                                      Options options);
    ~CameraFeeds();
    /// Stops the thread; frames in the queue are left.
    void Stop();
    /// Per camera with a source: frames pulled, source errors, frames dropped by the queue; and the share of each
    /// priority's cameras sampled slower than their rate.
    nlohmann::json Status() const;
    /// Frames analysed so far (all cameras).
    int64_t analysed() const { return analysed_.load(); }

private:
    CameraFeeds() = default;
    void Run();
    struct Feed;
    CameraSet* set_ = nullptr;
    Sink sink_;
    Options options_;
    std::vector<std::unique_ptr<Feed>> feeds_;
    std::vector<CameraRate> rates_;   // handed to the sampler when the thread starts
    std::optional<Sampler> sampler_;  // over feeds_, by index
    int64_t start_ms_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int64_t> analysed_{0};
    mutable std::mutex mu_;  // the feeds' counts
    std::thread thread_;
};

}  // namespace citybrain::vision
