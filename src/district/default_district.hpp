// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

#include "core/demand.hpp"
#include "core/geometry.hpp"
#include "core/network_generator.hpp"
#include "dispatch/assignment.hpp"
#include "traffic/demand_generator.hpp"
#include "traffic/run.hpp"

namespace citybrain::district {

/// A camera at an intersection: it sees street vendors and standing water within `range_m`.
struct Camera {
    int32_t node = 0;
    core::Point at;
};

/// A low point where rain collects, with a water-level sensor. Levels rise at `rise_cm_per_min` while it rains.
struct LowPoint {
    int32_t node = 0;
    core::Point at;
    double rise_cm_per_min = 1;
};

/// A named place citizens refer to (a school, a market, a hospital).
struct Landmark {
    std::string name;
    core::Point at;
};

/// A unit and the depot (intersection) it starts from.
struct UnitSpec {
    std::string name;
    dispatch::UnitKind kind = dispatch::UnitKind::kCrew;
    int32_t depot = 0;
};

/// What happens in the district besides traffic (the scenario script).
struct ScenarioSpec {
    double vendors_per_hour = 10;
    /// A camera reports a cart only after it has stayed this long (parked carts pass through; vendors stay).
    double vendor_dwell_s = 180;
    double camera_range_m = 170;
    int low_points = 3;
    /// The rain episode, as fractions of the run: it starts and stops at these points.
    double rain_from = 0.25;
    double rain_to = 0.55;
    double sensor_alarm_cm = 15;  // a sensor reports above this level
    double camera_flood_cm = 25;  // cameras see standing water above this
    double messages_per_hour = 24;
    int robot_dogs = 6;
    int sanitation_robots = 4;
    int crews = 4;
    int depots = 2;
};

/// The embedded default World: a generated district (no files needed). A grid of signalised intersections with
/// Chinese street names and arterials, a morning-peak demand, cameras at every intersection, water-level sensors at
/// low points, and depots with robot dogs, sanitation robots and crews.
struct District {
    core::RoadNetwork net;
    core::Demand demand;
    traffic::SignalRules signal_rules;  // the network format's signal timing (CBEngine's differs)
    /// The network's metres ↔ WGS84 (cases are filed with coordinates).
    core::LocalFrame frame{22.7208, 114.2466};
    ScenarioSpec scenario;
    std::vector<Camera> cameras;
    std::vector<LowPoint> low_points;
    std::vector<UnitSpec> units;
    std::vector<Landmark> landmarks;
};

struct DistrictSpec {
    core::GridSpec grid = DefaultGrid();
    traffic::DemandSpec demand = DefaultDemand();
    ScenarioSpec scenario;

    static core::GridSpec DefaultGrid() {
        core::GridSpec g;
        g.rows = 6;
        g.cols = 6;
        g.block_m = 250;
        g.arterial_every = 3;
        return g;
    }
    static traffic::DemandSpec DefaultDemand() {
        traffic::DemandSpec d;
        d.vehicles_per_hour = 3000;
        return d;
    }
};

/// Sets the scenario's fleet to `units` units in the default mix (3 robot dogs : 2 sanitation robots : 2 crews) and
/// one depot per 50 units (at most 8): how `serve --district default --units N` and `fleet-sim --units N` agree on
/// the same fleet.
Status SizeFleet(DistrictSpec& spec, int units);

/// The generated district; same seed, same district.
Result<District> MakeDistrict(const DistrictSpec& spec, uint64_t seed);

/// Places the scenario's sensors and units on a network loaded from files (`--roadnet`): cameras at signalised
/// intersections, low points and depots chosen by the seed. The network keeps its own street names, if any.
/// `longgang_landmarks` places the generated Longgang district's landmarks (schools, markets, a hospital) near
/// its junctions; another city's map gets none, so that no Longgang name is drawn on it.
Status EquipDistrict(District& district, uint64_t seed, bool longgang_landmarks = false);

/// Replaces the district's landmarks with those of a landmarks file, so that a loaded map has its own schools,
/// markets and stations (citizens' messages name them; the console draws them). The file is JSON:
///
///     {"landmarks": [{"name": "福田口岸", "x": 812.5, "y": -140}, {"name": "会展中心", "lat": 22.53, "long": 114.06}]}
///
/// with the network's own metres (x, y) or WGS84 (lat, long, through the district's frame). Errors name the file
/// and the entry: `marks.json: landmarks[2].name: required`. A landmark more than 2 km outside the network is
/// refused (its coordinates are in another system).
Status LoadLandmarks(const std::string& path, District& district);

}  // namespace citybrain::district
