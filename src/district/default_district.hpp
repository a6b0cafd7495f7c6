// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "core/demand.hpp"
#include "core/network_generator.hpp"
#include "traffic/demand_generator.hpp"

namespace citybrain::district {

/// The embedded default World: a generated district (no files needed). For now its traffic part: a 6 x 6 grid
/// of signalised intersections with an arterial every third row, and a one-hour morning-peak demand.
/// Incidents, sensors and units join it as their engines land.
struct District {
    core::RoadNetwork net;
    core::Demand demand;
};

struct DistrictSpec {
    core::GridSpec grid = DefaultGrid();
    traffic::DemandSpec demand = DefaultDemand();

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

Result<District> MakeDistrict(const DistrictSpec& spec, uint64_t seed);

}  // namespace citybrain::district
