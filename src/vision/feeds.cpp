// SPDX-License-Identifier: Apache-2.0
#include "vision/feeds.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <optional>
#include <thread>

namespace citybrain::vision {

namespace {

class StillSource final : public FrameSource {
public:
    explicit StillSource(cv::Mat image) : image_(std::move(image)) {}
    Result<cv::Mat> Next(int64_t /*elapsed_ms*/) override { return image_; }
    const char* kind() const override { return "image"; }

private:
    cv::Mat image_;
};

class DirectorySource final : public FrameSource {
public:
    explicit DirectorySource(std::vector<std::string> files) : files_(std::move(files)) {}
    Result<cv::Mat> Next(int64_t /*elapsed_ms*/) override {
        const std::string& path = files_[next_++ % files_.size()];
        return ReadImage(path);
    }
    const char* kind() const override { return "directory"; }

private:
    std::vector<std::string> files_;
    size_t next_ = 0;
};

// FFmpeg's default waits are 30 s for a stream that went quiet; a short wait makes a dead stream an error at once,
// so that the camera's health watch sees the silence.
bool OpenCapture(cv::VideoCapture& capture, const std::string& spec) {
    static constexpr int kOpenTimeoutMs = 5000;
    static constexpr int kReadTimeoutMs = 2000;
    return capture.open(
        spec,
        cv::CAP_FFMPEG,
        {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, kOpenTimeoutMs, cv::CAP_PROP_READ_TIMEOUT_MSEC, kReadTimeoutMs});
}

// A recorded video: a sample reads the frame the recording shows at that point of the run.
class VideoSource final : public FrameSource {
public:
    explicit VideoSource(std::string spec) : spec_(std::move(spec)) {}
    Status Open(const std::string& where) {
        if (!OpenCapture(capture_, spec_) || !capture_.isOpened())
            return InvalidArgument(where, "OpenCV cannot open the video '" + spec_ + "'");
        fps_ = capture_.get(cv::CAP_PROP_FPS);
        frames_ = static_cast<int64_t>(capture_.get(cv::CAP_PROP_FRAME_COUNT));
        if (!(fps_ > 0) || frames_ <= 0) return InvalidArgument(where, "the video '" + spec_ + "' has no frame rate");
        return {};
    }
    Result<cv::Mat> Next(int64_t elapsed_ms) override {
        // The frame the recording shows at this point of the run, round again at its end.
        const auto want = static_cast<int64_t>(std::floor(static_cast<double>(elapsed_ms) * fps_ / 1000.0)) % frames_;
        if (want == next_ - 1 && !last_.empty()) return last_;
        if (want < next_) {
            capture_.set(cv::CAP_PROP_POS_FRAMES, 0);
            next_ = 0;
        }
        while (next_ <= want) {
            if (!capture_.grab()) {
                next_ = frames_;  // a short read: start again next time
                return InvalidArgument("source", "the video '" + spec_ + "' ended early");
            }
            ++next_;
        }
        if (!capture_.retrieve(last_) || last_.empty())
            return InvalidArgument("source", "cannot decode a frame of '" + spec_ + "'");
        return last_;
    }
    const char* kind() const override { return "video"; }

private:
    std::string spec_;
    cv::VideoCapture capture_;
    double fps_ = 0;
    int64_t frames_ = 0;
    int64_t next_ = 0;  // the index of the next frame grab() would read
    cv::Mat last_;
};

// A live stream (rtsp://, http://). A camera sends at its own rate, and frames nobody reads wait in the socket's
// buffer: reading one frame per sample would hand out ever older pictures (and hide an outage behind the backlog).
// So a thread of the source's own opens the stream, reads every frame as it comes and keeps the newest; a sample
// takes that one, and a stream silent for longer than kStaleMs is an error for the health watch to count. The
// thread also opens the stream (FFmpeg probes an RTSP stream for seconds), so that a city's cameras start at once
// and a camera that is down at start-up is a camera offline, not a refused registry; a dropped stream is opened
// again, at most once a second.
class StreamSource final : public FrameSource {
public:
    explicit StreamSource(std::string spec) : spec_(std::move(spec)), reader_([this] { Read(); }) {}
    ~StreamSource() override {
        stop_ = true;
        reader_.join();  // an open or a read returns within its timeout
    }
    Result<cv::Mat> Next(int64_t /*elapsed_ms*/) override {
        std::lock_guard lock(mu_);
        const auto age = std::chrono::steady_clock::now() - latest_at_;
        if (latest_.empty() || age > std::chrono::milliseconds(kStaleMs)) {
            return InvalidArgument("source", "no frame from '" + spec_ + "': " + error_);
        }
        return latest_.clone();  // the reader writes its next frame into this buffer
    }
    const char* kind() const override { return "stream"; }

private:
    static constexpr int kStaleMs = 3000;

