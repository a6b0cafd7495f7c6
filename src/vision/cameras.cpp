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

/// The camera's own fault as an event (no zone): camera_offline, camera_frozen or camera_covered.
VisionEvent HealthEvent(Health fault, int64_t t_ms) {
    VisionEvent e;
    e.kind = std::string("camera_") + HealthName(fault);
    e.t_ms = t_ms;
    e.confidence = 1;
    return e;
}

}  // namespace

Result<std::vector<Camera>> ParseCameras(std::string_view text,
                                         const std::string& source,
                                         const std::string& base_dir) {
    const auto path_in = [&](const std::string& p) {
        if (p.empty() || p.front() == '/' || p.find("://") != std::string::npos || base_dir.empty()) return p;
        return base_dir + "/" + p;
    };
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
        for (const char* key : {"source", "dry_reference"}) {
            if (!c.contains(key)) continue;
            if (!c[key].is_string() || c[key].get<std::string>().empty())
                return InvalidArgument(where + "." + key, "must be a non-empty string (a file, a folder or a URL)");
            (std::string_view(key) == "source" ? cam.source : cam.dry_reference) = path_in(c[key].get<std::string>());
        }
        CB_TRY_ASSIGN(const double offline_s, Number(c, "offline_after_s", where, 1, 86400, 0.0));
        if (c.contains("offline_after_s")) cam.offline_after_ms = static_cast<int64_t>(offline_s * 1000);
        cam.rate.priority = cam.priority;
        CB_TRY_ASSIGN(const double every_s, Number(c, "every_s", where, 0.1, 86400, cam.priority == 3 ? 60.0 : 10.0));
        cam.rate.interval_ms = static_cast<int64_t>(every_s * 1000);
        if (c.contains("busy_hours")) {
            const auto& h = c["busy_hours"];
            if (!h.is_array() || h.size() != 2 || !h[0].is_number() || !h[1].is_number() || h[0].get<double>() < 0 ||
                h[1].get<double>() > 24 || h[0].get<double>() >= h[1].get<double>())
                return InvalidArgument(where + ".busy_hours",
                                       "must be [from, to] local hours with 0 <= from < to <= 24");
            cam.rate.busy_from_h = h[0].get<double>();
            cam.rate.busy_to_h = h[1].get<double>();
            CB_TRY_ASSIGN(const double busy_s, Number(c, "busy_every_s", where, 0.1, 86400));
            cam.rate.busy_interval_ms = static_cast<int64_t>(busy_s * 1000);
        }
        out.push_back(std::move(cam));
    }
    return out;
}

Result<std::vector<Camera>> LoadCameras(const std::string& path) {
    auto text = core::ReadFile(path);
    if (!text.ok()) return NotFound(path, "cannot open the camera registry");
    return ParseCameras(*text, path, std::filesystem::path(path).parent_path().string());
}

std::string CategoryOf(const std::string& event_kind) {
    if (event_kind == "campus_safety") return "school_area_safety";
    if (event_kind == "crowd") return "other";  // no category of its own yet: an operator decides
    if (event_kind.rfind("camera_", 0) == 0) return "camera_fault";
    return event_kind;
}

