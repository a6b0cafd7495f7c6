// SPDX-License-Identifier: Apache-2.0
#include "vision/detector.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <tuple>

#include "core/file.hpp"
#include "vision/xnn_net.hpp"

namespace citybrain::vision {

float Iou(const Box& a, const Box& b) {
    const float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
    const float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
    if (iw <= 0 || ih <= 0) return 0;
    const float inter = iw * ih;
    const float uni = a.Area() + b.Area() - inter;
    return uni > 0 ? inter / uni : 0;
}

const std::vector<std::string>& CocoClasses() {
    static const std::vector<std::string> kCoco = {"person",        "bicycle",      "car",
                                                   "motorcycle",    "airplane",     "bus",
                                                   "train",         "truck",        "boat",
                                                   "traffic light", "fire hydrant", "stop sign",
                                                   "parking meter", "bench",        "bird",
                                                   "cat",           "dog",          "horse",
                                                   "sheep",         "cow",          "elephant",
                                                   "bear",          "zebra",        "giraffe",
                                                   "backpack",      "umbrella",     "handbag",
                                                   "tie",           "suitcase",     "frisbee",
                                                   "skis",          "snowboard",    "sports ball",
                                                   "kite",          "baseball bat", "baseball glove",
                                                   "skateboard",    "surfboard",    "tennis racket",
                                                   "bottle",        "wine glass",   "cup",
                                                   "fork",          "knife",        "spoon",
                                                   "bowl",          "banana",       "apple",
                                                   "sandwich",      "orange",       "broccoli",
                                                   "carrot",        "hot dog",      "pizza",
                                                   "donut",         "cake",         "chair",
                                                   "couch",         "potted plant", "bed",
                                                   "dining table",  "toilet",       "tv",
                                                   "laptop",        "mouse",        "remote",
                                                   "keyboard",      "cell phone",   "microwave",
                                                   "oven",          "toaster",      "sink",
                                                   "refrigerator",  "book",         "clock",
                                                   "vase",          "scissors",     "teddy bear",
                                                   "hair drier",    "toothbrush"};
    return kCoco;
}

struct Detector::Net {
    std::unique_ptr<XnnNet> xnn;
    cv::dnn::Net cv;
    std::vector<std::string> outputs = {"keypoints", "wh"};
    cv::Mat resized;
};

Detector::Detector(Detector&&) noexcept = default;
Detector& Detector::operator=(Detector&&) noexcept = default;
Detector::~Detector() = default;

Result<Detector> Detector::Open(const DetectorOptions& options) {
    if (options.model.empty()) return InvalidArgument("--model", "no detector model given");
    if (options.input_size < 32 || options.input_size > 4096 || options.input_size % 32 != 0)
        return InvalidArgument("input_size", "must be a multiple of 32 from 32 to 4096");
    if (!(options.score_threshold > 0 && options.score_threshold < 1))
        return InvalidArgument("score_threshold", "must be within (0, 1)");
    if (options.max_detections < 1) return InvalidArgument("max_detections", "must be at least 1");
    if (options.threads < 1 || options.threads > 64) return InvalidArgument("threads", "must be 1 to 64");
    if (options.runtime != "auto" && options.runtime != "xnnpack" && options.runtime != "opencv")
        return InvalidArgument("runtime", "must be auto, xnnpack or opencv, not '" + options.runtime + "'");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(options.model, ec)) {
        return NotFound(options.model,
                        "no detector model here (`make` converts the default one into build/models/centernet.onnx)");
    }
    Detector d;
    d.options_ = options;
    d.classes_ = options.classes.empty() ? CocoClasses() : options.classes;
    d.net_ = std::make_unique<Net>();
    if (options.runtime != "opencv") {
        auto xnn = XnnNet::Load(options.model, options.input_size, options.input_size, options.threads);
        if (xnn.ok() && xnn.value()->input_channels() != 3) {
            return InvalidArgument(options.model,
                                   "the model's input has " + std::to_string(xnn.value()->input_channels()) +
                                       " channels; the detector feeds it RGB (3)");
        }
        if (xnn.ok()) {
            for (const std::string& name : d.net_->outputs) {
                if (xnn.value()->output(name).data == nullptr)
                    return InvalidArgument(options.model, "the model has no output named " + name);
            }
            d.net_->xnn = std::move(xnn).value();
            d.runtime_ = "xnnpack";
            return d;
        }
        if (options.runtime == "xnnpack") return xnn.error();
        // "auto" falls back to OpenCV for a model XNNPACK's runtime does not cover (or a CPU it cannot run on), and
        // says why.
        d.fallback_reason_ = xnn.error().message;
    }
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
    try {
        d.net_->cv = cv::dnn::readNetFromONNX(options.model);
    } catch (const cv::Exception& e) {
        return InvalidArgument(options.model, std::string("not a model OpenCV's DNN module can load: ") + e.what());
    }
    if (d.net_->cv.empty()) return InvalidArgument(options.model, "the model has no layers");
    d.net_->cv.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    d.net_->cv.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    cv::setNumThreads(options.threads);
    d.runtime_ = "opencv";
    return d;
}

