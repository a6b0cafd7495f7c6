// SPDX-License-Identifier: Apache-2.0
#include "district/default_district.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "core/file.hpp"
#include "core/utf8.hpp"

namespace citybrain::district {

namespace {

// Street names in the style of Longgang's (east–west by row, north–south by column); a grid larger than the
// lists gets numbered names.
constexpr std::array<const char*, 10> kEastWest = {
    "龙翔大道", "龙城大道", "吉祥路", "龙岗大道", "清林路", "黄阁路", "盛平路", "如意路", "龙飞大道", "白灰围路"};
constexpr std::array<const char*, 10> kNorthSouth = {
    "爱联路", "紫薇路", "龙福路", "中心路", "五和大道", "将军路", "和兴路", "怡心路", "碧新路", "回龙路"};

std::string StreetName(const auto& names, int index, const char* suffix) {
    if (index >= 0 && static_cast<size_t>(index) < names.size()) return names[static_cast<size_t>(index)];
    return "第" + std::to_string(index) + suffix;
}

/// Names the generated grid's roads: road_<col>_<row>_<dir>, dir 0/2 run east–west (the row's street), 1/3
/// north–south (the column's).
void NameStreets(core::RoadNetwork& net) {
    for (auto& road : net.roads) {
        int c = 0, r = 0, dir = 0;
        if (std::sscanf(road.id.c_str(), "road_%d_%d_%d", &c, &r, &dir) != 3) continue;
        road.name = dir % 2 == 0 ? StreetName(kEastWest, r, "横路") : StreetName(kNorthSouth, c, "纵路");
    }
}

// Places people name instead of a street: each stands at a corner of a drawn intersection.
constexpr std::array<const char*, 8> kLandmarks = {
    "龙城小学", "吉祥农贸市场", "龙岗中心医院", "清林公园", "万科广场", "龙城街道办", "爱联地铁站", "紫薇幼儿园"};

double Uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

Status EquipDistrict(District& d, uint64_t seed, bool longgang_landmarks) {
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + 17);
    std::vector<int32_t> inner;
    for (size_t n = 0; n < d.net.intersections.size(); ++n) {
        const auto& in = d.net.intersections[n];
        if (!in.is_virtual && !in.phases.empty()) inner.push_back(static_cast<int32_t>(n));
    }
    if (inner.size() < 2)
        return InvalidArgument("roadnet", "needs at least two signalised intersections for a district");
    d.cameras.clear();
    for (int32_t n : inner) d.cameras.push_back({n, d.net.intersections[static_cast<size_t>(n)].point});