struct CameraSet::State {
    Tracker tracker;
    RuleEngine rules;
    MotionGate gate;
    HealthWatch health;
    std::vector<Detection> last;
    std::vector<std::optional<DryReference>> dry;  // per zone: waterlogging zones' references, once taken
    std::vector<DryReference::Reading> surface;    // per zone: this frame's readings
    std::string reference_from;                    // the dry reference's origin: a file, or the first frame
    int64_t frames = 0, bad_frames = 0, detected = 0, events = 0, health_events = 0;
    State(const Camera& c, double gate_threshold, HealthOptions h, int64_t start_ms)
        : rules(c.zones), gate(gate_threshold), health(h, start_ms), dry(c.zones.size()), surface(c.zones.size()) {}
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
        const Camera& cam = set->cameras_[i];
        HealthOptions health = set->options_.health;
        if (cam.offline_after_ms > 0) health.offline_after_ms = cam.offline_after_ms;
        set->index_.emplace(cam.id, i);
        auto st = std::make_unique<State>(cam, set->options_.gate, health, set->options_.start_ms);
        if (!cam.dry_reference.empty()) {
            const std::string where = "cameras[" + std::to_string(i) + "].dry_reference";
            auto dry = ReadImage(cam.dry_reference);
            if (!dry.ok()) return InvalidArgument(where, dry.error().message + ": " + cam.dry_reference);
            for (size_t z = 0; z < cam.zones.size(); ++z) {
                if (cam.zones[z].rule != RuleKind::kWaterlogging) continue;
                CB_TRY_ASSIGN(st->dry[z],
                              DryReference::Make(*dry,
                                                 cam.zones[z].polygon,
                                                 "cameras[" + std::to_string(i) + "].zones[" + std::to_string(z) + "]",
                                                 cam.zones[z].water));
            }
            st->reference_from = cam.dry_reference;
        }
        set->state_.push_back(std::move(st));
    }
    return set;
}

size_t CameraSet::size() const { return cameras_.size(); }

Result<size_t> CameraSet::CountFrame(const std::string& id) {
    auto it = index_.find(id);
    if (it == index_.end()) {
        ++unknown_camera_frames_;
        return NotFound("camera_id", "no camera '" + id.substr(0, 64) + "' in the registry");
    }
    ++state_[it->second]->frames;
    return it->second;
}

Result<FrameOutcome> CameraSet::Ingest(const std::string& id, std::span<const uint8_t> bytes, int64_t t_ms) {
    std::lock_guard lock(mu_);
    CB_TRY_ASSIGN(const size_t index, CountFrame(id));
    auto image = DecodeImage(bytes, "frame");
    if (!image.ok()) {
        ++state_[index]->bad_frames;
        return image.error();
    }
    return Analyse(index, *image, t_ms);
}

Result<FrameOutcome> CameraSet::Ingest(const std::string& id, const cv::Mat& bgr, int64_t t_ms) {
    std::lock_guard lock(mu_);
    CB_TRY_ASSIGN(const size_t index, CountFrame(id));
    if (bgr.empty() || bgr.type() != CV_8UC3) {
        ++state_[index]->bad_frames;
        return InvalidArgument("frame", "empty, or not a colour image");
    }
    return Analyse(index, bgr, t_ms);
}

Result<FrameOutcome> CameraSet::Analyse(size_t index, const cv::Mat& image, int64_t t_ms) {
    const Camera& cam = cameras_[index];
    State& st = *state_[index];
    FrameOutcome out;
    if (const auto fault = st.health.Frame(image, t_ms)) {
        out.events.push_back(HealthEvent(*fault, t_ms));
    }
    if (st.gate.Changed(image)) {
        CB_TRY_ASSIGN(st.last, detector_->Detect(image));
        ++st.detected;
    } else {
        out.gated = true;
    }
    out.detections = st.last.size();
    // The picture against its dry look, where a zone watches for water. Objects' boxes are left out of it; a camera
    // without a reference file takes its first frame as dry.
    bool surface = false;
    std::vector<Box> hidden;
    for (const Detection& d : st.last) hidden.push_back(d.box);
    for (size_t z = 0; z < cam.zones.size(); ++z) {
        if (cam.zones[z].rule != RuleKind::kWaterlogging) continue;
        if (!st.dry[z]) {
            auto made =
                DryReference::Make(image, cam.zones[z].polygon, "zones[" + std::to_string(z) + "]", cam.zones[z].water);
            if (!made.ok()) continue;
            st.dry[z] = std::move(made).value();
            st.reference_from = "first frame";
        }
        st.surface[z] = st.dry[z]->Compare(image, hidden);
        surface = true;
    }
    const double hour = std::fmod(static_cast<double>(t_ms) / 3.6e6 + options_.utc_offset_h + 240000.0, 24.0);
    for (VisionEvent& e :
         st.rules.Evaluate(st.tracker.Update(st.last, t_ms), t_ms, hour, surface ? &st.surface : nullptr)) {
        out.events.push_back(std::move(e));
    }
    for (const VisionEvent& e : out.events) {
        ++(e.zone.empty() ? st.health_events : st.events);
        // An offline camera has no picture to show; the others' frame is the evidence.
        out.reports.push_back(ReportOf(cam, e, &image));
    }
    return out;
}

