// SPDX-License-Identifier: Apache-2.0
#include "vision/cameras.hpp"

#include <cctype>
#include <cmath>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <set>

#include "core/file.hpp"

namespace citybrain::vision {

namespace {

Result<double> Number(const nlohmann::json& j,
                      const char* key,
                      const std::string& where,
                      double lo,
                      double hi,
                      std::optional<double> fallback = std::nullopt) {
    if (!j.contains(key)) {
        if (fallback) return *fallback;
        return InvalidArgument(where + "." + key, "required");
    }
    if (!j[key].is_number()) return InvalidArgument(where + "." + key, "must be a number");
    const double v = j[key].get<double>();
    if (!(v >= lo && v <= hi)) {
        return InvalidArgument(where + "." + key,
                               "must be within [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    return v;
}

}  // namespace

Result<std::vector<Camera>> ParseCameras(std::string_view text, const std::string& source) {
    const auto doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return InvalidArgument(source, "not a JSON object");
    if (!doc.contains("cameras") || !doc["cameras"].is_array())
        return InvalidArgument(source + ": cameras", "must be an array");
    std::vector<Camera> out;
    std::set<std::string> ids;
    for (size_t i = 0; i < doc["cameras"].size(); ++i) {
        const auto& c = doc["cameras"][i];
        const std::string where = source + ": cameras[" + std::to_string(i) + "]";
        if (!c.is_object()) return InvalidArgument(where, "must be an object");
        Camera cam;
        if (!c.contains("id") || !c["id"].is_string() || c["id"].get<std::string>().empty() ||
            c["id"].get<std::string>().size() > 64)
            return InvalidArgument(where + ".id", "must be a string of 1 to 64 characters");
        cam.id = c["id"].get<std::string>();
        for (const char ch : cam.id) {
            if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'))
                return InvalidArgument(where + ".id", "letters, digits, '-', '_' and '.' only");
        }
        if (!ids.insert(cam.id).second) return InvalidArgument(where + ".id", "duplicate '" + cam.id + "'");
        CB_TRY_ASSIGN(cam.lat, Number(c, "lat", where, -90, 90));
        CB_TRY_ASSIGN(cam.lon, Number(c, "long", where, -180, 180));
        CB_TRY_ASSIGN(cam.heading_deg, Number(c, "heading", where, 0, 360, 0.0));
        CB_TRY_ASSIGN(const double priority, Number(c, "priority", where, 1, kPriorities, 3.0));
        cam.priority = static_cast<int>(priority);
        if (c.contains("watches")) {
            if (!c["watches"].is_string()) return InvalidArgument(where + ".watches", "must be a string");
            cam.watches = c["watches"].get<std::string>();
        }
        if (c.contains("zones")) {
            if (!c["zones"].is_array()) return InvalidArgument(where + ".zones", "must be an array");
            for (size_t z = 0; z < c["zones"].size(); ++z) {
                CB_TRY_ASSIGN(Zone zone, ParseZone(c["zones"][z], where + ".zones[" + std::to_string(z) + "]"));
                cam.zones.push_back(std::move(zone));
            }
        }
        out.push_back(std::move(cam));
    }
    return out;
}

Result<std::vector<Camera>> LoadCameras(const std::string& path) {
    auto text = core::ReadFile(path);
    if (!text.ok()) return NotFound(path, "cannot open the camera registry");
    return ParseCameras(*text, path);
}

std::string CategoryOf(const std::string& event_kind) {
    if (event_kind == "campus_safety") return "school_area_safety";
    if (event_kind == "crowd") return "other";  // no category of its own yet: an operator decides
    return event_kind;
}

struct CameraSet::State {
    Tracker tracker;
    RuleEngine rules;
    MotionGate gate;
    std::vector<Detection> last;
    int64_t frames = 0, bad_frames = 0, detected = 0, events = 0;
    State(const Camera& c, double gate_threshold) : rules(c.zones), gate(gate_threshold) {}
};

CameraSet::~CameraSet() = default;

Result<std::unique_ptr<CameraSet>> CameraSet::Open(std::vector<Camera> cameras, Options options) {
    if (cameras.empty()) return InvalidArgument("--cameras", "the registry has no cameras");
    if (!options.snapshot_dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(options.snapshot_dir, ec);
        if (ec) return InvalidArgument(options.snapshot_dir, "cannot create the snapshot folder: " + ec.message());
    }
    std::unique_ptr<CameraSet> set(new CameraSet());
    CB_TRY_ASSIGN(Detector d, Detector::Open(options.detector));
    set->detector_ = std::make_unique<Detector>(std::move(d));
    set->options_ = std::move(options);
    set->cameras_ = std::move(cameras);
    for (size_t i = 0; i < set->cameras_.size(); ++i) {
        set->index_.emplace(set->cameras_[i].id, i);
        set->state_.push_back(std::make_unique<State>(set->cameras_[i], set->options_.gate));
    }
    return set;
}

size_t CameraSet::size() const { return cameras_.size(); }

Result<FrameOutcome> CameraSet::Ingest(const std::string& id, std::span<const uint8_t> bytes, int64_t t_ms) {
    std::lock_guard lock(mu_);
    auto it = index_.find(id);
    if (it == index_.end()) {
        ++unknown_camera_frames_;
        return NotFound("camera_id", "no camera '" + id.substr(0, 64) + "' in the registry");
    }
    const Camera& cam = cameras_[it->second];
    State& st = *state_[it->second];
    ++st.frames;
    auto image = DecodeImage(bytes, "frame");
    if (!image.ok()) {
        ++st.bad_frames;
        return image.error();
    }
    FrameOutcome out;
    if (st.gate.Changed(*image)) {
        CB_TRY_ASSIGN(st.last, detector_->Detect(*image));
        ++st.detected;
    } else {
        out.gated = true;
    }
    out.detections = st.last.size();
    const double hour = std::fmod(static_cast<double>(t_ms) / 3.6e6 + options_.utc_offset_h + 240000.0, 24.0);
    out.events = st.rules.Evaluate(st.tracker.Update(st.last, t_ms), t_ms, hour);
    for (const VisionEvent& e : out.events) {
        ++st.events;
        incident::Report r;
        r.source = incident::Source::kCamera;
        r.time_ms = t_ms;
        r.lat = cam.lat;
        r.lon = cam.lon;
        r.address = cam.watches;
        r.category = CategoryOf(e.kind);
        r.confidence = e.confidence;
        r.external_id = cam.id + ":" + e.zone + ":" + std::to_string(t_ms);
        r.idempotency_key = "camera:" + r.external_id;
        r.description = "摄像头 " + cam.id + " 区域 " + e.zone + " 发现 " + e.kind + "（" +
                        std::to_string(e.boxes.size()) + " 个目标）";
        if (!options_.snapshot_dir.empty()) {
            // The frame with the event's boxes, as evidence for the operator and the crew.
            cv::Mat shot = image->clone();
            for (const Box& b : e.boxes) {
                cv::rectangle(shot, cv::Point2f(b.x1, b.y1), cv::Point2f(b.x2, b.y2), cv::Scalar(0, 0, 255), 2);
            }
            const std::string name = cam.id + "-" + e.zone + "-" + std::to_string(t_ms) + ".jpg";
            if (cv::imwrite(options_.snapshot_dir + "/" + name, shot)) r.media_url = options_.snapshot_url + name;
        }
        out.reports.push_back(std::move(r));
    }
    return out;
}

nlohmann::json CameraSet::Status() const {
    std::lock_guard lock(mu_);
    nlohmann::json cams = nlohmann::json::array();
    for (size_t i = 0; i < cameras_.size(); ++i) {
        const Camera& c = cameras_[i];
        const State& st = *state_[i];
        nlohmann::json zones = nlohmann::json::array();
        for (const Zone& z : c.zones) zones.push_back({{"id", z.id}, {"rule", RuleName(z.rule)}});
        cams.push_back({{"id", c.id},
                        {"lat", c.lat},
                        {"long", c.lon},
                        {"watches", c.watches},
                        {"priority", c.priority},
                        {"zones", zones},
                        {"frames", st.frames},
                        {"bad_frames", st.bad_frames},
                        {"frames_detected", st.detected},
                        {"events", st.events},
                        {"tracks_live", st.tracker.tracks().size()}});
    }
    return {{"cameras", cams}, {"frames_for_unknown_cameras", unknown_camera_frames_}};
}

Result<std::string> CameraSet::Snapshot(const std::string& name) const {
    if (options_.snapshot_dir.empty() || name.empty() || name.find('/') != std::string::npos ||
        name.find("..") != std::string::npos)
        return NotFound("snapshot", "no snapshot '" + name.substr(0, 128) + "'");
    auto bytes = core::ReadFile(options_.snapshot_dir + "/" + name);
    if (!bytes.ok()) return NotFound("snapshot", "no snapshot '" + name.substr(0, 128) + "'");
    return bytes;
}

}  // namespace citybrain::vision
