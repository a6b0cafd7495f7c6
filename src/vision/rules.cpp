// SPDX-License-Identifier: Apache-2.0
#include "vision/rules.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <set>

namespace citybrain::vision {

namespace {

const std::set<std::string>& StallClasses() {
    // What a stall is made of, in COCO's classes: a table, an umbrella, chairs, a bench.
    static const std::set<std::string> k = {"dining table", "umbrella", "chair", "bench"};
    return k;
}

const std::set<std::string>& VehicleClasses() {
    static const std::set<std::string> k = {"car", "truck", "bus", "motorcycle"};
    return k;
}

}  // namespace

const char* RuleName(RuleKind kind) {
    switch (kind) {
        case RuleKind::kStreetVending:
            return "street_vending";
        case RuleKind::kIllegalParking:
            return "illegal_parking";
        case RuleKind::kCrowd:
            return "crowd";
        case RuleKind::kCampusSafety:
            return "campus_safety";
        case RuleKind::kWaterlogging:
            return "waterlogging";
    }
    return "?";
}

Result<RuleKind> ParseRuleKind(const std::string& name, const std::string& where) {
    for (const RuleKind k : {RuleKind::kStreetVending,
                             RuleKind::kIllegalParking,
                             RuleKind::kCrowd,
                             RuleKind::kCampusSafety,
                             RuleKind::kWaterlogging}) {
        if (name == RuleName(k)) return k;
    }
    return InvalidArgument(
        where, "'" + name + "' is not a rule (street_vending, illegal_parking, crowd, campus_safety, waterlogging)");
}

Result<Zone> ParseZone(const nlohmann::json& j, const std::string& where) {
    if (!j.is_object()) return InvalidArgument(where, "must be an object");
    Zone z;
    if (!j.contains("id") || !j["id"].is_string() || j["id"].get<std::string>().empty())
        return InvalidArgument(where + ".id", "must be a non-empty string");
    z.id = j["id"].get<std::string>();
    if (!j.contains("rule") || !j["rule"].is_string()) return InvalidArgument(where + ".rule", "must be a string");
    CB_TRY_ASSIGN(z.rule, ParseRuleKind(j["rule"].get<std::string>(), where + ".rule"));
    if (!j.contains("polygon") || !j["polygon"].is_array() || j["polygon"].size() < 3)
        return InvalidArgument(where + ".polygon", "must be an array of at least 3 [x, y] points");
    for (size_t i = 0; i < j["polygon"].size(); ++i) {
        const auto& p = j["polygon"][i];
        if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number())
            return InvalidArgument(where + ".polygon[" + std::to_string(i) + "]", "must be [x, y] in pixels");
        z.polygon.emplace_back(p[0].get<float>(), p[1].get<float>());
    }
    if (j.contains("min_dwell_s")) {
        if (!j["min_dwell_s"].is_number() || j["min_dwell_s"].get<double>() < 0 ||
            j["min_dwell_s"].get<double>() > 86400)
            return InvalidArgument(where + ".min_dwell_s", "must be seconds from 0 to 86400");
        z.min_dwell_ms = static_cast<int64_t>(j["min_dwell_s"].get<double>() * 1000);
    }
    if (j.contains("min_count")) {
        if (!j["min_count"].is_number_integer() || j["min_count"].get<int>() < 1)
            return InvalidArgument(where + ".min_count", "must be a whole number of at least 1");
        z.min_count = j["min_count"].get<int>();
    }
    if (j.contains("hours")) {
        const auto& h = j["hours"];
        if (!h.is_array() || h.size() != 2 || !h[0].is_number() || !h[1].is_number() || h[0].get<double>() < 0 ||
            h[1].get<double>() > 24 || h[0].get<double>() >= h[1].get<double>())
            return InvalidArgument(where + ".hours", "must be [from, to] local hours with 0 <= from < to <= 24");
        z.open_from_h = h[0].get<double>();
        z.open_to_h = h[1].get<double>();
    }
    // Waterlogging's thresholds: each a number within its range, named when it is not.
    const auto fraction = [&](const char* key, double lo, double hi, double& into) -> Status {
        if (!j.contains(key)) return {};
        if (!j[key].is_number() || !(j[key].get<double>() >= lo && j[key].get<double>() <= hi)) {
            char range[64];
            std::snprintf(range, sizeof range, "must be a number within [%g, %g]", lo, hi);
            return InvalidArgument(where + "." + key, range);
        }
        into = j[key].get<double>();
        return {};
    };
    CB_TRY(fraction("min_share", 0.01, 1, z.min_share));
    CB_TRY(fraction("chroma_threshold", 1, 100, z.water.chroma_threshold));
    CB_TRY(fraction("texture_ratio", 0.01, 1, z.water.texture_ratio));
    return z;
}

