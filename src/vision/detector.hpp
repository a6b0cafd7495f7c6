// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace cv {
class Mat;
}

namespace citybrain::vision {

/// A box in image pixels: left, top, right, bottom.
struct Box {
    float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
    float Area() const { return (x2 - x1) * (y2 - y1); }
};

/// Intersection over union of two boxes (0 when either is empty).
float Iou(const Box& a, const Box& b);

struct Detection {
    int class_id = 0;
    std::string label;  // the class's name (COCO's, for the default model)
    float score = 0;
    Box box;
};

/// The 80 COCO class names in the order of the default model's outputs.
const std::vector<std::string>& CocoClasses();

struct DetectorOptions {
    /// An ONNX CenterNet model with two outputs: `keypoints` [1, classes, H/4, W/4] (centre heat map, after the
    /// sigmoid) and `wh` [1, 4, H/4, W/4] (input pixels from the centre to the left, top, right and bottom sides).
    /// `make` converts the default one (scripts/convert_centernet.py); an operator may drop in their own.
    std::string model;
    /// Class names, in the model's output order; empty: COCO's 80.
    std::vector<std::string> classes;
    int input_size = 512;
    float score_threshold = 0.25F;
    /// A box that overlaps a better one of any class by more than this is dropped (CenterNet peaks per class, so
    /// one car is often also a truck).
    float suppress_iou = 0.7F;
    int max_detections = 100;
    /// Threads the runtime may use for one frame.
    int threads = 1;
    /// "xnnpack" (XNNPACK's operators), "opencv" (OpenCV's DNN module) or "auto": XNNPACK when it covers every node
    /// of the model, else OpenCV.
    std::string runtime = "auto";
};

/// The object detector: frames in, boxes with classes and scores out. XNNPACK (or OpenCV's DNN module, for a model
/// with a node XNNPACK's runtime does not cover) runs the network on the CPU; the CenterNet decoding, a 3x3 peak
/// filter and the top scores, is ours. Not thread-safe: one per thread.
class Detector {
public:
    static Result<Detector> Open(const DetectorOptions& options);
    Detector(Detector&&) noexcept;
    Detector& operator=(Detector&&) noexcept;
    ~Detector();

    /// Detections in a BGR image, best first. Error: an empty image.
    Result<std::vector<Detection>> Detect(const cv::Mat& bgr);
    /// The last Detect's time in the network alone, in milliseconds.
    double last_inference_ms() const { return last_inference_ms_; }
    const std::vector<std::string>& classes() const { return classes_; }
    /// The runtime in use: "xnnpack" or "opencv".
    const std::string& runtime() const { return runtime_; }
    /// Why "auto" fell back to OpenCV (XNNPACK's refusal, naming the node); empty otherwise.
    const std::string& fallback_reason() const { return fallback_reason_; }

private:
    Detector() = default;
    struct Net;
    std::unique_ptr<Net> net_;
    DetectorOptions options_;
    std::vector<std::string> classes_;
    std::string runtime_;
    std::string fallback_reason_;
    double last_inference_ms_ = 0;
};

/// The motion gate: a frame goes on to the detector when its 64x48 grey thumbnail differs from that of the last
/// frame let through by at least `threshold` (mean absolute difference, 0-255); a still scene keeps its last
/// detections and costs no inference.
class MotionGate {
public:
    explicit MotionGate(double threshold) : threshold_(threshold) {}
    /// Whether `bgr` changed enough (always for the first frame); if so, it becomes the reference.
    bool Changed(const cv::Mat& bgr);

private:
    double threshold_;
    std::vector<uint8_t> last_;  // the reference thumbnail; empty before the first frame
};

/// Class names, one per line (darknet's coco.names format), for a model of one's own.
Result<std::vector<std::string>> ReadClassNames(const std::string& path);

/// A JPEG or PNG from bytes, as BGR. Errors name `where`: empty, not an image, or truncated.
Result<cv::Mat> DecodeImage(std::span<const uint8_t> bytes, const std::string& where);
/// An image file, as BGR; errors name the path.
Result<cv::Mat> ReadImage(const std::string& path);

}  // namespace citybrain::vision