    void Read() {
        cv::VideoCapture capture;
        cv::Mat frame;
        while (!stop_) {
            if (!capture.isOpened()) {
                if (OpenCapture(capture, spec_) && capture.isOpened()) continue;
                SetError("it cannot be opened");
                for (int i = 0; i < 10 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
                continue;
            }
            if (capture.read(frame) && !frame.empty()) {
                std::lock_guard lock(mu_);
                cv::swap(latest_, frame);  // the old picture's buffer is reused for the next read
                latest_at_ = std::chrono::steady_clock::now();
                continue;
            }
            SetError("the stream dropped");
            capture.release();
        }
    }

    void SetError(const char* what) {
        std::lock_guard lock(mu_);
        error_ = what;
    }

    std::string spec_;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    cv::Mat latest_;  // guarded by mu_, with latest_at_ and error_
    std::chrono::steady_clock::time_point latest_at_{};
    std::string error_ = "no frame yet";
    std::thread reader_;  // last: it starts once the members above exist
};

bool IsImageName(const std::filesystem::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

}  // namespace

Result<std::unique_ptr<FrameSource>> FrameSource::Open(const std::string& spec, const std::string& where) {
    if (spec.find("://") != std::string::npos) {
        const std::string scheme = spec.substr(0, spec.find("://"));
        if (scheme != "rtsp" && scheme != "rtsps" && scheme != "http" && scheme != "https") {
            return InvalidArgument(where,
                                   "a stream URL must be rtsp://, rtsps://, http:// or https://, not '" + spec + "'");
        }
        return std::unique_ptr<FrameSource>(std::make_unique<StreamSource>(spec));
    }
    std::error_code ec;
    const std::filesystem::path path(spec);
    if (!std::filesystem::exists(path, ec)) return NotFound(where, "no file or folder '" + spec + "'");
    if (std::filesystem::is_directory(path, ec)) {
        std::vector<std::string> files;
        for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
            if (e.is_regular_file() && IsImageName(e.path())) files.push_back(e.path().string());
        }
        if (files.empty()) return InvalidArgument(where, "the folder '" + spec + "' has no .jpg, .jpeg or .png image");
        std::sort(files.begin(), files.end());
        return std::unique_ptr<FrameSource>(std::make_unique<DirectorySource>(std::move(files)));
    }
    if (IsImageName(path)) {
        auto image = ReadImage(spec);
        if (!image.ok()) return InvalidArgument(where, image.error().ToString());
        return std::unique_ptr<FrameSource>(std::make_unique<StillSource>(std::move(image).value()));
    }
    auto v = std::make_unique<VideoSource>(spec);
    CB_TRY(v->Open(where));
    return std::unique_ptr<FrameSource>(std::move(v));
}

struct CameraFeeds::Feed {
    std::string camera;
    std::unique_ptr<FrameSource> source;
    int priority = 3;
    int64_t pulled = 0, errors = 0, dropped = 0;
    std::string last_error;
};

Result<std::unique_ptr<CameraFeeds>> CameraFeeds::Start(CameraSet& set,
                                                        const std::vector<Camera>& cameras,
                                                        Sink sink,
                                                        Options options) {
    if (!options.clock) return InvalidArgument("clock", "the feeds need a clock");
    if (options.queue_capacity == 0) return InvalidArgument("queue_capacity", "must be at least 1");
    std::unique_ptr<CameraFeeds> f(new CameraFeeds());
    f->set_ = &set;
    f->sink_ = std::move(sink);
    f->options_ = std::move(options);
    for (size_t i = 0; i < cameras.size(); ++i) {
        if (cameras[i].source.empty()) continue;
        auto feed = std::make_unique<Feed>();
        feed->camera = cameras[i].id;
        feed->priority = cameras[i].priority;
        CB_TRY_ASSIGN(feed->source, FrameSource::Open(cameras[i].source, "cameras[" + std::to_string(i) + "].source"));
        f->feeds_.push_back(std::move(feed));
    }
    std::vector<CameraRate> rates;
    for (size_t i = 0; i < cameras.size(); ++i) {
        if (!cameras[i].source.empty()) rates.push_back(cameras[i].rate);
    }
    f->rates_ = std::move(rates);
    f->start_ms_ = f->options_.clock();
    f->thread_ = std::thread([raw = f.get()] { raw->Run(); });
    return f;
}

CameraFeeds::~CameraFeeds() { Stop(); }

void CameraFeeds::Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void CameraFeeds::Run() {
    const auto hour_at = [&](int64_t t) {
        return std::fmod(static_cast<double>(t) / 3.6e6 + options_.utc_offset_h + 240000.0, 24.0);
    };
    {
        std::lock_guard lock(mu_);
        sampler_.emplace(std::move(rates_), start_ms_, hour_at(start_ms_));
    }
    InferenceQueue queue(options_.queue_capacity);
    std::vector<uint32_t> due;
    int64_t last_tick = start_ms_;
    while (!stop_) {
        const int64_t now = options_.clock();
        std::optional<FrameJob> job;
        {
            std::lock_guard lock(mu_);
            sampler_->Due(now, due);
            for (const uint32_t c : due) {
                std::optional<FrameJob> evicted;
                const FrameJob wanted{c, feeds_[c]->priority, now};
                if (!queue.Push(wanted, &evicted)) evicted = wanted;
                if (evicted) {
                    sampler_->Dropped(evicted->camera);
                    ++feeds_[evicted->camera]->dropped;
                }
            }
            auto popped = queue.Pop(1);
            if (!popped.empty()) job = popped.front();
        }
        if (now - last_tick >= 1000) {
            last_tick = now;
            FrameOutcome ticked = set_->Tick(now);
            for (size_t i = 0; i < ticked.reports.size(); ++i) sink_(std::move(ticked.reports[i]), ticked.events[i]);
        }
        if (!job) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            continue;
        }
        Feed& feed = *feeds_[job->camera];
        auto frame = feed.source->Next(now - start_ms_);
        {
            std::lock_guard lock(mu_);
            ++feed.pulled;
            if (!frame.ok()) {
                ++feed.errors;
                feed.last_error = frame.error().ToString();
                continue;
            }
            sampler_->Served(job->camera);
        }
        auto out = set_->Ingest(feed.camera, *frame, options_.clock());
        ++analysed_;
        if (!out.ok()) {
            std::lock_guard lock(mu_);
            ++feed.errors;
            feed.last_error = out.error().ToString();
            continue;
        }
        for (size_t i = 0; i < out->reports.size(); ++i) sink_(std::move(out->reports[i]), out->events[i]);
    }
}

nlohmann::json CameraFeeds::Status() const {
    std::lock_guard lock(mu_);
    nlohmann::json feeds = nlohmann::json::array();
    for (const auto& f : feeds_) {
        nlohmann::json j{{"camera", f->camera},
                         {"source", f->source->kind()},
                         {"priority", f->priority},
                         {"pulled", f->pulled},
                         {"errors", f->errors},
                         {"dropped", f->dropped}};
        if (!f->last_error.empty()) j["last_error"] = f->last_error;
        feeds.push_back(std::move(j));
    }
    nlohmann::json slowed = nlohmann::json::object();
    for (int p = 1; p <= kPriorities; ++p) slowed[std::to_string(p)] = sampler_ ? sampler_->Degraded(p) : 0.0;
    return {{"feeds", feeds}, {"analysed", analysed_.load()}, {"slowed_share_by_priority", slowed}};
}

}  // namespace citybrain::vision
