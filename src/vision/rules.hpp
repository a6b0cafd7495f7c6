// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "vision/scene.hpp"
#include "vision/tracker.hpp"

namespace citybrain::vision {

/// What a zone watches for; each kind is the taxonomy's category the event becomes (crowd has none yet).
/// Waterlogging looks at the picture itself (against the camera's dry reference), the others at tracked objects.
enum class RuleKind : uint8_t { kStreetVending, kIllegalParking, kCrowd, kCampusSafety, kWaterlogging };
const char* RuleName(RuleKind kind);
Result<RuleKind> ParseRuleKind(const std::string& name, const std::string& where);

/// A polygon in the camera's image (pixels) with its rule.
struct Zone {
    std::string id;
    RuleKind rule = RuleKind::kStreetVending;
    std::vector<std::pair<float, float>> polygon;  // at least 3 points
    int64_t min_dwell_ms = 5LL * 60'000;           // vending, parking: how long before it counts
    int min_count = 10;                            // crowd: people at once
    /// Campus safety: the hours (local, [from, to)) when people at the gate are expected; outside them, a person
    /// who stays `min_dwell_ms` is an event.
    double open_from_h = 7, open_to_h = 19;
    /// Waterlogging: the share of the area's visible cells that must look wet, for `min_dwell_ms` on end.
    double min_share = 0.4;
    DryReference::Options water;
};

/// A zone's JSON: {"id", "rule", "polygon": [[x, y], ...], "min_dwell_s", "min_count", "hours": [from, to],
/// "min_share", "chroma_threshold", "texture_ratio"}.
/// Errors name the field (`where` + ".polygon", …).
Result<Zone> ParseZone(const nlohmann::json& j, const std::string& where);

/// What a rule saw: becomes a report (category = kind) through the brain's event intake.
struct VisionEvent {
    std::string kind;  // street_vending, illegal_parking, crowd, campus_safety, waterlogging
    std::string zone;
    std::vector<Box> boxes;
    std::vector<int64_t> tracks;
    float confidence = 0;
    int64_t t_ms = 0;
};

/// Turns tracks into events, zone by zone. An object is in a zone when the bottom centre of its box (where it
/// stands) is inside the polygon. A zone fires once per episode: again only after it has been clear (no object
/// that would fire it) for `rearm_ms`.
class RuleEngine {
public:
    explicit RuleEngine(std::vector<Zone> zones, int64_t rearm_ms = 10LL * 60'000);
    /// The events of this frame; `local_hour` is the camera's local time of day in hours (campus rules);
    /// `surface`, when given, holds each zone's reading against its dry reference (waterlogging zones; the others'
    /// entries are not read).
    std::vector<VisionEvent> Evaluate(const std::vector<Track>& tracks,
                                      int64_t t_ms,
                                      double local_hour,
                                      const std::vector<DryReference::Reading>* surface = nullptr);
    const std::vector<Zone>& zones() const { return zones_; }

private:
    std::vector<Zone> zones_;
    int64_t rearm_ms_;
    std::vector<char> fired_;           // per zone: fired in the current episode
    std::vector<int64_t> clear_since_;  // per zone: when it was last seen clear (-1: not clear)
    std::vector<int64_t> wet_since_;    // per waterlogging zone: since when it has looked wet (-1: not)
};

bool InZone(const Zone& zone, const Box& box);

}  // namespace citybrain::vision
