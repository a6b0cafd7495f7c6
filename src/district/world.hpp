// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/geometry.hpp"
#include "dispatch/dispatcher.hpp"
#include "incident/model.hpp"

namespace citybrain::district {

/// An order to a unit: go to a case's place and handle it (and, for a robot, say the notice on arrival).
struct Order {
    incident::CaseId case_id = 0;
    std::string category;
    dispatch::NodeId target = 0;
    core::Point at;
    std::string notice;     // what a robot says on arrival; "" for a crew
    dispatch::Route route;  // the brain's plan: the simulated World drives it; a live unit may route itself
};

/// What a unit reports back about its order.
struct UnitEvent {
    enum class What : uint8_t {
        kArrived,  // on site: handling starts
        kDone,     // the work is finished (a second look verifies it)
        kDropped,  // the unit refused the order or was lost: the case goes back to be assigned again
    };
    What what = What::kArrived;
    size_t unit = 0;  // index in the district's unit list
    incident::CaseId case_id = 0;
};

/// What traffic looks like now, for the console's history: vehicles running, mean speed over the limit, ATT.
struct TrafficSample {
    double vehicles = 0;
    double speed_ratio = 1;
    double att_s = 0;
};

/// The World as the Brain sees it: reports and events in, orders out, unit state back, a second look for
/// verification, and road speeds for routing. The Brain's code does not know which World it is in: the simulated
/// district (`SimWorld`: in process, seeded) and the live city (`LiveWorld`: MQTT fleet and device topics; HTTP
/// reports enter through the server's API) implement the same interface. Units are the district's `units`, by
/// index, in both. Times are the brain's clock (wall-clock milliseconds).
class World {
public:
    virtual ~World() = default;

    /// Appends the reports and events that came in since the last call (cameras, sensors, citizens' messages that
    /// reach the World's own channels). Called at the start of each brain step.
    virtual void Sense(incident::TimeMs now, std::vector<incident::Report>& out) = 0;

    /// Sends unit `unit` on `order`. It is busy until it reports kDone or kDropped, or is called off.
    virtual void Send(size_t unit, const Order& order, incident::TimeMs now) = 0;
    /// Calls a unit off its order (the case left the flow): it stops where it is and stands by.
    virtual void CallOff(size_t unit, incident::TimeMs now) = 0;
    /// Appends what units reported since the last call.
    virtual void Poll(incident::TimeMs now, std::vector<UnitEvent>& out) = 0;
    /// Where a unit is for planning (the node it last passed), and where to draw it.
    virtual dispatch::NodeId UnitNode(size_t unit, incident::TimeMs now) const = 0;
    virtual core::Point UnitPosition(size_t unit, incident::TimeMs now) const = 0;
    /// False for a unit that cannot take orders now (lost, out of battery).
    virtual bool Available(size_t unit) const = 0;

    /// A second look at a place (a camera, an inspector): is a problem of `category` still there? nullopt when this
    /// World has no eyes there: a person verifies and closes the case through the API.
    virtual std::optional<bool> StillThere(const std::string& category, core::Point at, incident::TimeMs now) = 0;
    /// Mean speed per road (m/s, NaN where unknown) for the drivers' routing; false when the World measures none.
    virtual bool RoadSpeeds(std::vector<double>& speeds) = 0;

    /// The end of a brain step: the simulated World moves on one second; the live one sends what is due.
    virtual Status Settle(incident::TimeMs now) = 0;

    // For the console and the measures; a World without traffic adds nothing.
    virtual void Draw(nlohmann::json& /*frame*/, incident::TimeMs /*now*/) const {}
    virtual void Measure(nlohmann::json& /*results*/) const {}
    virtual std::optional<TrafficSample> Sample() const { return std::nullopt; }
    virtual int64_t Vehicles() const { return 0; }
    /// The category a report was really about, where the World knows it (the simulated one does): only for scoring
    /// intake, never read by a decision.
    virtual const std::string* Truth(std::string_view /*external_id*/) const { return nullptr; }
};

}  // namespace citybrain::district
