// SPDX-License-Identifier: Apache-2.0
// OpenStreetMap input through libosmium: the car network of a PBF (or OSM XML) extract as a routing graph.
#include <charconv>
#include <cmath>
#include <cstring>
#include <osmium/handler.hpp>
#include <osmium/handler/node_locations_for_ways.hpp>
#include <osmium/index/map/flex_mem.hpp>
#include <osmium/io/any_input.hpp>
#include <osmium/osm/way.hpp>
#include <osmium/visitor.hpp>
#include <unordered_map>

#include "core/geometry.hpp"
#include "dispatch/road_graph.hpp"

namespace citybrain::dispatch {

namespace {

/// Speeds (km/h) where a way has no usable maxspeed, by highway class; classes not listed are not for cars.
double DefaultSpeedKmh(const char* highway) {
    static const std::unordered_map<std::string, double> kSpeeds = {
        {"motorway", 90},
        {"motorway_link", 45},
        {"trunk", 70},
        {"trunk_link", 40},
        {"primary", 60},
        {"primary_link", 35},
        {"secondary", 50},
        {"secondary_link", 30},
        {"tertiary", 40},
        {"tertiary_link", 25},
        {"unclassified", 30},
        {"residential", 25},
        {"living_street", 10},
        {"service", 15},
        {"road", 25},
    };
    const auto it = kSpeeds.find(highway);
    return it == kSpeeds.end() ? 0 : it->second;
}

/// "50", "50 km/h", "30 mph"; 0 for anything else ("signals", "none", "RU:urban").
double ParseMaxspeedKmh(const char* value) {
    if (value == nullptr) return 0;
    double v = 0;
    const char* end = value + std::strlen(value);
    const auto [ptr, ec] = std::from_chars(value, end, v);
    if (ec != std::errc() || !(v > 0 && v < 300)) return 0;
    std::string_view rest(ptr, static_cast<size_t>(end - ptr));
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty() || rest == "km/h" || rest == "kmh") return v;
    if (rest == "mph") return v * 1.609344;
    return 0;
}

double MetresBetween(const osmium::Location& a, const osmium::Location& b) {
    constexpr double kEarth = 6371008.8, kRad = M_PI / 180.0;
    const double la1 = a.lat() * kRad, la2 = b.lat() * kRad;
    const double dla = la2 - la1, dlo = (b.lon() - a.lon()) * kRad;
    const double h =
        std::sin(dla / 2) * std::sin(dla / 2) + std::cos(la1) * std::cos(la2) * std::sin(dlo / 2) * std::sin(dlo / 2);
    return 2 * kEarth * std::asin(std::min(1.0, std::sqrt(h)));
}

struct CarWay {
    std::vector<osmium::object_id_type> refs;
    std::vector<osmium::Location> locations;
    double speed_mps = 0;
    int direction = 0;  // 0 both ways, 1 forward only, -1 backward only
    int64_t id = 0;
    std::string name;
};

class WayCollector : public osmium::handler::Handler {
public:
    std::vector<CarWay> ways;
    size_t skipped_no_location = 0;

