// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.hpp"
#include "district/default_district.hpp"
#include "district/sim_world.hpp"

namespace citybrain::vision {
class CameraSet;
}

namespace citybrain::apps {

/// `citybrain run --vision`: the simulated district's cameras at low points seen through the real vision pipeline.
/// Each camera's view is a stock street (the first frame of opencv-doc's vtest.avi, a paved square) with the
/// simulation's water rendered over its road area (vision::StandingWater: the water's share of the area follows the
/// level, reaching the rule's 40 % at the scenario's camera_flood_cm) and a live sensor's noise; the frames go
/// through the motion gate, the detector, the tracker, the camera's health watch and the waterlogging rule against
/// the dry first frame. Vendors stay synthetic: no stock picture shows a stall.
class FloodCameraPipeline {
public:
    /// Snapshots of the events (the frame with the wet area boxed) go to `snapshot_dir` (empty: none).
    static Result<std::unique_ptr<FloodCameraPipeline>> Open(const district::District& district,
                                                             const std::string& detector_model,
                                                             const std::string& snapshot_dir);
    ~FloodCameraPipeline();
    /// The hook for SimWorldOptions::flood_cameras.
    district::FloodCameras Hook();
    /// Cameras, frames analysed, events, and the camera registry's status.
    nlohmann::json Status() const;
    /// The cameras, for the server's registry and snapshots.
    vision::CameraSet* set();

private:
    FloodCameraPipeline() = default;
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace citybrain::apps
