// SPDX-License-Identifier: Apache-2.0
#include "district/scenario.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

namespace citybrain::district {

namespace {

double Distance(core::Point a, core::Point b) { return std::hypot(a.x - b.x, a.y - b.y); }

struct Template {
    const char* category;  // the truth, kept for scoring; the message carries no category
    const char* text;      // {p}: the place
};

// What citizens write (12345 app style). They name the place as people do, by the junction.
constexpr std::array<Template, 12> kTemplates = {{
    {"street_vending", "{p}有流动商贩占道摆摊，行人只能走机动车道，请尽快处理。"},
    {"street_vending", "{p}早上一直有摊贩占道卖早餐，影响通行。"},
    {"exposed_rubbish", "{p}附近垃圾堆了好几天没人清理，味道很大。"},
    {"illegal_parking", "{p}有车辆长期违停，堵住了非机动车道。"},
    {"street_light", "{p}的路灯晚上不亮，走路很不安全。"},
    {"road_damage", "{p}路面破损有个大坑洼，电动车容易摔倒。"},
    {"missing_manhole", "{p}有个井盖缺失，小孩经过很危险！"},
    {"noise", "{p}附近商铺每天用喇叭叫卖，噪音扰民。"},
    {"tree_damage", "{p}有一棵树倒伏压在人行道上。"},
    {"bulky_waste", "{p}路边有人丢了旧沙发等大件垃圾。"},
    {"waterlogging", "{p}积水很深，车辆无法通行。"},
    {"other", "请问办理居住证需要带什么材料？"},
}};

}  // namespace

Scenario::Scenario(const District& district, uint64_t seed, double duration_s, bool synthetic_flood_cameras)
    : d_(district),
      rng_(seed * 0xD1B54A32D192ED03ULL + 29),
      rain_from_s_(district.scenario.rain_from * duration_s),
      rain_to_s_(district.scenario.rain_to * duration_s),
      level_cm_(district.low_points.size(), 0.0),
      pumped_(district.low_points.size(), 0),
      sensor_alarm_(district.low_points.size(), 0),
      synthetic_flood_cameras_(synthetic_flood_cameras) {
    const ScenarioSpec& s = d_.scenario;
    next_vendor_s_ = s.vendors_per_hour > 0 ? Exp(3600 / s.vendors_per_hour) : 1e18;
    next_message_s_ = s.messages_per_hour > 0 ? Exp(3600 / s.messages_per_hour) : 1e18;
    for (const LowPoint& lp : d_.low_points) {
        std::vector<int32_t> cams;
        for (size_t c = 0; c < d_.cameras.size(); ++c) {
            if (Distance(d_.cameras[c].at, lp.at) <= s.camera_range_m) cams.push_back(static_cast<int32_t>(c));
        }
        camera_flood_.emplace_back(cams.size(), 0);
        flood_cameras_.push_back(std::move(cams));
    }
    // Junctions citizens can name: intersections where two differently named streets meet.
    for (const auto& in : d_.net.intersections) {
        if (in.is_virtual) continue;
        std::set<std::string> names;
        for (core::RoadId r : in.roads) {
            const std::string& n = d_.net.roads[static_cast<size_t>(r)].name;
            if (!n.empty()) names.insert(n);
        }
        if (names.size() >= 2) {
            auto it = names.begin();
            const std::string a = *it++;
            junctions_.emplace_back(a + "与" + *it + "交叉口", in.point);
        }
    }
}

void Scenario::SpawnVendor(double t) {
    // A kerb mid-block on a road between two real intersections.
    const auto& net = d_.net;
    for (int attempt = 0; attempt < 64; ++attempt) {
        const size_t r = static_cast<size_t>(U() * static_cast<double>(net.roads.size())) % net.roads.size();
        const core::Road& road = net.roads[r];
        if (net.intersections[static_cast<size_t>(road.from)].is_virtual ||
            net.intersections[static_cast<size_t>(road.to)].is_virtual || road.points.size() < 2) {
            continue;
        }
        const core::Point a = road.points.front();
        const core::Point b = road.points.back();
        const double f = 0.25 + 0.5 * U();
        const double len = std::max(1.0, Distance(a, b));
        // 8 m to the right of the direction of travel: the kerb.
        const core::Point at{a.x + (b.x - a.x) * f + 8 * (b.y - a.y) / len,
                             a.y + (b.y - a.y) * f - 8 * (b.x - a.x) / len};
        Vendor v;
        v.at = at;
        for (size_t c = 0; c < d_.cameras.size(); ++c) {
            if (Distance(d_.cameras[c].at, at) <= d_.scenario.camera_range_m)
                v.cameras.push_back(static_cast<int32_t>(c));
        }
        v.appear_s = t;
        v.leave_s = t + 2700 + 4500 * U();  // 45 min to 2 h unless told to leave
        vendors_.push_back(std::move(v));
        return;
    }
}

void Scenario::SendMessage(double t, std::vector<incident::Report>& out) {
    const Template& tpl = kTemplates[static_cast<size_t>(U() * kTemplates.size()) % kTemplates.size()];
    std::string text = tpl.text;
    incident::Report r;
    r.source = incident::Source::kCitizen;
    r.time_ms = static_cast<incident::TimeMs>(t * 1000);
    r.address = "龙岗区";  // the app's district field; the place is in the text
    const auto p = text.find("{p}");
    // Two in three messages name a junction, the rest a landmark ("龙城小学门口").
    const bool by_landmark = !d_.landmarks.empty() && (junctions_.empty() || U() < 1.0 / 3);
    if (p != std::string::npos && (by_landmark || !junctions_.empty())) {
        core::Point near;
        if (by_landmark) {
            const Landmark& l =
                d_.landmarks[static_cast<size_t>(U() * static_cast<double>(d_.landmarks.size())) % d_.landmarks.size()];
            text.replace(p, 3, l.name + "门口");
            near = l.at;
        } else {
            const auto& [name, where] =
                junctions_[static_cast<size_t>(U() * static_cast<double>(junctions_.size())) % junctions_.size()];
            text.replace(p, 3, name);
            near = where;
        }
        const core::Point at{near.x + 20 * (U() - 0.5), near.y + 20 * (U() - 0.5)};
        if (std::string(tpl.category) != "waterlogging") problems_.push_back({tpl.category, at, 1e18});
    } else if (p != std::string::npos) {
        text.replace(p, 3, "我家附近");
    }
    r.description = text;
    r.idempotency_key = "app-" + std::to_string(messages_sent_);
    r.external_id = r.idempotency_key;
    r.confidence = 1.0;
    message_truth_.push_back(tpl.category);
    ++messages_sent_;
    out.push_back(std::move(r));
}

void Scenario::Advance(double t, std::vector<incident::Report>& out) {
    const ScenarioSpec& s = d_.scenario;
    while (next_vendor_s_ <= t) {
        SpawnVendor(next_vendor_s_);
        next_vendor_s_ += Exp(3600 / s.vendors_per_hour);
    }
    while (next_message_s_ <= t) {
        SendMessage(t, out);
        next_message_s_ += Exp(3600 / s.messages_per_hour);
    }
    // Cameras: a cart still there after the dwell time is reported by every camera that sees it, each once.
    for (size_t v = 0; v < vendors_.size(); ++v) {
        Vendor& vendor = vendors_[v];
        if (t < vendor.appear_s + s.vendor_dwell_s || t >= vendor.leave_s) continue;
        if (vendor.seen_by.size() == vendor.cameras.size()) continue;
        for (const int32_t cam : vendor.cameras) {
            const auto c = static_cast<size_t>(cam);
            if (std::find(vendor.seen_by.begin(), vendor.seen_by.end(), cam) != vendor.seen_by.end()) continue;
            // Detections run on a few-second cycle per camera: stagger them so reports do not all land at once.
            if (t < vendor.appear_s + s.vendor_dwell_s + static_cast<double>((c * 7 + v * 13) % 30)) continue;
            vendor.seen_by.push_back(cam);
            incident::Report r;
            r.source = incident::Source::kCamera;
            r.time_ms = static_cast<incident::TimeMs>(t * 1000);
            const core::Point seen{vendor.at.x + 6 * (U() - 0.5), vendor.at.y + 6 * (U() - 0.5)};
            const auto [lat, lon] = d_.frame.ToWgs84(seen);
            r.lat = lat;
            r.lon = lon;
            r.category = "street_vending";
            // Which camera saw it; where it is, the brain names from the map (a junction, not a node id).
            r.description = "视频识别：占道经营（" + std::to_string(c + 1) + " 号摄像头）";
            r.confidence = 0.9;
            r.idempotency_key = "cam" + std::to_string(c) + "-vendor" + std::to_string(v);
            r.external_id = r.idempotency_key;
            out.push_back(std::move(r));
        }
    }
    // Rain and water: levels rise while it rains, drain slowly after, fast with a pump on site.
    for (size_t i = 0; i < level_cm_.size(); ++i) {
        double rate = (Raining(t) ? d_.low_points[i].rise_cm_per_min : -0.5) / 60;
        if (pumped_[i]) rate -= 2.0 / 60;
        level_cm_[i] = std::max(0.0, level_cm_[i] + rate);
        if (level_cm_[i] < 5) {
            pumped_[i] = 0;
            if (level_cm_[i] < 2) {  // dry again: the next flooding is a new episode
                sensor_alarm_[i] = 0;
                std::fill(camera_flood_[i].begin(), camera_flood_[i].end(), 0);
            }
        }
        const auto [lat, lon] = d_.frame.ToWgs84(d_.low_points[i].at);
        if (level_cm_[i] > s.sensor_alarm_cm && !sensor_alarm_[i]) {
            sensor_alarm_[i] = 1;
            ++flood_episode_;
            incident::Report r;
            r.source = incident::Source::kSensor;
            r.time_ms = static_cast<incident::TimeMs>(t * 1000);
            r.lat = lat;
            r.lon = lon;
            r.category = "waterlogging";
            r.description = "水位传感器报警：积水 " + std::to_string(static_cast<int>(level_cm_[i])) + " 厘米";
            r.idempotency_key = "level" + std::to_string(i) + "-" + std::to_string(flood_episode_);
            r.external_id = r.idempotency_key;
            out.push_back(std::move(r));
        }
        if (level_cm_[i] > s.camera_flood_cm) {
            for (size_t k = 0; k < flood_cameras_[i].size(); ++k) {
                if (camera_flood_[i][k]) continue;
                camera_flood_[i][k] = 1;
                const int32_t c = flood_cameras_[i][k];
                incident::Report r;
                r.source = incident::Source::kCamera;
                r.time_ms = static_cast<incident::TimeMs>(t * 1000);
                const core::Point seen{d_.low_points[i].at.x + 20 * (U() - 0.5),
                                       d_.low_points[i].at.y + 20 * (U() - 0.5)};
                // Through the vision pipeline instead: the draws above are still made, so that the rest of the
                // scenario (vendors, messages) is the same in both modes.
                if (!synthetic_flood_cameras_) continue;
                const auto [clat, clon] = d_.frame.ToWgs84(seen);
                r.lat = clat;
                r.lon = clon;
                r.category = "waterlogging";
                r.description = "视频识别：路面积水";
                r.confidence = 0.85;
                r.idempotency_key =
                    "cam" + std::to_string(c) + "-flood" + std::to_string(i) + "-" + std::to_string(flood_episode_);
                r.external_id = r.idempotency_key;
                out.push_back(std::move(r));
            }
        }
    }
}

std::vector<FloodView> Scenario::FloodViews() const {
    std::vector<FloodView> out;
    for (size_t i = 0; i < flood_cameras_.size(); ++i) {
        for (const int32_t c : flood_cameras_[i]) out.push_back({c, i, level_cm_[i]});
    }
    return out;
}

int32_t Scenario::BeginHandling(const std::string& category, core::Point at, double t) {
    Handling h;
    h.kind = 3;
    h.done_s = t + 60;  // nothing found: a minute to look around
    if (category == "street_vending") {
        for (size_t v = 0; v < vendors_.size(); ++v) {
            Vendor& vendor = vendors_[v];
            if (vendor.appear_s > t || vendor.leave_s <= t || Distance(vendor.at, at) > 80) continue;
            vendor.leave_s = std::min(vendor.leave_s, t + 60 + 90 * U());  // told to leave: packs up
            h = {0, static_cast<int32_t>(v), vendor.leave_s};
            break;
        }
    } else if (category == "waterlogging") {
        for (size_t i = 0; i < level_cm_.size(); ++i) {
            if (Distance(d_.low_points[i].at, at) > 150 || level_cm_[i] < 5) continue;
            pumped_[i] = 1;
            h = {1, static_cast<int32_t>(i), 0};
            break;
        }
    }
    if (h.kind == 3) {
        for (size_t p = 0; p < problems_.size(); ++p) {
            Problem& pr = problems_[p];
            if (pr.category != category || pr.fixed_s <= t || Distance(pr.at, at) > 100) continue;
            pr.fixed_s = t + 300 + 600 * U();
            h = {2, static_cast<int32_t>(p), pr.fixed_s};
            break;
        }
    }
    handlings_.push_back(h);
    return static_cast<int32_t>(handlings_.size() - 1);
}

bool Scenario::Done(int32_t handle, double t) const {
    if (handle < 0 || static_cast<size_t>(handle) >= handlings_.size()) return true;
    const Handling& h = handlings_[static_cast<size_t>(handle)];
    if (h.kind == 1) return level_cm_[static_cast<size_t>(h.index)] < 5;
    return t >= h.done_s;
}

bool Scenario::StillThere(const std::string& category, core::Point at, double t) const {
    if (category == "street_vending") {
        for (const Vendor& v : vendors_) {
            if (v.appear_s <= t && v.leave_s > t && Distance(v.at, at) <= 60) return true;
        }
    }
    if (category == "waterlogging") {
        for (size_t i = 0; i < level_cm_.size(); ++i) {
            if (level_cm_[i] >= 5 && Distance(d_.low_points[i].at, at) <= 150) return true;
        }
    }
    for (const Problem& p : problems_) {
        if (p.category == category && p.fixed_s > t && Distance(p.at, at) <= 60) return true;
    }
    return false;
}

}  // namespace citybrain::district
