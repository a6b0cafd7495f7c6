// SPDX-License-Identifier: Apache-2.0
// `citybrain vision detect IMAGE`: the object detector on one picture.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "apps/commands.hpp"
#include "apps/stop_signals.hpp"
#include "core/file.hpp"
#include "core/time.hpp"
#include "vision/cameras.hpp"
#include "vision/detector.hpp"
#include "vision/feeds.hpp"
#include "vision/rules.hpp"
#include "vision/scheduler.hpp"
#include "vision/tracker.hpp"

namespace citybrain::apps {
namespace {

struct VisionArgs {
    std::string image;
    std::string video;
    std::string zones;
    int frames = 0;
    double fps = 10;
    double gate = 2.0;
    std::string classes;
    vision::DetectorOptions detector;
    int repeat = 1;
    bool json = false;
    // vision run
    std::string cameras;
    std::string snapshots;
    double seconds = 0;
    double speed = 1;
};

int Detect(const VisionArgs& a) {
    if (a.repeat < 1 || a.repeat > 1000) return ReportError(InvalidArgument("--repeat", "must be 1 to 1000"), a.json);
    vision::DetectorOptions options = a.detector;
    if (!a.classes.empty()) {
        auto names = vision::ReadClassNames(a.classes);
        if (!names.ok()) return ReportError(names.error(), a.json);
        options.classes = std::move(names).value();
    }
    auto detector = vision::Detector::Open(options);
    if (!detector.ok()) return ReportError(detector.error(), a.json);
    auto image = vision::ReadImage(a.image);
    if (!image.ok()) return ReportError(image.error(), a.json);
    // Repeats time the network alone; the median is what one frame costs.
    std::vector<double> ms;
    std::vector<vision::Detection> dets;
    for (int i = 0; i < a.repeat; ++i) {
        auto r = detector->Detect(*image);
        if (!r.ok()) return ReportError(r.error(), a.json);
        dets = std::move(r).value();
        ms.push_back(detector->last_inference_ms());
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2];
    if (a.json) {
        nlohmann::json out{{"image", a.image},
                           {"width", image->cols},
                           {"height", image->rows},
                           {"inference_ms", median},
                           {"runtime", detector->runtime()},
                           {"fallback_reason", detector->fallback_reason()},
                           {"detections", nlohmann::json::array()}};
        for (const auto& d : dets) {
            out["detections"].push_back(
                {{"class", d.label}, {"score", d.score}, {"box", {d.box.x1, d.box.y1, d.box.x2, d.box.y2}}});
        }
        std::printf("%s\n", out.dump().c_str());
        return kExitOk;
    }
    if (!detector->fallback_reason().empty())
        std::fprintf(stderr,
                     "XNNPACK cannot run this model, OpenCV's DNN module does: %s\n",
                     detector->fallback_reason().c_str());
    std::printf("%s: %dx%d, %zu objects, %.1f ms (%s)\n",
                a.image.c_str(),
                image->cols,
                image->rows,
                dets.size(),
                median,
                detector->runtime().c_str());
    for (const auto& d : dets) {
        std::printf("  %-14s %.2f  [%.0f, %.0f, %.0f, %.0f]\n",
                    d.label.c_str(),
                    d.score,
                    d.box.x1,
                    d.box.y1,
                    d.box.x2,
                    d.box.y2);
    }
    return kExitOk;
}

int Track(const VisionArgs& a) {
    if (a.frames < 0) return ReportError(InvalidArgument("--frames", "must be 0 (all) or more"), a.json);
    if (!(a.fps > 0 && a.fps <= 120)) return ReportError(InvalidArgument("--fps", "must be within (0, 120]"), a.json);
    std::vector<vision::Zone> zones;
    if (!a.zones.empty()) {
        auto text = core::ReadFile(a.zones);
        if (!text.ok()) return ReportError(NotFound(a.zones, "cannot open the zones file"), a.json);
        const auto j = nlohmann::json::parse(*text, nullptr, false);
        if (j.is_discarded() || !j.is_array())
            return ReportError(InvalidArgument(a.zones, "must be a JSON array of zones"), a.json);
        for (size_t i = 0; i < j.size(); ++i) {
            auto z = vision::ParseZone(j[i], a.zones + ": zones[" + std::to_string(i) + "]");
            if (!z.ok()) return ReportError(z.error(), a.json);
            zones.push_back(std::move(z).value());
        }
    }
    auto detector = vision::Detector::Open(a.detector);
    if (!detector.ok()) return ReportError(detector.error(), a.json);
    // A file that is not there is said so at once; OpenCV would probe every backend for it, cameras included.
    std::error_code ec;
    if (a.video.find("://") == std::string::npos && !std::filesystem::is_regular_file(a.video, ec))
        return ReportError(NotFound(a.video, "cannot open the video: no such file"), a.json);
    cv::VideoCapture video(a.video, cv::CAP_FFMPEG);  // files and RTSP alike, through FFmpeg
    if (!video.isOpened()) return ReportError(NotFound(a.video, "cannot open the video"), a.json);
    vision::Tracker tracker;
    vision::RuleEngine rules(std::move(zones));
    // Frames are stamped by their index at --fps: a file's own rate is not the camera's sampling rate.
    const auto frame_ms = static_cast<int64_t>(1000 / a.fps);
    vision::MotionGate gate(a.gate);
    cv::Mat frame;
    std::vector<vision::Detection> dets;
    int64_t n = 0, detected = 0;
    nlohmann::json events = nlohmann::json::array();
    const auto t0 = std::chrono::steady_clock::now();
    while ((a.frames == 0 || n < a.frames) && video.read(frame)) {
        // Motion gating: a still scene keeps the last detections; only a changed one costs the network.
        if (gate.Changed(frame)) {
            auto r = detector->Detect(frame);
            if (!r.ok()) return ReportError(r.error(), a.json);
            dets = std::move(r).value();
            ++detected;
        }
        const int64_t t = n * frame_ms;
        for (const auto& e : rules.Evaluate(tracker.Update(dets, t), t, 12.0)) {
            events.push_back({{"kind", e.kind},
                              {"zone", e.zone},
                              {"t_ms", e.t_ms},
                              {"confidence", e.confidence},
                              {"tracks", e.tracks}});
        }
        ++n;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (n == 0) return ReportError(InvalidArgument(a.video, "no frame could be read"), a.json);
    int64_t confirmed = 0;
    for (const auto& t : tracker.tracks()) confirmed += t.confirmed ? 1 : 0;
    nlohmann::json out{{"video", a.video},
                       {"frames", n},
                       {"frames_detected", detected},
                       {"frames_per_s", static_cast<double>(n) / secs},
                       {"tracks_started", tracker.started()},
                       {"tracks_live_confirmed", confirmed},
                       {"events", events}};
    if (a.json) {
        std::printf("%s\n", out.dump().c_str());
    } else {
        std::printf(
            "%s: %lld frames (%lld through the detector), %.1f frames/s end to end; %lld tracks started, %lld "
            "confirmed at the end; %zu events\n",
            a.video.c_str(),
            static_cast<long long>(n),
            static_cast<long long>(detected),
            static_cast<double>(n) / secs,
            static_cast<long long>(tracker.started()),
            static_cast<long long>(confirmed),
            events.size());
        for (const auto& e : events) std::printf("  %s\n", e.dump().c_str());
    }
    return kExitOk;
}

int Schedule(const vision::SimOptions& o, bool json) {
    auto r = vision::SimulateCameras(o);
    if (!r.ok()) return ReportError(r.error(), json);
    nlohmann::json out{{"cameras", o.cameras},
                       {"workers", o.workers},
                       {"ms_per_frame", o.ms_per_frame},
                       {"minutes", o.minutes},
                       {"sampled_per_s", r->sampled_per_s},
                       {"detected_per_s", r->detected_per_s},
                       {"cores_needed", r->detected_per_s * o.ms_per_frame / 1000},
                       {"cores_busy", r->cores_busy},
                       {"queue_capacity", o.queue_capacity},
                       {"queue_max", r->queue_max},
                       {"priorities", nlohmann::json::array()}};
    for (size_t p = 0; p < vision::kPriorities; ++p) {
        out["priorities"].push_back({{"priority", p + 1},
                                     {"enqueued", r->enqueued[p]},
                                     {"dropped", r->dropped[p]},
                                     {"served", r->served[p]},
                                     {"p50_ms", r->p50_ms[p]},
                                     {"p95_ms", r->p95_ms[p]},
                                     {"max_ms", r->max_ms[p]},
                                     {"cameras_slowed", r->degraded[p]}});
    }
    if (json) {
        std::printf("%s\n", out.dump().c_str());
        return kExitOk;
    }
    std::printf(
        "%u cameras, %d workers at %.0f ms a frame, %.0f simulated minutes: %.0f frames/s sampled, %.0f/s "
        "through the detector (%.0f cores' work), queue at most %zu of %zu\n",
        o.cameras,
        o.workers,
        o.ms_per_frame,
        o.minutes,
        r->sampled_per_s,
        r->detected_per_s,
        r->detected_per_s * o.ms_per_frame / 1000,
        r->queue_max,
        o.queue_capacity);
    for (const auto& p : out["priorities"]) std::printf("  %s\n", p.dump().c_str());
    return kExitOk;
}

/// The cameras of a registry, run as the brain runs them: each source pulled at its rate through the detector, the
/// tracker and the zone rules, every camera's health watched; each event printed as it happens (a JSON line with
/// --json). `--speed` runs the clock faster than the wall's (a recorded video plays at that speed too).
int RunCameras(const VisionArgs& a) {
    if (!(a.speed > 0 && a.speed <= 1000))
        return ReportError(InvalidArgument("--speed", "must be in (0, 1000]"), a.json);
    if (!(a.seconds >= 0 && a.seconds <= 7 * 86400))
        return ReportError(InvalidArgument("--seconds", "must be 0 (until stopped) to 604800"), a.json);
    const sigset_t signals = BlockStopSignals();
    auto registry = vision::LoadCameras(a.cameras);
    if (!registry.ok()) return ReportError(registry.error(), a.json);
    const auto wall0 = std::chrono::steady_clock::now();
    const int64_t t0 = core::NowMs();
    const double speed = a.speed;
    const auto clock = [wall0, t0, speed] {
        const auto wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall0).count();
        return t0 + static_cast<int64_t>(wall * speed);
    };
    vision::CameraSet::Options o;
    o.detector = a.detector;
    o.snapshot_dir = a.snapshots;
    o.start_ms = t0;
    auto set = vision::CameraSet::Open(*registry, o);
    if (!set.ok()) return ReportError(set.error(), a.json);
    std::mutex out_mu;
    int64_t events = 0;
    vision::CameraFeeds::Options fo;
    fo.clock = clock;
    auto feeds = vision::CameraFeeds::Start(
        **set,
        *registry,
        [&](incident::Report r, const vision::VisionEvent& e) {
            std::lock_guard lock(out_mu);
            ++events;
            const std::string camera = r.external_id.substr(0, r.external_id.find(':'));
            if (a.json) {
                nlohmann::json j{{"t_ms", r.time_ms},
                                 {"camera", camera},
                                 {"kind", e.kind},
                                 {"zone", e.zone},
                                 {"category", r.category},
                                 {"confidence", r.confidence},
                                 {"boxes", e.boxes.size()},
                                 {"media_url", r.media_url}};
                std::printf("%s\n", j.dump().c_str());
            } else {
                std::printf("+%.0fs %s %s%s%s (confidence %.2f)%s%s\n",
                            static_cast<double>(r.time_ms - t0) / 1000,
                            camera.c_str(),
                            e.kind.c_str(),
                            e.zone.empty() ? "" : " in ",
                            e.zone.c_str(),
                            r.confidence,
                            r.media_url.empty() ? "" : " ",
                            r.media_url.c_str());
            }
            std::fflush(stdout);
        },
        fo);
    if (!feeds.ok()) return ReportError(feeds.error(), a.json);
    // Until the run's simulated seconds have passed, or a stop signal.
    const timespec poll{0, 100'000'000};
    while (a.seconds == 0 || clock() - t0 < static_cast<int64_t>(a.seconds * 1000)) {
        if (sigtimedwait(&signals, nullptr, &poll) > 0) break;
    }
    (*feeds)->Stop();
    nlohmann::json status = (*set)->Status();
    status["feeds"] = (*feeds)->Status();
    status["events"] = events;
    status["simulated_s"] = static_cast<double>(clock() - t0) / 1000;
    std::lock_guard lock(out_mu);
    std::printf("%s\n", a.json ? nlohmann::json{{"status", status}}.dump().c_str() : status.dump(2).c_str());
    return kExitOk;
}

}  // namespace

void RegisterVision(CLI::App& app) {
    auto* vision = app.add_subcommand("vision", "cameras: the detector, the pipeline, the scheduler");
    vision->require_subcommand(1);
    auto a = std::make_shared<VisionArgs>();
    a->detector.model = "build/models/centernet.onnx";
    auto* detect = vision->add_subcommand("detect", "objects in an image (COCO classes, boxes in pixels)");
    detect->add_option("image", a->image, "a JPEG or PNG file")->required();
    detect->add_option("--model", a->detector.model, "ONNX CenterNet model")->capture_default_str();
    detect->add_option("--classes", a->classes, "class names, one per line, for a model of one's own (default COCO)");
    detect->add_option("--threshold", a->detector.score_threshold, "lowest score reported")->capture_default_str();
    detect->add_option("--input-size", a->detector.input_size, "the network's input side, pixels")
        ->capture_default_str();
    detect->add_option("--threads", a->detector.threads, "threads for the network")->capture_default_str();
    detect
        ->add_option("--runtime",
                     a->detector.runtime,
                     "xnnpack, opencv, or auto: XNNPACK when it covers the model, else OpenCV's DNN module")
        ->capture_default_str();
    detect->add_option("--repeat", a->repeat, "run N times and report the median time")->capture_default_str();
    detect->add_flag("--json", a->json, "machine-readable output");
    detect->callback([a] { SetExitCode(Detect(*a)); });

    auto* track =
        vision->add_subcommand("track", "a video through the pipeline: motion gate, detector, tracker, rules");
    track->add_option("video", a->video, "a video file (or an RTSP URL, through OpenCV's VideoCapture)")->required();
    track->add_option("--zones", a->zones, "zones with rules (JSON array: id, rule, polygon, min_dwell_s, …)");
    track->add_option("--frames", a->frames, "frames to read (0: all)")->capture_default_str();
    track->add_option("--fps", a->fps, "the camera's sampling rate the frames are stamped at")->capture_default_str();
    track
        ->add_option("--gate",
                     a->gate,
                     "motion gate: mean change of a grey thumbnail (0-255) below which a frame "
                     "skips the detector (0: every frame)")
        ->capture_default_str();
    track->add_option("--model", a->detector.model, "ONNX CenterNet model")->capture_default_str();
    track->add_option("--input-size", a->detector.input_size, "the network's input side, pixels")
        ->capture_default_str();
    track->add_option("--threads", a->detector.threads, "threads for the network")->capture_default_str();
    track
        ->add_option("--runtime",
                     a->detector.runtime,
                     "xnnpack, opencv, or auto: XNNPACK when it covers the model, else OpenCV's DNN module")
        ->capture_default_str();
    track->add_flag("--json", a->json, "machine-readable output");
    track->callback([a] { SetExitCode(Track(*a)); });

    auto sim = std::make_shared<vision::SimOptions>();
    auto* schedule = vision->add_subcommand(
        "schedule", "the camera scheduler with many virtual cameras: rates, motion gate, bounded queue, workers");
    schedule->add_option("--cameras", sim->cameras, "virtual cameras")->capture_default_str();
    schedule->add_option("--workers", sim->workers, "detector cores")->capture_default_str();
    schedule->add_option("--ms-per-frame", sim->ms_per_frame, "the detector's cost (measured: vision detect)")
        ->capture_default_str();
    schedule->add_option("--batch", sim->batch, "frames a worker takes at once")->capture_default_str();
    schedule->add_option("--queue", sim->queue_capacity, "inference queue capacity")->capture_default_str();
    schedule->add_option("--minutes", sim->minutes, "simulated minutes")->capture_default_str();
    schedule->add_option("--start-hour", sim->start_hour, "local time at the start")->capture_default_str();
    schedule->add_option("--seed", sim->seed, "seed of the motion draws")->capture_default_str();
    schedule->add_flag("--json", a->json, "machine-readable output");
    schedule->callback([a, sim] { SetExitCode(Schedule(*sim, a->json)); });

    auto* run = vision->add_subcommand(
        "run", "a camera registry's sources pulled at their rates through the pipeline; events as they happen");
    run->add_option("--cameras", a->cameras, "the camera registry (JSON: id, place, zones, source, rates)")->required();
    run->add_option("--seconds", a->seconds, "simulated seconds to run (0: until SIGINT or SIGTERM)")
        ->capture_default_str();
    run->add_option("--speed", a->speed, "the clock's speed against the wall's (videos play at it too)")
        ->capture_default_str();
    run->add_option("--snapshots", a->snapshots, "where the events' snapshots are written");
    run->add_option("--model", a->detector.model, "ONNX CenterNet model")->capture_default_str();
    run->add_option("--threads", a->detector.threads, "threads for the network")->capture_default_str();
    run->add_option("--runtime",
                    a->detector.runtime,
                    "xnnpack, opencv, or auto: XNNPACK when it covers the model, else OpenCV's DNN module")
        ->capture_default_str();
    run->add_flag("--json", a->json, "an event per line, then the status, as JSON");
    run->callback([a] { SetExitCode(RunCameras(*a)); });
}

}  // namespace citybrain::apps
