// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "dispatch/road_graph.hpp"
#include "district/default_district.hpp"
#include "district/world.hpp"
#include "incident/engine.hpp"
#include "nlp/gazetteer.hpp"
#include "traffic/run.hpp"

namespace citybrain::district {

struct BrainOptions {
    uint64_t seed = 1;
    double sim_hours = 1;
    std::string adaptive = "maxpressure";
    int threads = 1;
    /// The case store (SQLite); it is replaced at the start of a run.
    std::string db_path = "citybrain-run.db";
    /// Wall-clock time of simulated second 0 (2026-06-15 07:00 Beijing time): cases carry real dates and replies
    /// real deadlines.
    incident::TimeMs epoch_ms = 1781478000000;
    double dispatch_interval_s = 10;
    double speed_update_s = 60;   // live road speeds into the drivers' routing graph
    double camera_verify_s = 60;  // after a unit reports done, a camera looks again
    double inspector_verify_s = 300;
    double operator_review_s = 300;  // a case in the human queue waits this long for an operator
};

/// The street gazetteer of a routing graph's names: points every 20 m along each named road, junctions where two
/// names share a node or come within 25 m.
nlp::Gazetteer GazetteerOf(const dispatch::RoadGraph& graph);

/// The district brain: the loop that senses (the World's reports), decides (incident engine, dispatch) and acts
/// (units on their way, spoken notices, replies, signal phases), one simulated second per Step. Deterministic: the
/// same district, options and seed give the same run, whatever the thread count or the pace.
class Brain {
public:
    static Result<std::unique_ptr<Brain>> Create(const District& district, const BrainOptions& options);
    ~Brain();

    /// One simulated second. An error is a broken invariant (the store failed), not a scenario event.
    Status Step();
    double Now() const { return now_s_; }
    double Duration() const { return duration_s_; }
    bool Finished() const { return now_s_ >= duration_s_; }
    int64_t Vehicles() const;
    size_t OpenCases() const;

    /// Static geometry for the dashboard (local metres): roads, intersections, cameras, low points, depots.
    std::string NetworkJson() const;
    /// The live state for the dashboard; `with_series` adds the per-minute history: [t, vehicles running, mean
    /// speed / limit, open cases, ATT so far].
    nlohmann::json Frame(bool with_series) const;
    /// The run's results (everything but the fixed-time baseline, which runs separately).
    nlohmann::json Results() const;

private:
    enum class UnitMode : uint8_t { kIdle, kEnRoute, kOnSite };
    struct Unit {
        std::string name;
        dispatch::UnitKind kind;
        dispatch::NodeId node = 0;  // where it is, or last was
        UnitMode mode = UnitMode::kIdle;
        std::vector<dispatch::NodeId> path;
        std::vector<double> at_s;  // when each node of the path is reached
        int32_t job = -1;          // index into cases_
        double busy_s = 0;
        double busy_since_s = 0;
    };
    struct Tracked {
        incident::CaseId id = 0;
        std::string category;
        std::string department;
        int priority = 3;
        bool has_point = false;
        core::Point at;
        dispatch::NodeId node = 0;
        incident::CaseStatus status = incident::CaseStatus::kReported;
        incident::Source source = incident::Source::kCitizen;
        double first_report_s = 0;
        double onsite_s = -1;
        double next_check_s = -1;  // operator review or verification
        int32_t unit = -1;
        int32_t handle = -1;
        int reports = 1;
        incident::TimeMs deadline_ms = 0;  // of the current step (0: none)
        bool missed = false;               // a step ended after its deadline
        std::string reply;
        std::string notice;
    };

    Brain(const District& district, const BrainOptions& options);
    incident::TimeMs ClockMs(double t_s) const {
        return options_.epoch_ms + static_cast<incident::TimeMs>(t_s * 1000 + 0.5);
    }
    Status Transition(Tracked& c, incident::Action action, const std::string& actor, const std::string& note);
    Status Intake(double t);
    Status Review(double t);
    Status DispatchUnits(double t);
    Status MoveUnits(double t);
    void UpdateSpeeds();
    core::Point UnitPosition(const Unit& u, double t) const;
    dispatch::NodeId NearestNode(core::Point p) const;
    const dispatch::RoadGraph& GraphOf(dispatch::UnitKind kind) const;
    double PaceOf(dispatch::UnitKind kind) const;
    void RecordSeries();

    const District& district_;
    BrainOptions options_;
    double duration_s_;
    double now_s_ = 0;
    std::unique_ptr<traffic::SignalledSim> traffic_;
    std::unique_ptr<incident::IncidentEngine> engine_;
    World world_;
    dispatch::RoadGraph drive_;  // live car times: crews
    dispatch::RoadGraph walk_;   // pavements at 1 m/s: robots scale it by their pace
    nlp::Gazetteer gazetteer_;
    std::vector<Unit> units_;
    std::vector<Tracked> cases_;
    std::unordered_map<incident::CaseId, size_t> case_index_;
    std::vector<incident::Report> reports_;  // reused every step
    std::vector<double> road_speed_;         // mean speed per road, m/s (NaN: empty)

    // Measures.
    int64_t duplicates_merged_ = 0;
    int64_t intake_errors_ = 0;
    int64_t classified_ = 0;
    int64_t classified_right_ = 0;
    int64_t messages_ = 0;
    int64_t messages_located_ = 0;
    int64_t human_queue_ = 0;
    int64_t notices_ = 0;
    std::vector<double> response_s_;
    struct Point {
        double t, vehicles, speed_ratio, open_cases, att_s;
    };
    std::vector<Point> series_;
};

}  // namespace citybrain::district
