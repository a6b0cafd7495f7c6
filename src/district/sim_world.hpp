// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "district/default_district.hpp"
#include "district/scenario.hpp"
#include "district/world.hpp"
#include "traffic/run.hpp"

namespace citybrain::district {

/// Looks at the flood cameras' views at `t_ms` (the brain's clock) and appends the reports that came of it.
using FloodCameras =
    std::function<void(incident::TimeMs t_ms, const std::vector<FloodView>& views, std::vector<incident::Report>& out)>;

struct SimWorldOptions {
    uint64_t seed = 1;
    incident::TimeMs duration_ms = 3'600'000;
    /// The brain's clock at simulated second 0: reports are stamped with it.
    incident::TimeMs epoch_ms = 0;
    std::string adaptive = "auto";  // the signal controller inside the traffic simulation
    int threads = 1;
    /// When set, the cameras at low points are looked at through the vision pipeline every
    /// `flood_camera_every_ms`: it gets their views at the brain's time and appends the reports it made (the
    /// scenario's synthetic flood detections are off). Vendors stay synthetic.
    FloodCameras flood_cameras;
    incident::TimeMs flood_camera_every_ms = 30'000;
};

/// The simulated district behind the World interface, in process and deterministic for a seed: the traffic
/// simulator (with its signal controller), the scenario (vendors, rain, citizens' messages) sensed through the
/// district's cameras and sensors, and units that drive the brain's routes at the routes' times. It advances one
/// simulated second per brain step (Settle).
class SimWorld final : public World {
public:
    static Result<std::unique_ptr<SimWorld>> Create(const District& district, const SimWorldOptions& options);

    void Sense(incident::TimeMs now, std::vector<incident::Report>& out) override;
    void Send(size_t unit, const Order& order, incident::TimeMs now) override;
    void CallOff(size_t unit, incident::TimeMs now) override;
    void Poll(incident::TimeMs now, std::vector<UnitEvent>& out) override;
    dispatch::NodeId UnitNode(size_t unit, incident::TimeMs now) const override;
    core::Point UnitPosition(size_t unit, incident::TimeMs now) const override;
    bool Available(size_t /*unit*/) const override { return true; }
    std::optional<bool> StillThere(const std::string& category, core::Point at, incident::TimeMs now) override;
    bool RoadSpeeds(std::vector<double>& speeds) override;
    Status Settle(incident::TimeMs now) override;
    void Draw(nlohmann::json& frame, incident::TimeMs now) const override;
    void Measure(nlohmann::json& results) const override;
    std::optional<TrafficSample> Sample() const override;
    int64_t Vehicles() const override;
    const std::string* Truth(std::string_view external_id) const override;

    const traffic::Simulator& traffic() const { return traffic_->sim(); }

private:
    enum class Mode : uint8_t { kIdle, kEnRoute, kOnSite };
    struct Unit {
        dispatch::NodeId node = 0;
        Mode mode = Mode::kIdle;
        Order order;
        incident::TimeMs depart_ms = 0;
        int32_t handle = -1;
    };
    SimWorld(const District& district, const SimWorldOptions& options);
    double Seconds(incident::TimeMs now) const { return static_cast<double>(now - options_.epoch_ms) / 1000; }

    const District& district_;
    SimWorldOptions options_;
    std::unique_ptr<traffic::SignalledSim> traffic_;
    Scenario scenario_;
    std::vector<Unit> units_;
    std::vector<double> road_speed_;  // as last measured (NaN: empty road)
    incident::TimeMs next_flood_look_ms_ = 0;
};

}  // namespace citybrain::district
