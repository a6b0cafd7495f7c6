// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "dispatch/dispatcher.hpp"
#include "district/default_district.hpp"
#include "district/sim_world.hpp"
#include "district/world.hpp"
#include "incident/engine.hpp"
#include "nlp/gazetteer.hpp"
#include "nlp/message_model.hpp"

namespace citybrain::district {

/// Which rule routes a citizen's message first: the taxonomy's keywords (written for the district's own
/// categories), or the model (trained on a message board's domains).
enum class IntakeOrder : uint8_t { kKeywordsFirst, kModelFirst };

struct BrainOptions {
    uint64_t seed = 1;
    /// How long the brain runs; 0 (a live brain) runs until stopped.
    double sim_hours = 1;
    std::string adaptive = "auto";
    int threads = 1;
    /// The case store of a simulated run (SQLite); it is replaced at the start of the run.
    std::string db_path = "citybrain-run.db";
    /// Wall-clock time of simulated second 0 (2026-06-15 07:00 Beijing time): cases carry real dates and replies
    /// real deadlines.
    incident::TimeMs epoch_ms = 1781478000000;
    /// One step of the loop. The simulated World moves a second per step; a live brain may step more often, so that
    /// a report waits less for the next dispatch round.
    incident::TimeMs step_ms = 1000;
    incident::TimeMs dispatch_interval_ms = 10'000;
    incident::TimeMs speed_update_ms = 60'000;   // live road speeds into the drivers' routing
    incident::TimeMs camera_verify_ms = 60'000;  // after a unit reports done, a camera looks again
    incident::TimeMs inspector_verify_ms = 300'000;
    incident::TimeMs operator_review_ms = 300'000;  // a case in the human queue waits this long for an operator
    /// The routing table; nullptr for the embedded default. Must outlive the brain.
    const incident::Taxonomy* taxonomy = nullptr;
    /// The intake classifier (`--classifier`): a model of a message board's top-level domains, mapped to
    /// categories by the taxonomy's `domains` (UseClassifier). Null: the taxonomy's keywords route alone.
    std::shared_ptr<const nlp::MessageModel> classifier;
    double classifier_threshold = 0.6;
    IntakeOrder intake_order = IntakeOrder::kKeywordsFirst;
    /// The cameras at low points through the vision pipeline (`run --vision`); empty: synthetic detections.
    FloodCameras flood_cameras;
};

/// The categories a trained model routes a citizen's raw text to, best first (issue 16): each of the model's top
/// `k` domains as the category the taxonomy gives it (RouteInDomain: a member whose keywords the text names, else
/// the domain's own). Empty when the best confidence is below `threshold`.
std::vector<incident::CategoryGuess> RouteByModel(const nlp::MessageModel& model,
                                                  const incident::Taxonomy& taxonomy,
                                                  std::string_view text,
                                                  size_t k,
                                                  double threshold);

/// How intake routed one message, and by what: "keywords", "model", or "human_queue" (the fallback category).
struct Routing {
    const incident::Category* category = nullptr;
    std::string by;
    double confidence = 0;
};

/// Intake's routing of one raw text: keywords and the model (when given, above `threshold`) in `order`; what
/// neither routes goes to the human queue. The engine's hooks (UseClassifier) and `nlp route` both use it.
Routing RouteMessage(const nlp::MessageModel* model,
                     const incident::Taxonomy& taxonomy,
                     std::string_view text,
                     double threshold,
                     IntakeOrder order);

/// Sets the engine's `classify` (RouteMessage's choice) and `rank` (the model's top k domains as categories,
/// whatever their confidence, for the operator of the human queue). `taxonomy` must outlive the engine.
void UseClassifier(incident::EngineOptions& options,
                   const std::shared_ptr<const nlp::MessageModel>& model,
                   const incident::Taxonomy& taxonomy,
                   double threshold,
                   IntakeOrder order);

/// Whether a model's labels are all domains of the taxonomy (else it was trained for another routing table).
Status CheckClassifier(const nlp::MessageModel& model, const incident::Taxonomy& taxonomy);

/// What routes citizens' messages, in words: "keywords", or "keywords, then the tfidf model PATH (threshold P)".
std::string IntakeDescription(const nlp::MessageModel* model, double threshold, IntakeOrder order);

/// "keywords" or "model" (`--classifier-order`).
Result<IntakeOrder> ParseIntakeOrder(std::string_view name);

/// The district's road graph for cars and its pavements (both ways along every road, at 1 m/s, scaled by each
/// robot's pace), under one dispatch facade. The brain and the fleet simulator route on the same graphs.
Result<dispatch::Dispatcher> DispatcherOf(const District& district);

/// The street gazetteer of a routing graph's names: points every 20 m along each named road, junctions where two
/// names share a node or come within 25 m.
nlp::Gazetteer GazetteerOf(const dispatch::RoadGraph& graph);

/// The district's gazetteer as its brain has it: its streets and junctions, and its landmarks.
Result<nlp::Gazetteer> DistrictGazetteer(const District& district);

/// The district brain: the loop that senses (reports from the World and from the API), decides (incident engine,
/// dispatch) and acts (orders to units, spoken notices, replies), one second per Step. It talks to the World only
/// through the `World` interface, so the same code runs the simulated district and the live city. Deterministic
/// in the simulated World: the same district, options and seed give the same run, whatever the thread count or
/// the pace.
class Brain {
public:
    /// The simulated district: a `SimWorld` and a fresh SQLite store at `options.db_path`.
    static Result<std::unique_ptr<Brain>> Create(const District& district, const BrainOptions& options);
    /// Any World, over a store the caller opened (`citybrain serve` passes the live World and its durable store).
    /// `district` gives the map, the places and the units; the World must be built on the same district.
    static Result<std::unique_ptr<Brain>> Create(const District& district,
                                                 const BrainOptions& options,
                                                 std::unique_ptr<World> world,
                                                 std::unique_ptr<incident::Store> store);
    ~Brain();