    void way(const osmium::Way& way) {
        const char* highway = way.tags()["highway"];
        if (highway == nullptr) return;
        const double default_kmh = DefaultSpeedKmh(highway);
        if (default_kmh <= 0) return;
        const char* access = way.tags()["access"];
        if (access != nullptr && (std::strcmp(access, "no") == 0 || std::strcmp(access, "private") == 0)) return;
        const char* motor = way.tags()["motor_vehicle"];
        if (motor != nullptr && std::strcmp(motor, "no") == 0) return;
        CarWay w;
        w.id = way.id();
        if (const char* name = way.tags()["name"]) w.name = name;
        const double kmh = ParseMaxspeedKmh(way.tags()["maxspeed"]);
        w.speed_mps = (kmh > 0 ? kmh : default_kmh) / 3.6;
        const char* oneway = way.tags()["oneway"];
        const char* junction = way.tags()["junction"];
        const bool tagged_oneway =
            oneway != nullptr &&
            (std::strcmp(oneway, "yes") == 0 || std::strcmp(oneway, "1") == 0 || std::strcmp(oneway, "true") == 0);
        // Without a oneway tag, roundabouts and motorways are one-way by OSM's convention.
        const bool implied_oneway =
            oneway == nullptr && ((junction != nullptr && std::strcmp(junction, "roundabout") == 0) ||
                                  std::strcmp(highway, "motorway") == 0);
        if (tagged_oneway || implied_oneway) {
            w.direction = 1;
        } else if (oneway != nullptr && std::strcmp(oneway, "-1") == 0) {
            w.direction = -1;
        }
        for (const auto& nr : way.nodes()) {
            if (!nr.location().valid()) {
                // Cut off at the extract's border: the way stops short here.
                ++skipped_no_location;
                continue;
            }
            w.refs.push_back(nr.ref());
            w.locations.push_back(nr.location());
        }
        if (w.refs.size() >= 2) ways.push_back(std::move(w));
    }
};

}  // namespace

Result<RoadGraph> LoadOsm(const std::string& path) {
    WayCollector collector;
    try {
        const osmium::io::File file(path);
        osmium::io::Reader reader(file, osmium::osm_entity_bits::node | osmium::osm_entity_bits::way);
        using Index = osmium::index::map::FlexMem<osmium::unsigned_object_id_type, osmium::Location>;
        Index index;
        osmium::handler::NodeLocationsForWays<Index> locations(index);
        locations.ignore_errors();  // nodes outside the extract: handled per way above
        osmium::apply(reader, locations, collector);
        reader.close();
    } catch (const std::exception& e) {
        return InvalidArgument(path, std::string("not a readable OSM file: ") + e.what());
    }
    if (collector.ways.empty()) return InvalidArgument(path, "has no ways for cars (highway=*)");

    // Graph nodes are the ends of ways and the nodes shared by several ways (intersections); the shape points in
    // between only add to an edge's length.
    std::unordered_map<osmium::object_id_type, uint32_t> uses;
    for (const auto& w : collector.ways) {
        for (const auto ref : w.refs) ++uses[ref];
    }
    std::unordered_map<osmium::object_id_type, NodeId> node_of;
    std::vector<std::string> names;
    std::vector<core::Point> xy;
    const osmium::Location origin = collector.ways.front().locations.front();
    const core::LocalFrame frame(origin.lat(), origin.lon());
    const auto node = [&](osmium::object_id_type ref, const osmium::Location& loc) {
        const auto [it, fresh] = node_of.emplace(ref, static_cast<NodeId>(names.size()));
        if (fresh) {
            names.push_back(std::to_string(ref));
            xy.push_back(frame.ToLocal(loc.lat(), loc.lon()));
        }
        return it->second;
    };
    std::vector<RoadGraph::EdgeSpec> edges;
    std::vector<std::string> road_names;
    int32_t road = 0;
    for (const auto& w : collector.ways) {
        road_names.push_back(w.name);
        size_t start = 0;
        double length = 0;
        for (size_t k = 1; k < w.refs.size(); ++k) {
            length += MetresBetween(w.locations[k - 1], w.locations[k]);
            const bool split = k + 1 == w.refs.size() || uses[w.refs[k]] > 1;
            if (!split) continue;
            if (w.refs[k] != w.refs[start] && length > 0) {
                const NodeId a = node(w.refs[start], w.locations[start]);
                const NodeId b = node(w.refs[k], w.locations[k]);
                if (w.direction >= 0) edges.push_back({a, b, length, w.speed_mps, road});
                if (w.direction <= 0) edges.push_back({b, a, length, w.speed_mps, road});
            }
            start = k;
            length = 0;
        }
        ++road;
    }
    CB_TRY_ASSIGN(RoadGraph g, RoadGraph::Build(std::move(names), std::move(xy), std::move(edges), path));
    g.road_names = std::move(road_names);
    return g;
}

}  // namespace citybrain::dispatch