bool InZone(const Zone& zone, const Box& box) {
    std::vector<cv::Point2f> poly;
    poly.reserve(zone.polygon.size());
    for (const auto& [x, y] : zone.polygon) poly.emplace_back(x, y);
    const cv::Point2f feet((box.x1 + box.x2) / 2, box.y2);
    return cv::pointPolygonTest(poly, feet, false) >= 0;
}

RuleEngine::RuleEngine(std::vector<Zone> zones, int64_t rearm_ms)
    : zones_(std::move(zones)),
      rearm_ms_(rearm_ms),
      fired_(zones_.size(), 0),
      clear_since_(zones_.size(), -1),
      wet_since_(zones_.size(), -1) {}

std::vector<VisionEvent> RuleEngine::Evaluate(const std::vector<Track>& tracks,
                                              int64_t t_ms,
                                              double local_hour,
                                              const std::vector<DryReference::Reading>* surface) {
    std::vector<VisionEvent> out;
    for (size_t z = 0; z < zones_.size(); ++z) {
        const Zone& zone = zones_[z];
        std::vector<const Track*> hits;  // the tracks that make the rule true
        std::optional<Box> wet;          // waterlogging: the wet part of the area, once it has lasted
        const auto still_long = [&](const Track& t) { return t.dwell_ms() >= zone.min_dwell_ms && t.moved() < 0.5F; };
        switch (zone.rule) {
            case RuleKind::kStreetVending: {
                // A stall that stays, with a person who stays by it.
                std::vector<const Track*> stalls, people;
                for (const Track& t : tracks) {
                    if (!t.confirmed || !InZone(zone, t.box) || !still_long(t)) continue;
                    if (StallClasses().count(t.label)) stalls.push_back(&t);
                    if (t.label == "person") people.push_back(&t);
                }
                if (!stalls.empty() && !people.empty()) {
                    hits = stalls;
                    hits.insert(hits.end(), people.begin(), people.end());
                }
                break;
            }
            case RuleKind::kIllegalParking:
                for (const Track& t : tracks) {
                    if (t.confirmed && VehicleClasses().count(t.label) && InZone(zone, t.box) && still_long(t))
                        hits.push_back(&t);
                }
                break;
            case RuleKind::kCrowd: {
                std::vector<const Track*> people;
                for (const Track& t : tracks) {
                    if (t.confirmed && t.label == "person" && t.misses == 0 && InZone(zone, t.box))
                        people.push_back(&t);
                }
                if (static_cast<int>(people.size()) >= zone.min_count) hits = people;
                break;
            }
            case RuleKind::kCampusSafety: {
                const bool open = local_hour >= zone.open_from_h && local_hour < zone.open_to_h;
                if (open) break;
                for (const Track& t : tracks) {
                    if (t.confirmed && t.label == "person" && InZone(zone, t.box) && t.dwell_ms() >= zone.min_dwell_ms)
                        hits.push_back(&t);
                }
                break;
            }
            case RuleKind::kWaterlogging: {
                // At least min_share of the visible area wet (and most of it visible), for min_dwell on end.
                const DryReference::Reading* r = surface != nullptr && z < surface->size() ? &(*surface)[z] : nullptr;
                if (r == nullptr || r->seen_share < 0.3 || r->changed_share < zone.min_share) {
                    wet_since_[z] = -1;
                    break;
                }
                if (wet_since_[z] < 0) wet_since_[z] = t_ms;
                if (t_ms - wet_since_[z] >= zone.min_dwell_ms || fired_[z]) wet = r->changed_box;
                break;
            }
        }
        if (hits.empty() && !wet) {
            if (clear_since_[z] < 0) clear_since_[z] = t_ms;
            if (fired_[z] && t_ms - clear_since_[z] >= rearm_ms_) fired_[z] = 0;
            continue;
        }
        clear_since_[z] = -1;
        if (fired_[z]) continue;
        fired_[z] = 1;
        VisionEvent e;
        e.kind = RuleName(zone.rule);
        e.zone = zone.id;
        e.t_ms = t_ms;
        e.confidence = 1;
        if (wet) {
            const DryReference::Reading& r = (*surface)[z];
            e.boxes.push_back(*wet);
            e.confidence = static_cast<float>(std::min(1.0, r.changed_share));
        }
        for (const Track* t : hits) {
            e.boxes.push_back(t->box);
            e.tracks.push_back(t->id);
            e.confidence = std::min(e.confidence, t->score);
        }
        out.push_back(std::move(e));
    }
    return out;
}

}  // namespace citybrain::vision