    /// One step (`step_ms`). An error is a broken invariant (the store failed), not a scenario event.
    Status Step();
    /// Simulated time since the start, and its wall-clock date (what the API stamps reports with). ClockMs is
    /// safe to call from any thread.
    incident::TimeMs NowMs() const { return now_ms_.load(std::memory_order_relaxed); }
    incident::TimeMs ClockMs() const { return options_.epoch_ms + NowMs(); }
    double Now() const { return static_cast<double>(NowMs()) / 1000; }  // seconds, for the edges
    double Duration() const { return static_cast<double>(duration_ms_) / 1000; }
    bool Finished() const { return duration_ms_ > 0 && NowMs() >= duration_ms_; }
    int64_t Vehicles() const;
    size_t OpenCases() const;

    /// The incident engine: the only owner of case state. The server's API calls it directly (same process).
    incident::IncidentEngine& engine() { return *engine_; }
    /// Where the brain places what citizens write (streets, junctions, landmarks).
    const nlp::Gazetteer& gazetteer() const { return gazetteer_; }
    /// Traffic near a point (local metres), for the agents' traffic_status tool: the named roads within
    /// `radius_m`, each with its mean speed against its limit over the last speed update, and the worst level
    /// (free, slow, jammed). `available` is false where the World gives no road speeds (the live World, for now).
    /// Thread-safe: it reads a copy taken at each update.
    nlohmann::json TrafficNear(core::Point p, double radius_m) const;

