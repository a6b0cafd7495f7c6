// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>

namespace citybrain::traffic {

/// Every figure the traffic engine reports, defined in one place.
struct Metrics {
    /// CityFlow-compatible average travel time: finished vehicles' travel times plus, for vehicles still in the
    /// network (running or waiting to enter), their time so far; divided by all vehicles generated.
    double att_s = 0;
    /// Paper-style average travel time: finished vehicles only.
    double att_finished_s = 0;
    /// Vehicles that reached the end of their route.
    int64_t throughput = 0;
    int64_t spawned = 0;
    /// Vehicles still in the network at the end, including those waiting to enter.
    int64_t in_network_end = 0;
    int64_t waiting_to_enter = 0;
    /// Mean over finished vehicles of travel time minus free-flow time (route length at min(vehicle, lane) speed).
    double avg_delay_s = 0;
    /// Mean over steps of vehicles with speed < 0.1 m/s per approach lane (lanes into signalised intersections).
    double avg_queue_veh = 0;
    /// Sum over steps of vehicles moved (running vehicles per step).
    int64_t vehicle_updates = 0;
    int64_t steps = 0;
    double sim_time_s = 0;
    /// Vehicles that ended up on a lane with no way to their next road and left the network there.
    int64_t unroutable = 0;
};

}  // namespace citybrain::traffic
