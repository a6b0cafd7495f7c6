// SPDX-License-Identifier: Apache-2.0
// The vision engine: the detector on one photo (Debian's darknet dog.jpg) at two input sizes, the tracker on a
// crowd of synthetic detections, and what the picture itself costs per frame: a road area against its dry
// reference (waterlogging) and the camera's health watch, on a frame of opencv-doc's vtest.avi.
// `make` converts the model first (scripts/fetch_models.sh).
#include <benchmark/benchmark.h>

#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include "vision/detector.hpp"
#include "vision/scene.hpp"
#include "vision/tracker.hpp"

using namespace citybrain;

namespace {

void Detect(benchmark::State& state) {
    vision::DetectorOptions o;
    o.model = std::string(CB_SOURCE_DIR) + "/build/models/centernet.onnx";
    o.input_size = static_cast<int>(state.range(0));
    auto detector = vision::Detector::Open(o);
    auto image = vision::ReadImage("/usr/share/darknet/data/dog.jpg");
    if (!detector.ok() || !image.ok()) {
        state.SkipWithError("the model (make) or Debian's darknet photos are missing");
        return;
    }
    for (auto _ : state) benchmark::DoNotOptimize(detector->Detect(*image));
}
BENCHMARK(Detect)->Arg(512)->Arg(320)->Unit(benchmark::kMillisecond);
BENCHMARK(Detect)->Name("Smoke/Detect")->Arg(320)->Iterations(1)->Unit(benchmark::kMillisecond);

void Track(benchmark::State& state) {
    // 50 objects walking, one frame after another.
    const int objects = static_cast<int>(state.range(0));
    vision::Tracker tracker;
    int64_t frame = 0;
    for (auto _ : state) {
        std::vector<vision::Detection> dets;
        for (int i = 0; i < objects; ++i) {
            const float x = static_cast<float>((i % 10) * 70 + frame % 50), y = static_cast<float>((i / 10) * 100);
            dets.push_back({0, "person", 0.8F, {x, y, x + 40, y + 80}});
        }
        benchmark::DoNotOptimize(tracker.Update(dets, frame * 100));
        ++frame;
    }
}
BENCHMARK(Track)->Arg(50);
BENCHMARK(Track)->Name("Smoke/Track")->Arg(50)->Iterations(10);

cv::Mat Street() {
    cv::VideoCapture video("/usr/share/doc/opencv-doc/examples/data/vtest.avi", cv::CAP_FFMPEG);
    cv::Mat frame;
    if (video.isOpened()) video.read(frame);
    return frame;
}

const std::vector<std::pair<float, float>> kRoad = {{80, 330}, {700, 330}, {700, 560}, {80, 560}};

void CompareWithDryReference(benchmark::State& state) {
    const cv::Mat street = Street();
    if (street.empty()) {
        state.SkipWithError("opencv-doc's vtest.avi is missing");
        return;
    }
    auto ref = vision::DryReference::Make(street, kRoad, "zone");
    const cv::Mat wet = vision::StandingWater(street).Render(kRoad, 0.6);
    for (auto _ : state) benchmark::DoNotOptimize(ref->Compare(wet, {}));
}
BENCHMARK(CompareWithDryReference)->Unit(benchmark::kMillisecond);
BENCHMARK(CompareWithDryReference)->Name("Smoke/CompareWithDryReference")->Iterations(3);

void WatchHealth(benchmark::State& state) {
    const cv::Mat street = Street();
    if (street.empty()) {
        state.SkipWithError("opencv-doc's vtest.avi is missing");
        return;
    }
    vision::HealthWatch watch({}, 0);
    int64_t t = 0;
    for (auto _ : state) benchmark::DoNotOptimize(watch.Frame(street, t += 1000));
}
BENCHMARK(WatchHealth)->Unit(benchmark::kMicrosecond);
BENCHMARK(WatchHealth)->Name("Smoke/WatchHealth")->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