    /// Static geometry for the dashboard (local metres): roads, intersections, cameras, low points, depots.
    std::string NetworkJson() const;
    /// The live state for the dashboard; `with_series` adds the per-minute history: [t, vehicles running, mean
    /// speed / limit, open cases, ATT so far]. Cases are read from the engine and rendered in the API's schema.
    nlohmann::json Frame(bool with_series) const;
    /// The run's results (everything but the fixed-time baseline, which runs separately).
    nlohmann::json Results() const;

private:
    enum class UnitMode : uint8_t { kIdle, kEnRoute, kOnSite };
    /// What the brain knows of a unit: whether it sent it, and where to. Where it is, the World says.
    struct Unit {
        std::string name;
        dispatch::UnitKind kind;
        UnitMode mode = UnitMode::kIdle;
        int32_t job = -1;  // index into jobs_
        incident::TimeMs busy_ms = 0;
        incident::TimeMs busy_since_ms = 0;
        dispatch::Route route;           // the plan it was sent on (drawn on the console while it is under way)
        incident::TimeMs depart_ms = 0;  // the brain's clock when it was sent
    };
    /// What the brain did about a case: ids, where the unit goes, what was said. Never the case's state: status,
    /// priority, category and deadlines are read from the engine when a decision needs them.
    struct Job {
        incident::CaseId id = 0;
        incident::Source source = incident::Source::kCitizen;
        bool has_point = false;
        core::Point at;
        dispatch::NodeId node = 0;
        incident::TimeMs first_report_ms = 0;
        incident::TimeMs onsite_ms = -1;
        incident::TimeMs next_check_ms = -1;  // operator review or verification
        int32_t unit = -1;                    // the unit on it now
        std::string unit_name;                // the last unit sent
        bool open = true;                     // the engine's feed has not yet said that it left the flow
        bool rejected = false;                // rejected as not a case: deadline compliance leaves it out
        bool missed = false;                  // measure: a step ended after its deadline
        std::string reply;
        incident::TimeMs reply_ms = 0;  // when the reply was sent (the brain's clock)
        std::string notice;
    };

    Brain(const District& district, const BrainOptions& options);
    /// A lifecycle step through the engine. False (and no error) when the case has moved on meanwhile (an
    /// operator closed it through the API): the brain's plan is then stale, not broken.
    Result<bool> Transition(const Job& job, incident::Action action, const std::string& actor, const std::string& note);
    Status SenseWorld();
    Status FollowEngine();
    Status Review();
    Status DispatchUnits();
    Status FollowUnits();
    void ReleaseUnit(Job& job);
    void UpdateSpeeds();
    dispatch::NodeId NearestNode(core::Point p) const;
    void RecordSeries();

    const District& district_;
    BrainOptions options_;
    incident::TimeMs duration_ms_;
    std::atomic<incident::TimeMs> now_ms_{0};
    std::unique_ptr<World> world_;
    std::unique_ptr<incident::IncidentEngine> engine_;
    std::optional<dispatch::Dispatcher> dispatcher_;
    nlp::Gazetteer gazetteer_;
    std::vector<dispatch::KindMask> kinds_of_;  // per taxonomy category: who may be sent
    std::vector<Unit> units_;
    std::vector<Job> jobs_;
    std::unordered_map<incident::CaseId, size_t> job_index_;
    std::vector<incident::Report> reports_;      // reused every step
    std::vector<incident::CaseChange> changes_;  // reused every step
    std::vector<UnitEvent> events_;              // reused every step
    std::vector<double> road_speed_;             // mean speed per road, m/s (NaN: empty)
    mutable std::mutex traffic_mu_;              // guards the copy other threads read (TrafficNear)
    std::vector<double> traffic_copy_;

    // Measures.
    std::map<std::string, int64_t> by_category_;
    int64_t cases_closed_ = 0;
    int64_t cases_rejected_ = 0;
    int64_t duplicates_merged_ = 0;
    int64_t intake_errors_ = 0;
    int64_t classified_ = 0;
    int64_t classified_right_ = 0;
    std::atomic<int64_t> messages_{0};
    std::atomic<int64_t> messages_located_{0};
    int64_t human_queue_ = 0;
    int64_t notices_ = 0;
    int64_t stale_plans_ = 0;
    int64_t orders_dropped_ = 0;  // refused by a unit or lost with it, and sent again
    std::vector<incident::TimeMs> response_ms_;
    struct Point {
        double t, vehicles, speed_ratio, open_cases, att_s;
    };
    std::vector<Point> series_;
};

}  // namespace citybrain::district