namespace {

/// A 4-D output seen through its strides, whatever the runtime's layout.
struct Plane {
    const float* data = nullptr;
    int channels = 0, h = 0, w = 0;
    size_t c_stride = 0, y_stride = 0, x_stride = 0;
    float at(int c, int y, int x) const {
        return data[static_cast<size_t>(c) * c_stride + static_cast<size_t>(y) * y_stride +
                    static_cast<size_t>(x) * x_stride];
    }
};

Plane FromNchw(const cv::Mat& m) {
    const size_t plane = static_cast<size_t>(m.size[2]) * static_cast<size_t>(m.size[3]);
    return {reinterpret_cast<const float*>(m.data),
            m.size[1],
            m.size[2],
            m.size[3],
            plane,
            static_cast<size_t>(m.size[3]),
            1};
}

Plane FromNhwc(const NhwcView& v) {
    return {v.data, v.c, v.h, v.w, 1, static_cast<size_t>(v.w) * static_cast<size_t>(v.c), static_cast<size_t>(v.c)};
}

Result<std::vector<Detection>> Decode(const Plane& heat,
                                      const Plane& wh,
                                      const DetectorOptions& options,
                                      const std::vector<std::string>& classes,
                                      int cols,
                                      int rows) {
    if (wh.channels != 4 || heat.h != wh.h || heat.w != wh.w || heat.h < 1 || heat.w < 1)
        return InvalidArgument(options.model, "outputs are not CenterNet's keypoints [1,C,h,w] and wh [1,4,h,w]");
    if (static_cast<size_t>(heat.channels) != classes.size()) {
        return InvalidArgument(options.model,
                               "the model has " + std::to_string(heat.channels) + " classes, the class list " +
                                   std::to_string(classes.size()));
    }
    const int h = heat.h, w = heat.w;
    const float stride = static_cast<float>(options.input_size) / static_cast<float>(w);
    // Peaks: a cell that is the maximum of its 3x3 neighbourhood in its class (CenterNet's NMS), above threshold.
    struct Peak {
        float score;
        int c, y, x;
    };
    std::vector<Peak> peaks;
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            for (int c = 0; c < heat.channels; ++c) {
                const float v = heat.at(c, y, x);
                if (v < options.score_threshold) continue;
                bool peak = true;
                for (int dy = -1; dy <= 1 && peak; ++dy) {
                    for (int dx = -1; dx <= 1; ++dx) {
                        const int yy = y + dy, xx = x + dx;
                        if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                        if (heat.at(c, yy, xx) > v) {
                            peak = false;
                            break;
                        }
                    }
                }
                if (peak) peaks.push_back({v, c, y, x});
            }
        }
    }
    // Best first; ties in a fixed order, so both runtimes' layouts give one list.
    std::sort(peaks.begin(), peaks.end(), [](const Peak& a, const Peak& b) {
        if (a.score != b.score) return a.score > b.score;
        return std::tie(a.c, a.y, a.x) < std::tie(b.c, b.y, b.x);
    });
    if (peaks.size() > static_cast<size_t>(options.max_detections)) peaks.resize(options.max_detections);
    const float sx = static_cast<float>(cols) / static_cast<float>(options.input_size);
    const float sy = static_cast<float>(rows) / static_cast<float>(options.input_size);
    std::vector<Detection> dets;
    for (const Peak& pk : peaks) {
        const float cx = static_cast<float>(pk.x) * stride, cy = static_cast<float>(pk.y) * stride;
        Box b{
            cx - wh.at(0, pk.y, pk.x), cy - wh.at(1, pk.y, pk.x), cx + wh.at(2, pk.y, pk.x), cy + wh.at(3, pk.y, pk.x)};
        b = {std::clamp(b.x1 * sx, 0.0F, static_cast<float>(cols)),
             std::clamp(b.y1 * sy, 0.0F, static_cast<float>(rows)),
             std::clamp(b.x2 * sx, 0.0F, static_cast<float>(cols)),
             std::clamp(b.y2 * sy, 0.0F, static_cast<float>(rows))};
        if (b.x2 <= b.x1 || b.y2 <= b.y1) continue;
        const bool covered = std::any_of(
            dets.begin(), dets.end(), [&](const Detection& d) { return Iou(d.box, b) > options.suppress_iou; });
        if (!covered) dets.push_back({pk.c, classes[static_cast<size_t>(pk.c)], pk.score, b});
    }
    return dets;
}

}  // namespace

