// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "core/demand.hpp"
#include "core/road_network.hpp"

namespace citybrain::traffic {

/// Origin-destination demand for a network with boundary (virtual) nodes: trips from entry roads to exit roads
/// along the fastest free-flow route, departing by a non-homogeneous Poisson process whose rate has a Gaussian
/// morning peak on top of a base level.
struct DemandSpec {
    double vehicles_per_hour = 1500;  // mean over the horizon
    double duration_s = 3600;
    double peak_at_s = 1800;
    double peak_width_s = 600;  // standard deviation of the peak
    double peak_ratio = 2.5;    // rate at the peak / base rate
    uint64_t seed = 1;
    core::VehicleParams vehicle;
    Status Validate() const;
};

/// One flow per vehicle (start = end = departure). InvalidArgument when the network has no entry/exit pair
/// that is connected.
Result<core::Demand> GenerateDemand(const core::RoadNetwork& net, const DemandSpec& spec);

}  // namespace citybrain::traffic
