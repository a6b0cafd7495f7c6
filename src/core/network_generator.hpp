// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "core/road_network.hpp"

namespace citybrain::core {

/// A synthetic district: a rows x cols grid of signalised intersections, boundary (virtual) nodes on the edges,
/// two-way roads, and the CityFlow phase layout (phase 0 = right turns only, the clearance phase; phases 1-4 =
/// E-W through, N-S through, E-W left, N-S left). Every `arterial_every`-th row (0 = none) is an arterial with
/// more lanes and a higher speed limit.
struct GridSpec {
    int32_t rows = 4;
    int32_t cols = 4;
    double block_m = 300;       // distance between neighbouring intersections
    double box_m = 15;          // intersection box half-width (CityFlow "width")
    int32_t lanes = 3;          // per direction on ordinary streets: left / through... / right
    double speed_mps = 11.111;  // 40 km/h
    int32_t arterial_every = 0;
    int32_t arterial_lanes = 4;
    double arterial_speed_mps = 16.667;  // 60 km/h
    double green_s = 30;                 // plan duration of phases 1-4
    double clearance_s = 5;              // plan duration of phase 0
    /// Checks the spec; errors name the field.
    Status Validate() const;
};

/// Generates and finalises the grid. Ids follow CityFlow's generator: intersection_<col>_<row>,
/// road_<col>_<row>_<dir> with dir 0 east, 1 north, 2 west, 3 south.
Result<RoadNetwork> GenerateGrid(const GridSpec& spec);

}  // namespace citybrain::core
