// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace citybrain::zones {

/// One zone: an id (a NATS subject token) and the polygon it covers, as [lon, lat] vertices (GeoJSON's order).
struct Zone {
    std::string id;
    std::vector<std::pair<double, double>> polygon;  // lon, lat; closed implicitly
};

/// A field unit (a crew, a robot) of a zone: based at (lat, lon), dispatched by its zone's holder and lent to a
/// neighbouring zone that has none free.
struct ZoneUnit {
    std::string id;  // a subject token, unique in the city
    size_t zone = 0;
    double lat = 0, lon = 0;
};

/// The city cut into zones, and the settings every node of it shares. Read from a JSON file:
///
///     {"stream": "CITY", "lease_ms": 3000, "ack_wait_ms": 10000, "unit_service_ms": 1800000, "unit_speed_mps": 8,
///      "lend_reserve": 1, "zones": [{"id": "north", "polygon": [[114.24, 22.72], [114.26, 22.72], [114.26, 22.74]],
///                 "units": [{"id": "north-1", "lat": 22.73, "lon": 114.25}]}, …]}
///
/// A point lies in the first zone whose polygon holds it; a point in none is refused (its report belongs to no
/// node). Zones are checked when read: ids unique tokens, polygons of ≥ 3 vertices with coordinates in range.
class ZoneMap {
public:
    static Result<ZoneMap> Parse(std::string_view json, std::string_view file);
    static Result<ZoneMap> Load(const std::string& path);
    /// `count` zones over the points (lat, lon) by recursive coordinate bisection: each cut halves the points of
    /// the wider side, so zones hold equal shares of the points (a district's intersections: a partition of its
    /// road network by place). The zones are rectangles that tile the points' box grown by `margin_deg`.
    static Result<ZoneMap> Bisect(const std::vector<std::pair<double, double>>& points, int count, double margin_deg);

    /// The index of the zone holding (lat, lon), or nullopt.
    std::optional<size_t> Locate(double lat, double lon) const;
    const std::vector<Zone>& zones() const { return zones_; }
    const std::vector<ZoneUnit>& units() const { return units_; }
    /// Adds a unit based at (lat, lon) to zone `zone`; its id must be a token no other unit has.
    Status AddUnit(const std::string& id, size_t zone, double lat, double lon);
    std::optional<size_t> Find(std::string_view id) const;
    std::string ToJson() const;

    /// Metres from (lat, lon) to zone `zone` (0 inside it); a local flat-earth approximation, good to a fraction
    /// of a percent over a city.
    double DistanceM(size_t zone, double lat, double lon) const;
    /// The zones other than `except` within `radius_m` of (lat, lon), nearest first: where a report near a
    /// border may have its duplicates.
    std::vector<size_t> Near(double lat, double lon, double radius_m, size_t except) const;
    /// The zones within `radius_m` of zone `zone`'s polygon (not itself): where its border reports may have gone.
    std::vector<size_t> Neighbours(size_t zone, double radius_m) const;

    std::string stream = "CITY";  // the zones' streams are CITY_<zone>
    /// A node holds a zone for this long after its last renewal; a dead node's zones move after it.
    int64_t lease_ms = 3000;
    /// A message delivered but not acknowledged is delivered again after this long.
    int64_t ack_wait_ms = 10'000;
    /// How long a unit is taken by a case: its travel there (straight line at unit_speed_mps) and this much on site.
    int64_t unit_service_ms = int64_t{30} * 60'000;
    /// A zone lends a unit only while it keeps this many free for its own cases.
    int lend_reserve = 1;
    double unit_speed_mps = 8.0;  // ≈ 30 km/h through a city's streets

    /// The subjects of a zone, and its own stream: one stream per zone, so that a zone's consumer reads its own
    /// messages only (on one stream for the city, NATS 2.9's filtered consumers spent the server's CPU skipping
    /// the other zones' messages: a node fell from 20k to 2k reports/s), and so that a cluster can place zones'
    /// streams on different servers.
    static std::string ReportsSubject(std::string_view zone) { return "city." + std::string(zone) + ".reports"; }
    /// A report handed over from a neighbouring zone (it is a duplicate of a case here): read with the reports.
    static std::string HandoffSubject(std::string_view zone) { return "city." + std::string(zone) + ".handoff"; }
    /// A unit's work order, in its home zone (whoever dispatched it: a unit lent out gets its order at home).
    static std::string OrdersSubject(std::string_view zone) { return "city." + std::string(zone) + ".orders"; }
    static std::string SubjectsOf(std::string_view zone) { return "city." + std::string(zone) + ".>"; }
    std::string StreamOf(std::string_view zone) const { return stream + "_" + std::string(zone); }

private:
    std::vector<Zone> zones_;
    std::vector<ZoneUnit> units_;
};

}  // namespace citybrain::zones