    // Low points and depots: distinct intersections drawn by the seed (a partial Fisher–Yates shuffle).
    std::vector<int32_t> pool = inner;
    const auto draw = [&]() {
        const size_t k = static_cast<size_t>(Uniform(rng) * static_cast<double>(pool.size())) % pool.size();
        std::swap(pool[k], pool.back());
        const int32_t n = pool.back();
        pool.pop_back();
        return n;
    };
    const ScenarioSpec& s = d.scenario;
    const int wanted = s.low_points + s.depots;
    if (wanted > static_cast<int>(inner.size())) {
        return InvalidArgument("roadnet",
                               "has " + std::to_string(inner.size()) + " signalised intersections; " +
                                   std::to_string(wanted) + " are needed for low points and depots");
    }
    d.low_points.clear();
    for (int i = 0; i < s.low_points; ++i) {
        const int32_t n = draw();
        d.low_points.push_back({n, d.net.intersections[static_cast<size_t>(n)].point, 0.8 + 1.2 * Uniform(rng)});
    }
    std::vector<int32_t> depots;
    for (int i = 0; i < s.depots; ++i) depots.push_back(draw());
    d.landmarks.clear();
    for (const char* name : kLandmarks) {
        if (!longgang_landmarks) break;
        const auto n = static_cast<size_t>(
            inner[static_cast<size_t>(Uniform(rng) * static_cast<double>(inner.size())) % inner.size()]);
        const core::Point p = d.net.intersections[n].point;
        const double dx = Uniform(rng) < 0.5 ? -30 : 30, dy = Uniform(rng) < 0.5 ? -30 : 30;
        d.landmarks.push_back({name, {p.x + dx, p.y + dy}});
    }
    d.units.clear();
    const auto add = [&](dispatch::UnitKind kind, int count, const char* prefix) {
        for (int i = 0; i < count; ++i) {
            d.units.push_back(
                {std::string(prefix) + std::to_string(i + 1), kind, depots[static_cast<size_t>(i) % depots.size()]});
        }
    };
    add(dispatch::UnitKind::kRobotDog, s.robot_dogs, "dog-");
    add(dispatch::UnitKind::kSanitationRobot, s.sanitation_robots, "sweeper-");
    add(dispatch::UnitKind::kCrew, s.crews, "crew-");
    return {};
}

Status LoadLandmarks(const std::string& path, District& d) {
    CB_TRY_ASSIGN(std::string text, core::ReadFile(path));
    const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded()) return InvalidArgument(path, "not valid JSON");
    const auto list = doc.find("landmarks");
    if (!doc.is_object() || list == doc.end() || !list->is_array()) {
        return InvalidArgument(path, "landmarks: required, an array of {name, x, y} or {name, lat, long}");
    }
    double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
    for (const auto& in : d.net.intersections) {
        x0 = std::min(x0, in.point.x);
        y0 = std::min(y0, in.point.y);
        x1 = std::max(x1, in.point.x);
        y1 = std::max(y1, in.point.y);
    }
    constexpr double kMarginM = 2000;
    std::vector<Landmark> out;
    for (size_t i = 0; i < list->size(); ++i) {
        const nlohmann::json& e = (*list)[i];
        const std::string where = path + ": landmarks[" + std::to_string(i) + "]";
        if (!e.is_object()) return InvalidArgument(where, "must be an object");
        const auto number = [&](const char* key) -> std::optional<double> {
            auto it = e.find(key);
            if (it == e.end() || !it->is_number() || !std::isfinite(it->get<double>())) return std::nullopt;
            return it->get<double>();
        };
        auto name = e.find("name");
        if (name == e.end() || !name->is_string() || name->get<std::string>().empty()) {
            return InvalidArgument(where + ".name", "required, a non-empty string");
        }
        Landmark l;
        l.name = name->get<std::string>();
        if (!core::ValidUtf8(l.name) || l.name.size() > 200) {
            return InvalidArgument(where + ".name", "must be UTF-8 text of at most 200 bytes");
        }
        if (auto x = number("x"), y = number("y"); x && y) {
            l.at = {*x, *y};
        } else if (auto lat = number("lat"), lon = number("long"); lat && lon) {
            if (*lat < -90 || *lat > 90 || *lon < -180 || *lon > 180) {
                return InvalidArgument(where, "lat/long out of range");
            }
            l.at = d.frame.ToLocal(*lat, *lon);
        } else {
            return InvalidArgument(where, "needs numbers x and y (network metres) or lat and long (WGS84)");
        }
        if (l.at.x < x0 - kMarginM || l.at.x > x1 + kMarginM || l.at.y < y0 - kMarginM || l.at.y > y1 + kMarginM) {
            return InvalidArgument(where,
                                   "'" + l.name +
                                       "' lies more than 2 km outside the network: are its coordinates in "
                                       "the network's own system?");
        }
        out.push_back(std::move(l));
    }
    d.landmarks = std::move(out);
    return {};
}

Status SizeFleet(DistrictSpec& spec, int units) {
    if (units < 1 || units > 100000) return InvalidArgument("--units", "must be 1 to 100000");
    spec.scenario.sanitation_robots = units * 2 / 7;
    spec.scenario.crews = units * 2 / 7;
    spec.scenario.robot_dogs = units - spec.scenario.sanitation_robots - spec.scenario.crews;
    spec.scenario.depots = std::clamp(units / 50, 2, 8);
    return {};
}

Result<District> MakeDistrict(const DistrictSpec& spec, uint64_t seed) {
    District d;
    CB_TRY_ASSIGN(d.net, core::GenerateGrid(spec.grid));
    NameStreets(d.net);
    traffic::DemandSpec demand = spec.demand;
    demand.seed = seed;
    CB_TRY_ASSIGN(d.demand, traffic::GenerateDemand(d.net, demand));
    d.scenario = spec.scenario;
    CB_TRY(EquipDistrict(d, seed, true));
    return d;
}

}  // namespace citybrain::district