FrameOutcome CameraSet::Tick(int64_t now_ms) {
    std::lock_guard lock(mu_);
    FrameOutcome out;
    for (size_t i = 0; i < cameras_.size(); ++i) {
        State& st = *state_[i];
        if (const auto fault = st.health.Tick(now_ms)) {
            VisionEvent e = HealthEvent(*fault, now_ms);
            ++st.health_events;
            out.reports.push_back(ReportOf(cameras_[i], e, nullptr));
            out.events.push_back(std::move(e));
        }
    }
    return out;
}

incident::Report CameraSet::ReportOf(const Camera& cam, const VisionEvent& e, const cv::Mat* image) const {
    incident::Report r;
    r.source = incident::Source::kCamera;
    r.time_ms = e.t_ms;
    r.lat = cam.lat;
    r.lon = cam.lon;
    r.address = cam.watches;
    r.category = CategoryOf(e.kind);
    r.confidence = e.confidence;
    const std::string zone = e.zone.empty() ? e.kind : e.zone;
    r.external_id = cam.id + ":" + zone + ":" + std::to_string(e.t_ms);
    r.idempotency_key = "camera:" + r.external_id;
    if (e.zone.empty()) {
        static const std::map<std::string, std::string> kWhat = {{"camera_offline", "离线（无画面）"},
                                                                 {"camera_frozen", "画面冻结"},
                                                                 {"camera_covered", "镜头被遮挡或无画面内容"}};
        const auto w = kWhat.find(e.kind);
        r.description = "摄像头 " + cam.id + " " + (w != kWhat.end() ? w->second : e.kind);
    } else {
        r.description = "摄像头 " + cam.id + " 区域 " + e.zone + " 发现 " + e.kind + "（" +
                        std::to_string(e.boxes.size()) + " 个目标）";
    }
    if (image != nullptr && !options_.snapshot_dir.empty()) {
        // The frame with the event's boxes, as evidence for the operator and the crew.
        cv::Mat shot = image->clone();
        for (const Box& b : e.boxes) {
            cv::rectangle(shot, cv::Point2f(b.x1, b.y1), cv::Point2f(b.x2, b.y2), cv::Scalar(0, 0, 255), 2);
        }
        const std::string name = cam.id + "-" + zone + "-" + std::to_string(e.t_ms) + ".jpg";
        if (cv::imwrite(options_.snapshot_dir + "/" + name, shot)) r.media_url = options_.snapshot_url + name;
    }
    return r;
}

nlohmann::json CameraSet::Status() const {
    std::lock_guard lock(mu_);
    nlohmann::json cams = nlohmann::json::array();
    for (size_t i = 0; i < cameras_.size(); ++i) {
        const Camera& c = cameras_[i];
        const State& st = *state_[i];
        nlohmann::json zones = nlohmann::json::array();
        for (size_t z = 0; z < c.zones.size(); ++z) {
            nlohmann::json zone{{"id", c.zones[z].id}, {"rule", RuleName(c.zones[z].rule)}};
            if (c.zones[z].rule == RuleKind::kWaterlogging) zone["wet_share"] = st.surface[z].changed_share;
            zones.push_back(std::move(zone));
        }
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
                        {"tracks_live", st.tracker.tracks().size()},
                        {"health", HealthName(st.health.health())},
                        {"health_events", st.health_events},
                        {"source", c.source.empty() ? "pushed" : c.source},
                        {"dry_reference", st.reference_from}});
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
