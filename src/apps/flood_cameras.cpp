// SPDX-License-Identifier: Apache-2.0
#include "apps/flood_cameras.hpp"

#include <algorithm>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "vision/cameras.hpp"
#include "vision/scene.hpp"

namespace citybrain::apps {

namespace {

constexpr const char* kStockStreet = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
// The paved part of the stock street at 384x288, which the water covers from its lowest edge up.
const std::vector<std::pair<float, float>> kRoad = {{40, 165}, {350, 165}, {350, 280}, {40, 280}};

}  // namespace

struct FloodCameraPipeline::State {
    std::unique_ptr<vision::CameraSet> set;
    std::unique_ptr<vision::StandingWater> water;
    std::map<int32_t, std::string> ids;  // the district's camera index -> the registry's id
    double full_cm = 62.5;               // the level at which the whole road area is under water
    int64_t frames = 0, events = 0, errors = 0;
    double deepest_cm = 0;  // the deepest water any camera saw
};

FloodCameraPipeline::~FloodCameraPipeline() = default;

Result<std::unique_ptr<FloodCameraPipeline>> FloodCameraPipeline::Open(const district::District& district,
                                                                       const std::string& detector_model,
                                                                       const std::string& snapshot_dir) {
    cv::VideoCapture video(kStockStreet, cv::CAP_FFMPEG);
    cv::Mat street;
    if (!video.isOpened() || !video.read(street) || street.empty()) {
        return NotFound(
            "--vision",
            std::string("the stock street ") + kStockStreet + " is missing (make deps installs opencv-doc)");
    }
    cv::resize(street, street, cv::Size(384, 288), 0, 0, cv::INTER_AREA);
    std::unique_ptr<FloodCameraPipeline> p(new FloodCameraPipeline());
    p->state_ = std::make_unique<State>();
    State& st = *p->state_;
    // At camera_flood_cm the water covers 40 % of the road area, where the rule (min_share 0.4) starts counting.
    st.full_cm = district.scenario.camera_flood_cm / 0.4;
    std::vector<vision::Camera> cameras;
    for (size_t i = 0; i < district.low_points.size(); ++i) {
        for (size_t c = 0; c < district.cameras.size(); ++c) {
            const core::Point at = district.cameras[c].at, lp = district.low_points[i].at;
            if (std::hypot(at.x - lp.x, at.y - lp.y) > district.scenario.camera_range_m) continue;
            const auto index = static_cast<int32_t>(c);
            if (st.ids.count(index)) continue;
            vision::Camera cam;
            cam.id = "cam-" + std::to_string(c + 1);
            const auto [lat, lon] = district.frame.ToWgs84(lp);  // it watches the low point
            cam.lat = lat;
            cam.lon = lon;
            cam.watches = "低洼点 " + std::to_string(i + 1);
            cam.priority = 1;
            vision::Zone zone;
            zone.id = "road";
            zone.rule = vision::RuleKind::kWaterlogging;
            zone.polygon = kRoad;
            zone.min_dwell_ms = 60'000;
            zone.min_share = 0.4;
            cam.zones.push_back(zone);
            st.ids.emplace(index, cam.id);
            cameras.push_back(std::move(cam));
        }
    }
    if (cameras.empty()) return InvalidArgument("--vision", "no camera of the district sees a low point");
    vision::CameraSet::Options options;
    options.detector.model = detector_model;
    options.snapshot_dir = snapshot_dir;
    CB_TRY_ASSIGN(st.set, vision::CameraSet::Open(std::move(cameras), options));
    st.water = std::make_unique<vision::StandingWater>(street);
    return p;
}

district::FloodCameras FloodCameraPipeline::Hook() {
    return
        [st = state_.get()](
            incident::TimeMs t_ms, const std::vector<district::FloodView>& views, std::vector<incident::Report>& out) {
            std::map<int32_t, double> level;  // a camera that sees two low points shows the deeper water
            for (const district::FloodView& v : views) level[v.camera] = std::max(level[v.camera], v.level_cm);
            for (const auto& [camera, cm] : level) {
                st->deepest_cm = std::max(st->deepest_cm, cm);
                cv::Mat frame = st->water->Render(kRoad, cm / st->full_cm);
                // A live sensor's noise, seeded by camera and time: the run stays deterministic, and a still scene is
                // not a frozen camera.
                cv::Mat noise(frame.size(), CV_8SC3);
                cv::RNG rng(static_cast<uint64_t>(t_ms) * 31 + static_cast<uint64_t>(camera));
                rng.fill(noise, cv::RNG::UNIFORM, -3, 4);
                cv::add(frame, noise, frame, cv::noArray(), CV_8UC3);
                ++st->frames;
                auto outcome = st->set->Ingest(st->ids.at(camera), frame, t_ms);
                if (!outcome.ok()) {
                    ++st->errors;
                    continue;
                }
                st->events += static_cast<int64_t>(outcome->reports.size());
                for (incident::Report& r : outcome->reports) out.push_back(std::move(r));
            }
        };
}

vision::CameraSet* FloodCameraPipeline::set() { return state_->set.get(); }

nlohmann::json FloodCameraPipeline::Status() const {
    return {{"cameras", state_->ids.size()},
            {"frames", state_->frames},
            {"events", state_->events},
            {"errors", state_->errors},
            {"deepest_cm", state_->deepest_cm},
            {"full_cm", state_->full_cm},
            {"registry", state_->set->Status()["cameras"]}};
}

}  // namespace citybrain::apps
