// SPDX-License-Identifier: Apache-2.0
#include "zones/zone_map.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>

#include "core/file.hpp"
#include "zones/bus.hpp"

namespace citybrain::zones {
namespace {

using Json = nlohmann::json;

bool Inside(const std::vector<std::pair<double, double>>& poly, double lon, double lat) {
    // Even-odd rule over the edges (W. R. Franklin's PNPOLY).
    bool in = false;
    for (size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
        const auto [xi, yi] = poly[i];
        const auto [xj, yj] = poly[j];
        if ((yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi) in = !in;
    }
    return in;
}

Result<int64_t> Millis(const Json& j, const char* key, int64_t fallback, int64_t lo, int64_t hi) {
    if (!j.contains(key)) return fallback;
    const Json& v = j[key];
    if (!v.is_number_integer()) return InvalidArgument(key, "must be an integer number of milliseconds");
    const auto n = v.get<int64_t>();
    if (n < lo || n > hi)
        return InvalidArgument(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return n;
}

}  // namespace

namespace {

/// A zone's units, appended to the city's (whose ids they must not repeat).
Status ParseUnits(const Json& units, const std::string& where, size_t zone, std::vector<ZoneUnit>& city) {
    if (!units.is_array()) return InvalidArgument(where, "must be an array of {id, lat, lon}");
    for (size_t k = 0; k < units.size(); ++k) {
        const Json& u = units[k];
        const std::string uw = where + "[" + std::to_string(k) + "]";
        if (!u.is_object()) return InvalidArgument(uw, "must be an object {id, lat, lon}");
        for (const auto& [key, _] : u.items()) {
            if (key != "id" && key != "lat" && key != "lon") {
                return InvalidArgument(uw + "." + key, "unknown field (known: id, lat, lon)");
            }
        }
        ZoneUnit unit;
        unit.zone = zone;
        if (!u.contains("id") || !u["id"].is_string()) return InvalidArgument(uw + ".id", "must be a string");
        unit.id = u["id"].get<std::string>();
        CB_TRY(CheckToken(uw + ".id", unit.id));
        for (const ZoneUnit& other : city) {
            if (other.id == unit.id) return InvalidArgument(uw + ".id", "'" + unit.id + "' is used twice");
        }
        for (const char* key : {"lat", "lon"}) {
            if (!u.contains(key) || !u[key].is_number()) return InvalidArgument(uw + "." + key, "must be a number");
        }
        unit.lat = u["lat"].get<double>();
        unit.lon = u["lon"].get<double>();
        if (!std::isfinite(unit.lat) || unit.lat < -90 || unit.lat > 90) {
            return InvalidArgument(uw + ".lat", "out of [-90, 90]");
        }
        if (!std::isfinite(unit.lon) || unit.lon < -180 || unit.lon > 180) {
            return InvalidArgument(uw + ".lon", "out of [-180, 180]");
        }
        city.push_back(std::move(unit));
    }
    return {};
}

}  // namespace

Result<ZoneMap> ZoneMap::Parse(std::string_view text, std::string_view file) {
    const std::string at(file);
    Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return InvalidArgument(at, "not a JSON object");
    for (const auto& [key, _] : j.items()) {
        if (key != "stream" && key != "lease_ms" && key != "ack_wait_ms" && key != "unit_service_ms" &&
            key != "unit_speed_mps" && key != "lend_reserve" && key != "zones") {
            return InvalidArgument(
                at + ": " + key,
                "unknown field (known: stream, lease_ms, ack_wait_ms, unit_service_ms, unit_speed_mps, lend_reserve, "
                "zones)");
        }
    }
    ZoneMap map;
    if (j.contains("stream")) {
        if (!j["stream"].is_string()) return InvalidArgument(at + ": stream", "must be a string");
        map.stream = j["stream"].get<std::string>();
        CB_TRY(CheckToken(at + ": stream", map.stream));
    }
    auto lease = Millis(j, "lease_ms", map.lease_ms, 500, 600'000);
    if (!lease.ok()) return InvalidArgument(at + ": lease_ms", lease.error().message);
    map.lease_ms = *lease;
    auto ack = Millis(j, "ack_wait_ms", map.ack_wait_ms, 1000, 3'600'000);
    if (!ack.ok()) return InvalidArgument(at + ": ack_wait_ms", ack.error().message);
    map.ack_wait_ms = *ack;
    auto service = Millis(j, "unit_service_ms", map.unit_service_ms, 1000, 86'400'000);
    if (!service.ok()) return InvalidArgument(at + ": unit_service_ms", service.error().message);
    map.unit_service_ms = *service;
    if (j.contains("unit_speed_mps")) {
        const Json& v = j["unit_speed_mps"];
        if (!v.is_number() || !(v.get<double>() >= 0.5 && v.get<double>() <= 300)) {
            return InvalidArgument(at + ": unit_speed_mps", "must be a number between 0.5 and 300 (metres a second)");
        }
        map.unit_speed_mps = v.get<double>();
    }
    if (j.contains("lend_reserve")) {
        const Json& v = j["lend_reserve"];
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 10'000) {
            return InvalidArgument(at + ": lend_reserve", "must be an integer between 0 and 10000");
        }
        map.lend_reserve = v.get<int>();
    }
    if (!j.contains("zones") || !j["zones"].is_array() || j["zones"].empty()) {
        return InvalidArgument(at + ": zones", "must be a non-empty array");
    }
    const Json& zones = j["zones"];
    for (size_t i = 0; i < zones.size(); ++i) {
        const std::string where = at + ": zones[" + std::to_string(i) + "]";
        const Json& z = zones[i];
        if (!z.is_object()) return InvalidArgument(where, "must be an object");
        if (!z.contains("id") || !z["id"].is_string()) return InvalidArgument(where + ".id", "must be a string");
        Zone zone;
        zone.id = z["id"].get<std::string>();
        CB_TRY(CheckToken(where + ".id", zone.id));
        if (map.Find(zone.id)) return InvalidArgument(where + ".id", "'" + zone.id + "' is used twice");
        if (!z.contains("polygon") || !z["polygon"].is_array() || z["polygon"].size() < 3) {
            return InvalidArgument(where + ".polygon", "must be an array of at least 3 [lon, lat] vertices");
        }
        for (size_t k = 0; k < z["polygon"].size(); ++k) {
            const Json& v = z["polygon"][k];
            const std::string vw = where + ".polygon[" + std::to_string(k) + "]";
            if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number()) {
                return InvalidArgument(vw, "must be [lon, lat]");
            }
            const double lon = v[0].get<double>(), lat = v[1].get<double>();
            if (!std::isfinite(lon) || lon < -180 || lon > 180) return InvalidArgument(vw, "lon out of [-180, 180]");
            if (!std::isfinite(lat) || lat < -90 || lat > 90) return InvalidArgument(vw, "lat out of [-90, 90]");
            zone.polygon.emplace_back(lon, lat);
        }
        if (z.contains("units")) CB_TRY(ParseUnits(z["units"], where + ".units", map.zones_.size(), map.units_));
        for (const auto& [key, _] : z.items()) {
            if (key != "id" && key != "polygon" && key != "units") {
                return InvalidArgument(where + "." + key, "unknown field (known: id, polygon, units)");
            }
        }
        map.zones_.push_back(std::move(zone));
    }
    return map;
}

Status ZoneMap::AddUnit(const std::string& id, size_t zone, double lat, double lon) {
    if (zone >= zones_.size()) return InvalidArgument("zone", "no zone " + std::to_string(zone));
    CB_TRY(CheckToken("id", id));
    for (const ZoneUnit& u : units_) {
        if (u.id == id) return InvalidArgument("id", "'" + id + "' is used twice");
    }
    units_.push_back({id, zone, lat, lon});
    return {};
}

Result<ZoneMap> ZoneMap::Load(const std::string& path) {
    CB_TRY_ASSIGN(const std::string text, core::ReadFile(path));
    return Parse(text, path);
}

Result<ZoneMap> ZoneMap::Bisect(const std::vector<std::pair<double, double>>& points, int count, double margin_deg) {
    if (count < 1 || count > 1024) return InvalidArgument("zones", "must be between 1 and 1024");
    if (points.size() < static_cast<size_t>(count)) {
        return InvalidArgument("zones", "more zones than points to share out");
    }
    struct Box {
        double lat0, lat1, lon0, lon1;
    };
    double lat0 = 90, lat1 = -90, lon0 = 180, lon1 = -180;
    for (const auto& [lat, lon] : points) {
        lat0 = std::min(lat0, lat), lat1 = std::max(lat1, lat);
        lon0 = std::min(lon0, lon), lon1 = std::max(lon1, lon);
    }
    ZoneMap map;
    std::vector<std::pair<double, double>> pts = points;
    // Splits `n` zones over pts[first, last) inside `box`: the wider side is cut where the points divide in
    // proportion to the zones on each side.
    std::function<void(size_t, size_t, int, Box)> split = [&](size_t first, size_t last, int n, Box box) {
        if (n == 1) {
            Zone z;
            z.id = "z" + std::to_string(map.zones_.size());
            z.polygon = {{box.lon0, box.lat0}, {box.lon1, box.lat0}, {box.lon1, box.lat1}, {box.lon0, box.lat1}};
            map.zones_.push_back(std::move(z));
            return;
        }
        const int left = n / 2;
        const bool by_lon =
            (box.lon1 - box.lon0) * std::cos(0.5 * (box.lat0 + box.lat1) * M_PI / 180) > box.lat1 - box.lat0;
        const size_t mid = first + (last - first) * static_cast<size_t>(left) / static_cast<size_t>(n);
        auto key = [by_lon](const std::pair<double, double>& p) { return by_lon ? p.second : p.first; };
        std::nth_element(pts.begin() + static_cast<std::ptrdiff_t>(first),
                         pts.begin() + static_cast<std::ptrdiff_t>(mid),
                         pts.begin() + static_cast<std::ptrdiff_t>(last),
                         [&](const auto& a, const auto& b) { return key(a) < key(b); });
        // The cut lies halfway between the last point on the left and the first on the right.
        double below = key(pts[first]);
        for (size_t i = first; i < mid; ++i) below = std::max(below, key(pts[i]));
        const double cut = mid > first ? 0.5 * (below + key(pts[mid])) : key(pts[mid]);
        Box a = box, b = box;
        if (by_lon) {
            a.lon1 = b.lon0 = cut;
        } else {
            a.lat1 = b.lat0 = cut;
        }
        split(first, mid, left, a);
        split(mid, last, n - left, b);
    };
    split(0, pts.size(), count, {lat0 - margin_deg, lat1 + margin_deg, lon0 - margin_deg, lon1 + margin_deg});
    return map;
}

std::optional<size_t> ZoneMap::Locate(double lat, double lon) const {
    for (size_t i = 0; i < zones_.size(); ++i) {
        if (Inside(zones_[i].polygon, lon, lat)) return i;
    }
    return std::nullopt;
}

namespace {

constexpr double kMPerDegLat = 111'195.0;

/// Metres from p to the segment a–b, all in (lon, lat), on a plane around p.
double SegmentDistanceM(std::pair<double, double> p,
                        std::pair<double, double> a,
                        std::pair<double, double> b,
                        double m_per_deg_lon) {
    const double ax = (a.first - p.first) * m_per_deg_lon, ay = (a.second - p.second) * kMPerDegLat;
    const double bx = (b.first - p.first) * m_per_deg_lon, by = (b.second - p.second) * kMPerDegLat;
    const double dx = bx - ax, dy = by - ay;
    const double len2 = dx * dx + dy * dy;
    const double t = len2 > 0 ? std::clamp(-(ax * dx + ay * dy) / len2, 0.0, 1.0) : 0.0;
    return std::hypot(ax + t * dx, ay + t * dy);
}

double PolygonDistanceM(const std::vector<std::pair<double, double>>& poly, double lat, double lon) {
    if (Inside(poly, lon, lat)) return 0;
    const double m_per_deg_lon = kMPerDegLat * std::cos(lat * std::numbers::pi / 180.0);
    double best = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < poly.size(); ++i) {
        best = std::min(best, SegmentDistanceM({lon, lat}, poly[i], poly[(i + 1) % poly.size()], m_per_deg_lon));
    }
    return best;
}

}  // namespace

double ZoneMap::DistanceM(size_t zone, double lat, double lon) const {
    return PolygonDistanceM(zones_[zone].polygon, lat, lon);
}

std::vector<size_t> ZoneMap::Near(double lat, double lon, double radius_m, size_t except) const {
    std::vector<std::pair<double, size_t>> found;
    for (size_t i = 0; i < zones_.size(); ++i) {
        if (i == except) continue;
        const double d = DistanceM(i, lat, lon);
        if (d <= radius_m) found.emplace_back(d, i);
    }
    std::sort(found.begin(), found.end());
    std::vector<size_t> out;
    for (const auto& f : found) out.push_back(f.second);
    return out;
}

std::vector<size_t> ZoneMap::Neighbours(size_t zone, double radius_m) const {
    // Two polygons that do not overlap are nearest at a vertex of one of them.
    std::vector<size_t> out;
    for (size_t i = 0; i < zones_.size(); ++i) {
        if (i == zone) continue;
        bool near = false;
        for (const auto& [lon, lat] : zones_[zone].polygon) near = near || DistanceM(i, lat, lon) <= radius_m;
        for (const auto& [lon, lat] : zones_[i].polygon) near = near || DistanceM(zone, lat, lon) <= radius_m;
        if (near) out.push_back(i);
    }
    return out;
}

std::optional<size_t> ZoneMap::Find(std::string_view id) const {
    for (size_t i = 0; i < zones_.size(); ++i) {
        if (zones_[i].id == id) return i;
    }
    return std::nullopt;
}

std::string ZoneMap::ToJson() const {
    Json zones = Json::array();
    for (size_t i = 0; i < zones_.size(); ++i) {
        const Zone& z = zones_[i];
        Json poly = Json::array();
        for (const auto& [lon, lat] : z.polygon) poly.push_back({lon, lat});
        Json zone{{"id", z.id}, {"polygon", std::move(poly)}};
        Json units = Json::array();
        for (const ZoneUnit& u : units_) {
            if (u.zone == i) units.push_back({{"id", u.id}, {"lat", u.lat}, {"lon", u.lon}});
        }
        if (!units.empty()) zone["units"] = std::move(units);
        zones.push_back(std::move(zone));
    }
    Json out{{"stream", stream}, {"lease_ms", lease_ms}, {"ack_wait_ms", ack_wait_ms}, {"zones", std::move(zones)}};
    if (!units_.empty()) {
        out["unit_service_ms"] = unit_service_ms;
        out["unit_speed_mps"] = unit_speed_mps;
        out["lend_reserve"] = lend_reserve;
    }
    return out.dump(1);
}

}  // namespace citybrain::zones