Result<std::vector<Detection>> Detector::Detect(const cv::Mat& bgr) {
    if (bgr.empty()) return InvalidArgument("frame", "empty image");
    if (bgr.type() != CV_8UC3) return InvalidArgument("frame", "not an 8-bit BGR image");
    const int size = options_.input_size;
    // The network sees RGB in [0, 255], stretched to its square input; boxes are scaled back per axis.
    Plane heat, wh;
    std::vector<cv::Mat> out;  // OpenCV's outputs, which `heat` and `wh` view
    if (net_->xnn) {
        cv::resize(bgr, net_->resized, cv::Size(size, size), 0, 0, cv::INTER_LINEAR);
        cv::Mat input(size, size, CV_32FC3, net_->xnn->input());
        cv::cvtColor(net_->resized, net_->resized, cv::COLOR_BGR2RGB);
        net_->resized.convertTo(input, CV_32FC3);
        const auto t0 = std::chrono::steady_clock::now();
        if (Status s = net_->xnn->Run(); !s.ok()) return s.error();
        last_inference_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        heat = FromNhwc(net_->xnn->output(net_->outputs[0]));
        wh = FromNhwc(net_->xnn->output(net_->outputs[1]));
    } else {
        const cv::Mat blob =
            cv::dnn::blobFromImage(bgr, 1.0, cv::Size(size, size), cv::Scalar(), /*swapRB=*/true, /*crop=*/false);
        const auto t0 = std::chrono::steady_clock::now();
        try {
            net_->cv.setInput(blob, "images");
            net_->cv.forward(out, net_->outputs);
        } catch (const cv::Exception& e) {
            return Error{ErrorCode::kInternal, std::string("the detector failed: ") + e.what(), options_.model};
        }
        last_inference_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (out[0].dims != 4 || out[1].dims != 4)
            return InvalidArgument(options_.model, "outputs are not CenterNet's keypoints [1,C,h,w] and wh [1,4,h,w]");
        heat = FromNchw(out[0]);
        wh = FromNchw(out[1]);
    }
    return Decode(heat, wh, options_, classes_, bgr.cols, bgr.rows);
}
bool MotionGate::Changed(const cv::Mat& bgr) {
    cv::Mat thumb;
    cv::cvtColor(bgr, thumb, cv::COLOR_BGR2GRAY);
    cv::resize(thumb, thumb, cv::Size(64, 48), 0, 0, cv::INTER_AREA);
    if (!last_.empty()) {
        cv::Mat diff;
        cv::absdiff(thumb, cv::Mat(48, 64, CV_8UC1, last_.data()), diff);
        if (cv::mean(diff)[0] < threshold_) return false;
    }
    last_.assign(thumb.datastart, thumb.dataend);
    return true;
}

Result<std::vector<std::string>> ReadClassNames(const std::string& path) {
    auto text = core::ReadFile(path);
    if (!text.ok()) return NotFound(path, "cannot open the class list");
    std::vector<std::string> names;
    size_t at = 0;
    while (at < text->size()) {
        size_t end = text->find('\n', at);
        if (end == std::string::npos) end = text->size();
        std::string line = text->substr(at, end - at);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty()) names.push_back(std::move(line));
        at = end + 1;
    }
    if (names.empty()) return InvalidArgument(path, "no class names (one per line)");
    return names;
}

Result<cv::Mat> DecodeImage(std::span<const uint8_t> bytes, const std::string& where) {
    if (bytes.empty()) return InvalidArgument(where, "empty image (zero bytes)");
    const size_t n = bytes.size();
    const bool jpeg = n >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
    const bool png = n >= 8 && bytes[0] == 0x89 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G';
    if (!jpeg && !png) return InvalidArgument(where, "not a JPEG or PNG image");
    // libjpeg decodes a truncated file with a warning and grey rows, so the end marker is checked first: a frame
    // cut off in transit is refused, not analysed.
    if (jpeg) {
        size_t end = n;
        while (end > 2 && bytes[end - 1] == 0) --end;  // some encoders pad with zeros
        if (end < 4 || bytes[end - 2] != 0xFF || bytes[end - 1] != 0xD9)
            return InvalidArgument(where, "truncated JPEG (no end-of-image marker)");
    }
    if (png) {
        static constexpr uint8_t kIend[] = {'I', 'E', 'N', 'D'};
        if (n < 12 || !std::equal(std::begin(kIend), std::end(kIend), bytes.end() - 8))
            return InvalidArgument(where, "truncated PNG (no IEND chunk)");
    }
    cv::Mat img;
    try {
        const cv::Mat raw(1, static_cast<int>(n), CV_8UC1, const_cast<uint8_t*>(bytes.data()));
        img = cv::imdecode(raw, cv::IMREAD_COLOR);
    } catch (const cv::Exception& e) {
        return InvalidArgument(where, std::string("cannot decode the image: ") + e.what());
    }
    if (img.empty()) return InvalidArgument(where, "cannot decode the image");
    return img;
}

Result<cv::Mat> ReadImage(const std::string& path) {
    auto bytes = core::ReadFile(path);
    if (!bytes.ok()) return NotFound(path, "cannot open the image");
    return DecodeImage({reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()}, path);
}

}  // namespace citybrain::vision
