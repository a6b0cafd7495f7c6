// SPDX-License-Identifier: Apache-2.0
#include "district/brain.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>

#include "dispatch/assignment.hpp"
#include "dispatch/speech.hpp"
#include "incident/case_json.hpp"
#include "nlp/urgency.hpp"

namespace citybrain::district {

namespace {

using dispatch::KindMask;
using dispatch::MaskOf;
using dispatch::UnitKind;

/// What is on a road now: the sum of its vehicles' speeds and lengths (with a 2.5 m gap each), and their number.
struct RoadLoad {
    double speed_sum = 0;
    double length_m = 0;
    int64_t vehicles = 0;
};

RoadLoad LoadOn(const traffic::Simulator& sim, const core::Road& road) {
    RoadLoad load;
    for (int32_t k = 0; k < road.num_lanes; ++k) {
        for (int32_t slot : sim.Occupants(road.first_lane + k)) {
            load.speed_sum += sim.VehicleSpeed(slot);
            load.length_m += sim.VehicleLength(slot) + 2.5;
            ++load.vehicles;
        }
    }
    return load;
}

/// The q-quantile of durations in ms, in seconds (linear between ranks).
double PercentileS(std::vector<incident::TimeMs> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const double pos = q * static_cast<double>(v.size() - 1);
    const size_t lo = static_cast<size_t>(pos);
    const size_t hi = std::min(lo + 1, v.size() - 1);
    const double a = static_cast<double>(v[lo]), b = static_cast<double>(v[hi]);
    return (a + (b - a) * (pos - static_cast<double>(lo))) / 1000;
}

bool Stale(const Error& e) { return e.code == ErrorCode::kConflict || e.code == ErrorCode::kNotFound; }

}  // namespace

nlp::Gazetteer GazetteerOf(const dispatch::RoadGraph& g) {
    nlp::Gazetteer gz;
    std::vector<std::vector<std::string>> names_at(g.nodes());
    for (dispatch::NodeId u = 0; u < g.nodes(); ++u) {
        for (uint32_t e = g.first_out[u]; e < g.first_out[u + 1]; ++e) {
            const auto r = static_cast<size_t>(g.road[e]);
            if (g.road[e] < 0 || r >= g.road_names.size() || g.road_names[r].empty()) continue;
            const std::string& name = g.road_names[r];
            // Points every 20 m along the edge, so that streets crossing mid-edge come close somewhere.
            const core::Point a = g.node_xy[u], b = g.node_xy[g.head[e]];
            const double len = std::hypot(b.x - a.x, b.y - a.y);
            const int steps = std::max(1, static_cast<int>(len / 20));
            for (int k = 0; k <= steps; ++k) {
                const double f = static_cast<double>(k) / steps;
                gz.AddStreetPoint(name, {a.x + (b.x - a.x) * f, a.y + (b.y - a.y) * f});
            }
            names_at[u].push_back(name);
            names_at[g.head[e]].push_back(name);
        }
    }
    for (dispatch::NodeId v = 0; v < g.nodes(); ++v) {
        auto& names = names_at[v];
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
        for (size_t i = 0; i < names.size(); ++i) {
            for (size_t j = i + 1; j < names.size(); ++j) gz.AddJunction(names[i], names[j], g.node_xy[v]);
        }
    }
    gz.JoinNearbyStreets(25);
    return gz;
}

Brain::Brain(const District& district, const BrainOptions& options)
    : district_(district),
      options_(options),
      duration_ms_(std::llround(options.sim_hours * 3600) * 1000),
      world_(district, options.seed, std::round(options.sim_hours * 3600)) {}

Brain::~Brain() = default;

Result<std::unique_ptr<Brain>> Brain::Create(const District& district, const BrainOptions& options) {
    if (!(options.sim_hours > 0) || options.sim_hours > 48) return InvalidArgument("--sim-hours", "must be in (0, 48]");
    for (const auto& [name, ms] : {std::pair{"dispatch_interval_ms", options.dispatch_interval_ms},
                                   std::pair{"speed_update_ms", options.speed_update_ms}}) {
        // Steps are whole seconds: a period that is not a whole number of them would never come round.
        if (ms <= 0 || ms % 1000 != 0) return InvalidArgument(name, "must be a positive whole number of seconds");
    }
    std::unique_ptr<Brain> b(new Brain(district, options));
    traffic::RunOptions run;
    run.controller = options.adaptive;
    run.sim.seed = options.seed;
    run.sim.threads = options.threads;
    CB_TRY_ASSIGN(b->traffic_, traffic::SignalledSim::Create(district.net, district.demand, run));

    CB_TRY_ASSIGN(auto drive, dispatch::RoadGraph::FromRoadNetwork(district.net));
    std::vector<dispatch::RoadGraph::EdgeSpec> walk;
    std::vector<std::string> names;
    std::vector<core::Point> xy;
    for (const auto& in : district.net.intersections) {
        names.push_back(in.id);
        xy.push_back(in.point);
    }
    for (size_t r = 0; r < district.net.roads.size(); ++r) {
        const core::Road& road = district.net.roads[r];
        // Pavements run both ways along every road, at 1 m/s: each robot scales them by its own pace.
        for (const auto& [from, to] : {std::pair{road.from, road.to}, std::pair{road.to, road.from}}) {
            walk.push_back({static_cast<dispatch::NodeId>(from),
                            static_cast<dispatch::NodeId>(to),
                            road.length_m,
                            1.0,
                            static_cast<int32_t>(r)});
        }
    }
    CB_TRY_ASSIGN(auto pavements,
                  dispatch::RoadGraph::Build(std::move(names), std::move(xy), std::move(walk), "pavements"));
    b->gazetteer_ = GazetteerOf(drive);
    for (const Landmark& l : district.landmarks) b->gazetteer_.AddLandmark(l.name, l.at);
    CB_TRY_ASSIGN(auto dispatcher, dispatch::Dispatcher::Create(std::move(drive), std::move(pavements), {}));
    b->dispatcher_.emplace(std::move(dispatcher));

    // Who may be sent to what comes from the taxonomy ("response.units"), checked here against dispatch's kinds.
    const incident::Taxonomy& taxonomy = incident::Taxonomy::Default();
    for (const incident::Category& c : taxonomy.categories()) {
        dispatch::KindMask mask = 0;
        for (const std::string& kind : c.unit_kinds) {
            auto k = dispatch::ParseUnitKind(kind);
            if (!k.ok()) return InvalidArgument("taxonomy." + c.code + ".response.units", k.error().message);
            mask |= dispatch::MaskOf(*k);
        }
        b->kinds_of_.push_back(mask);
    }

    // A run owns its store: a fresh file, so that cases of an earlier run do not absorb this run's reports.
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::error_code ec;
        std::filesystem::remove(options.db_path + suffix, ec);
    }
    // Not fsynced per commit: the run is a simulation, and WAL keeps the file consistent after a crash or Ctrl-C.
    CB_TRY_ASSIGN(auto store, incident::OpenSqliteStore(options.db_path, /*durable=*/false));
    incident::EngineOptions engine_options;
    engine_options.origin = {{district.frame.origin_lat(), district.frame.origin_lon()}};
    engine_options.change_feed = true;
    Brain* brain = b.get();
    // Intake places a message by the places it names, whoever sent it (the simulated app or an HTTP client).
    engine_options.locate = [brain](incident::Report& r) {
        if (r.source != incident::Source::kCitizen) return false;
        brain->messages_.fetch_add(1, std::memory_order_relaxed);
        const auto place = brain->gazetteer_.Locate(r.description);
        if (!place) return false;
        const auto [lat, lon] = brain->district_.frame.ToWgs84(place->where);
        r.lat = lat;
        r.lon = lon;
        r.address = place->name;
        brain->messages_located_.fetch_add(1, std::memory_order_relaxed);
        return true;
    };
    // Danger words raise the priority the category gives (a missing manhole cover near children, …).
    engine_options.assess = [](const incident::Report& r, int priority) {
        return r.source == incident::Source::kCitizen ? nlp::AssessUrgency(r.description, priority).priority : priority;
    };
    CB_TRY_ASSIGN(b->engine_, incident::IncidentEngine::Open(std::move(store), taxonomy, engine_options));

    for (const UnitSpec& spec : district.units) {
        Unit u;
        u.name = spec.name;
        u.kind = spec.kind;
        u.node = static_cast<dispatch::NodeId>(spec.depot);
        b->units_.push_back(std::move(u));
    }
    b->road_speed_.assign(district.net.roads.size(), std::numeric_limits<double>::quiet_NaN());
    b->RecordSeries();
    return b;
}

int64_t Brain::Vehicles() const { return traffic_->sim().Running(); }

size_t Brain::OpenCases() const { return engine_->open_cases(); }

dispatch::NodeId Brain::NearestNode(core::Point p) const {
    dispatch::NodeId best = 0;
    double best_d = std::numeric_limits<double>::infinity();
    for (size_t n = 0; n < district_.net.intersections.size(); ++n) {
        const auto& in = district_.net.intersections[n];
        if (in.is_virtual) continue;
        const double d = std::hypot(in.point.x - p.x, in.point.y - p.y);
        if (d < best_d) best_d = d, best = static_cast<dispatch::NodeId>(n);
    }
    return best;
}

Result<bool> Brain::Transition(const Job& job,
                               incident::Action action,
                               const std::string& actor,
                               const std::string& note) {
    auto r = engine_->Apply(job.id, action, actor, note, ClockMs());
    if (r.ok()) return true;
    if (Stale(r.error())) {
        ++stale_plans_;
        return false;
    }
    return r.error();
}

Status Brain::SenseWorld() {
    // The simulated World is one connector among others: its reports enter through the same intake as an HTTP
    // client's. Only the measures of classification need its ground truth.
    reports_.clear();
    world_.Advance(Now(), reports_);
    if (reports_.empty()) return {};
    std::vector<std::string> ids;
    ids.reserve(reports_.size());
    for (incident::Report& r : reports_) {
        r.time_ms += options_.epoch_ms;
        ids.push_back(r.external_id);
    }
    const auto receipts = engine_->Ingest(std::move(reports_), ClockMs());
    reports_ = {};
    const auto& truth = world_.MessageTruth();
    for (size_t i = 0; i < receipts.size(); ++i) {
        if (!receipts[i].ok()) {
            ++intake_errors_;
            continue;
        }
        const incident::Receipt& rec = *receipts[i];
        if (rec.retried || !rec.classified) continue;
        ++classified_;
        const std::string_view id = ids[i];
        size_t n = truth.size();
        if (id.rfind("app-", 0) == 0) std::from_chars(id.data() + 4, id.data() + id.size(), n);
        if (n < truth.size() && truth[n] == rec.category) ++classified_right_;
    }
    return {};
}

Status Brain::FollowEngine() {
    engine_->DrainChanges(changes_);
    const incident::Taxonomy& taxonomy = engine_->taxonomy();
    for (const incident::CaseChange& ch : changes_) {
        auto it = job_index_.find(ch.case_id);
        if (ch.what == incident::CaseChange::What::kCreated) {
            const auto c = engine_->OpenCase(ch.case_id);
            if (!c) continue;  // already left the flow (an operator was quicker than this step)
            Job job;
            job.id = c->id;
            job.source = ch.source;
            job.first_report_ms = c->created_ms - options_.epoch_ms;
            if (c->lat) {
                job.has_point = true;
                job.at = district_.frame.ToLocal(*c->lat, *c->lon);
                job.node = NearestNode(job.at);
            }
            ++by_category_[c->category];
            if (ch.source == incident::Source::kCitizen) {
                const incident::Department* dept = taxonomy.FindDepartment(c->department);
                job.reply = nlp::AcknowledgementReply(
                    std::to_string(c->id), dept != nullptr ? dept->name : c->department, c->deadline_ms);
            }
            job_index_.emplace(job.id, jobs_.size());
            jobs_.push_back(std::move(job));
            // Machines that are sure and messages placed in a known category are filed at once; the rest wait for
            // an operator (the human queue).
            const bool sure = jobs_.back().has_point && c->category != taxonomy.Fallback().code && ch.confidence >= 0.8;
            if (sure) {
                const bool citizen = ch.source == incident::Source::kCitizen;
                CB_TRY_ASSIGN(
                    bool filed,
                    Transition(
                        jobs_.back(), incident::Action::kFile, "brain", citizen ? "filed on intake" : "sensor/camera"));
                (void)filed;
            } else {
                jobs_.back().next_check_ms = NowMs() + options_.operator_review_ms;
                ++human_queue_;
            }
            continue;
        }
        if (it == job_index_.end()) continue;  // a case of an earlier run in the same store
        Job& job = jobs_[it->second];
        if (ch.what == incident::CaseChange::What::kJoined) {
            ++duplicates_merged_;
        } else if (ch.what == incident::CaseChange::What::kTransition) {
            if (ch.late) job.missed = true;
            if (!incident::IsOpen(ch.status) && job.open) {
                job.open = false;
                if (ch.status == incident::CaseStatus::kClosed) ++cases_closed_;
                if (ch.status == incident::CaseStatus::kRejected) {
                    ++cases_rejected_;
                    job.rejected = true;
                }
                ReleaseUnit(job);
            }
        }
    }
    return {};
}

void Brain::ReleaseUnit(Job& job) {
    if (job.unit < 0) return;
    Unit& u = units_[static_cast<size_t>(job.unit)];
    if (u.job == static_cast<int32_t>(job_index_.at(job.id))) {
        // Called off (the case was closed or rejected by someone else): it stops where it is on its way.
        if (u.mode == UnitMode::kEnRoute) {
            const incident::TimeMs travelled = NowMs() - u.depart_ms;
            size_t i = 0;
            while (i + 1 < u.route.nodes.size() && static_cast<incident::TimeMs>(u.route.at_ms[i + 1]) <= travelled) {
                ++i;
            }
            u.node = u.route.nodes[i];
        }
        u.mode = UnitMode::kIdle;
        u.busy_ms += NowMs() - u.busy_since_ms;
        u.job = -1;
        u.route = {};
    }
    job.unit = -1;
}

Status Brain::Review() {
    const std::string& fallback = engine_->taxonomy().Fallback().code;
    const incident::TimeMs now = NowMs();
    for (Job& job : jobs_) {
        if (job.next_check_ms < 0 || job.next_check_ms > now) continue;
        job.next_check_ms = -1;
        const auto c = engine_->OpenCase(job.id);
        if (!c) continue;
        if (c->status == incident::CaseStatus::kReported) {
            if (c->category != fallback && job.has_point) {
                CB_TRY_ASSIGN(bool ok, Transition(job, incident::Action::kFile, "operator", "filed after review"));
                (void)ok;
            } else {
                CB_TRY_ASSIGN(bool ok,
                              Transition(job,
                                         incident::Action::kReject,
                                         "operator",
                                         job.has_point ? "not a matter for a unit: answered by the 12345 knowledge base"
                                                       : "no place given: the citizen is called back"));
                (void)ok;
            }
        } else if (c->status == incident::CaseStatus::kHandled) {
            if (!world_.StillThere(c->category, job.at, Now())) {
                CB_TRY_ASSIGN(bool ok,
                              Transition(job,
                                         incident::Action::kClose,
                                         job.source == incident::Source::kCitizen ? "inspector" : "camera",
                                         "verified on the spot"));
                (void)ok;
            } else {
                job.next_check_ms = now + 300'000;  // still there: look again (the verify deadline keeps running)
            }
        }
    }
    return {};
}

Status Brain::DispatchUnits() {
    // The filed cases as the engine holds them now: priority includes urgency and escalation.
    const std::vector<incident::Case> filed = engine_->OpenCasesIn(incident::CaseStatus::kFiled);
    std::vector<size_t> task_jobs;
    std::vector<dispatch::TaskSpec> tasks;
    const incident::Taxonomy& taxonomy = engine_->taxonomy();
    for (const incident::Case& c : filed) {
        auto it = job_index_.find(c.id);
        if (it == job_index_.end()) continue;
        const Job& job = jobs_[it->second];
        if (job.unit >= 0 || !job.has_point) continue;
        const incident::Category* cat = taxonomy.Find(c.category);
        const dispatch::KindMask kinds = cat != nullptr
                                             ? kinds_of_[static_cast<size_t>(cat - taxonomy.categories().data())]
                                             : dispatch::MaskOf(dispatch::UnitKind::kCrew);
        task_jobs.push_back(it->second);
        tasks.push_back({job.node, kinds, std::clamp(c.priority, 1, 4)});
    }
    if (tasks.empty()) return {};
    std::vector<size_t> free_units;
    std::vector<dispatch::UnitState> states;
    for (size_t u = 0; u < units_.size(); ++u) {
        if (units_[u].mode != UnitMode::kIdle) continue;
        free_units.push_back(u);
        dispatch::UnitState s;
        s.kind = units_[u].kind;
        s.node = units_[u].node;
        states.push_back(s);
    }
    if (states.empty()) return {};
    const dispatch::AssignmentResult result = dispatcher_->Assign(states, tasks);
    for (size_t k = 0; k < tasks.size(); ++k) {
        const int32_t su = result.unit_of_task[k];
        if (su < 0) continue;
        const size_t unit_index = free_units[static_cast<size_t>(su)];
        Unit& unit = units_[unit_index];
        Job& job = jobs_[task_jobs[k]];
        auto route = dispatcher_->RouteOf(unit.kind, unit.node, job.node);
        if (!route) continue;  // cannot happen: the table said reachable
        const double eta_s = static_cast<double>(route->time_ms()) / 1000;
        CB_TRY_ASSIGN(bool sent,
                      Transition(job,
                                 incident::Action::kDispatch,
                                 unit.name,
                                 std::string(dispatch::UnitKindName(unit.kind)) + " " + unit.name + ", ETA " +
                                     std::to_string(static_cast<int>(eta_s)) + " s"));
        if (!sent) continue;
        unit.route = std::move(*route);
        unit.depart_ms = NowMs();
        unit.mode = UnitMode::kEnRoute;
        unit.job = static_cast<int32_t>(task_jobs[k]);
        unit.busy_since_ms = NowMs();
        job.unit = static_cast<int32_t>(unit_index);
        job.unit_name = unit.name;
    }
    return {};
}

Status Brain::MoveUnits() {
    const incident::TimeMs now = NowMs();
    const incident::Taxonomy& taxonomy = engine_->taxonomy();
    for (Unit& u : units_) {
        if (u.mode == UnitMode::kEnRoute && now - u.depart_ms >= static_cast<incident::TimeMs>(u.route.time_ms())) {
            u.node = u.route.nodes.back();
            u.mode = UnitMode::kOnSite;
            Job& job = jobs_[static_cast<size_t>(u.job)];
            const auto c = engine_->OpenCase(job.id);
            if (!c) {
                ReleaseUnit(job);
                continue;
            }
            job.onsite_ms = now;
            response_ms_.push_back(now - job.first_report_ms);
            job.handle = world_.BeginHandling(c->category, job.at, Now());
            std::string note = "on site";
            const incident::Category* cat = taxonomy.Find(c->category);
            if (u.kind != dispatch::UnitKind::kCrew && cat != nullptr && !cat->notice.empty()) {
                // The notice as the robot's speech synthesiser reads it (numbered pinyin for espeak-ng).
                if (dispatch::ToPinyin(cat->notice).ok()) {
                    ++notices_;
                    job.notice = cat->notice;
                    note += "; notice played: " + cat->notice;
                }
            }
            CB_TRY_ASSIGN(bool started, Transition(job, incident::Action::kStart, u.name, note));
            if (!started) ReleaseUnit(job);
        } else if (u.mode == UnitMode::kOnSite) {
            Job& job = jobs_[static_cast<size_t>(u.job)];
            if (!world_.Done(job.handle, Now())) continue;
            CB_TRY_ASSIGN(bool reported, Transition(job, incident::Action::kFeedback, u.name, "done"));
            if (reported) {
                job.next_check_ms = now + (job.source == incident::Source::kCitizen ? options_.inspector_verify_ms
                                                                                    : options_.camera_verify_ms);
            }
            u.mode = UnitMode::kIdle;
            u.busy_ms += now - u.busy_since_ms;
            u.job = -1;
            u.route = {};
            job.unit = -1;  // the unit is free; job.unit_name keeps who did it
        }
    }
    return {};
}

void Brain::UpdateSpeeds() {
    const traffic::Simulator& sim = traffic_->sim();
    const auto& net = district_.net;
    for (size_t r = 0; r < net.roads.size(); ++r) {
        const RoadLoad load = LoadOn(sim, net.roads[r]);
        road_speed_[r] = load.vehicles > 0 ? load.speed_sum / static_cast<double>(load.vehicles)
                                           : std::numeric_limits<double>::quiet_NaN();
    }
    dispatcher_->UpdateRoadSpeeds(road_speed_);
}

void Brain::RecordSeries() {
    const auto& net = district_.net;
    double ratio_sum = 0;
    int n = 0;
    for (size_t r = 0; r < net.roads.size(); ++r) {
        if (std::isnan(road_speed_[r])) continue;
        const double limit = net.lanes[static_cast<size_t>(net.roads[r].first_lane)].max_speed_mps;
        ratio_sum += std::min(1.0, road_speed_[r] / limit);
        ++n;
    }
    series_.push_back({Now(),
                       static_cast<double>(Vehicles()),
                       n > 0 ? ratio_sum / n : 1.0,
                       static_cast<double>(OpenCases()),
                       traffic_->sim().GetMetrics().att_s});
}

Status Brain::Step() {
    if (Finished()) return {};
    const incident::TimeMs t = NowMs();
    CB_TRY(SenseWorld());
    CB_TRY(FollowEngine());
    CB_TRY(Review());
    if (t % options_.dispatch_interval_ms == 0) CB_TRY(DispatchUnits());
    CB_TRY(MoveUnits());
    if (t % options_.speed_update_ms == 0) UpdateSpeeds();
    if (t % 60'000 == 0) {
        CB_TRY_ASSIGN(int escalated, engine_->Tick(ClockMs()));
        (void)escalated;
    }
    traffic_->Step();
    now_ms_.store(t + 1000, std::memory_order_relaxed);
    if ((t + 1000) % 60'000 == 0) RecordSeries();
    return {};
}

core::Point Brain::UnitPosition(const Unit& u) const {
    const auto& xy = dispatcher_->roads().node_xy;
    if (u.mode == UnitMode::kOnSite && u.job >= 0) {
        const Job& job = jobs_[static_cast<size_t>(u.job)];
        if (job.has_point) return job.at;
    }
    const auto& nodes = u.route.nodes;
    if (u.mode != UnitMode::kEnRoute || nodes.size() < 2) return xy[u.node];
    const auto travelled = static_cast<dispatch::TimeMs>(NowMs() - u.depart_ms);
    const auto& at = u.route.at_ms;
    size_t i = 1;
    while (i + 1 < nodes.size() && at[i] <= travelled) ++i;
    const double span = static_cast<double>(at[i] - at[i - 1]);
    const double f =
        span > 0 ? std::clamp((static_cast<double>(travelled) - static_cast<double>(at[i - 1])) / span, 0.0, 1.0) : 1.0;
    const core::Point a = xy[nodes[i - 1]], b = xy[nodes[i]];
    return {a.x + (b.x - a.x) * f, a.y + (b.y - a.y) * f};
}
std::string Brain::NetworkJson() const {
    const auto& net = district_.net;
    double minx = 1e18, miny = 1e18, maxx = -1e18, maxy = -1e18;
    nlohmann::json roads = nlohmann::json::array();
    for (const auto& road : net.roads) {
        nlohmann::json pts = nlohmann::json::array();
        for (const auto& p : road.points) {
            pts.push_back({std::round(p.x * 10) / 10, std::round(p.y * 10) / 10});
            minx = std::min(minx, p.x), maxx = std::max(maxx, p.x);
            miny = std::min(miny, p.y), maxy = std::max(maxy, p.y);
        }
        roads.push_back({{"id", road.id}, {"name", road.name}, {"lanes", road.num_lanes}, {"pts", std::move(pts)}});
    }
    nlohmann::json nodes = nlohmann::json::array();
    for (const auto& in : net.intersections) {
        nodes.push_back(
            {{"id", in.id}, {"x", in.point.x}, {"y", in.point.y}, {"signal", !in.is_virtual && !in.phases.empty()}});
    }
    nlohmann::json cameras = nlohmann::json::array(), low = nlohmann::json::array(), depots = nlohmann::json::array();
    for (const auto& c : district_.cameras) cameras.push_back({c.at.x, c.at.y});
    for (const auto& l : district_.low_points) low.push_back({l.at.x, l.at.y});
    for (const auto& u : district_.units) {
        const auto& p = net.intersections[static_cast<size_t>(u.depot)].point;
        const nlohmann::json d = {p.x, p.y};
        if (std::find(depots.begin(), depots.end(), d) == depots.end()) depots.push_back(d);
    }
    nlohmann::json landmarks = nlohmann::json::array();
    for (const auto& l : district_.landmarks) landmarks.push_back({l.name, l.at.x, l.at.y});
    nlohmann::json categories = nlohmann::json::object();
    for (const auto& c : engine_->taxonomy().categories()) categories[c.code] = {{"name", c.name}, {"en", c.name_en}};
    nlohmann::json units = nlohmann::json::array();
    for (const auto& u : units_) units.push_back({{"name", u.name}, {"kind", dispatch::UnitKindName(u.kind)}});
    return nlohmann::json{{"bounds", {minx, miny, maxx, maxy}},
                          {"roads", std::move(roads)},
                          {"nodes", std::move(nodes)},
                          {"cameras", std::move(cameras)},
                          {"low_points", std::move(low)},
                          {"depots", std::move(depots)},
                          {"landmarks", std::move(landmarks)},
                          {"units", std::move(units)},
                          {"categories", std::move(categories)},
                          {"duration_s", Duration()},
                          {"epoch_ms", options_.epoch_ms}}
        .dump();
}

nlohmann::json Brain::Frame(bool with_series) const {
    const traffic::Simulator& sim = traffic_->sim();
    const auto& net = district_.net;
    std::vector<int> speed(net.roads.size(), -1), occupancy(net.roads.size(), 0), light(net.roads.size(), -1);
    for (size_t r = 0; r < net.roads.size(); ++r) {
        const core::Road& road = net.roads[r];
        const RoadLoad load = LoadOn(sim, road);
        const double limit = net.lanes[static_cast<size_t>(road.first_lane)].max_speed_mps;
        if (load.vehicles > 0) {
            speed[r] = static_cast<int>(
                std::lround(100 * std::min(1.0, load.speed_sum / static_cast<double>(load.vehicles) / limit)));
        }
        occupancy[r] = static_cast<int>(
            std::lround(100 * std::min(1.0, load.length_m / std::max(1.0, road.length_m * road.num_lanes))));
    }
    for (size_t l = 0; l < net.road_links.size(); ++l) {
        const auto& link = net.road_links[l];
        if (link.type != core::TurnType::kStraight) continue;
        light[static_cast<size_t>(link.from_road)] =
            std::max(light[static_cast<size_t>(link.from_road)],
                     static_cast<int>(sim.RoadLinkLight(static_cast<core::RoadLinkId>(l))));
    }
    nlohmann::json units = nlohmann::json::array();
    for (const Unit& u : units_) {
        const core::Point p = UnitPosition(u);
        units.push_back({std::round(p.x),
                         std::round(p.y),
                         static_cast<int>(u.mode),
                         u.job >= 0 ? jobs_[static_cast<size_t>(u.job)].id : 0});
    }
    // The newest 400 cases, read from the engine's store and rendered as /api/v1/cases renders them; what the
    // brain did about each (unit, arrival, reply, notice) is added under its own keys.
    nlohmann::json cases = nlohmann::json::array();
    incident::CaseFilter filter;
    filter.limit = 400;
    filter.offset = static_cast<int>(jobs_.size() > 400 ? jobs_.size() - 400 : 0);
    const incident::TimeMs clock = ClockMs();
    if (auto listed = engine_->ListCases(filter, clock); listed.ok()) {
        for (const incident::Case& c : *listed) {
            nlohmann::json j = incident::CaseJson(c, engine_->taxonomy(), clock);
            auto it = job_index_.find(c.id);
            if (it != job_index_.end()) {
                const Job& job = jobs_[it->second];
                j["source"] = incident::SourceName(job.source);
                j["first_report_s"] = static_cast<double>(job.first_report_ms) / 1000;
                if (job.has_point) j["xy"] = {std::round(job.at.x), std::round(job.at.y)};
                if (job.onsite_ms >= 0) j["onsite_s"] = static_cast<double>(job.onsite_ms - job.first_report_ms) / 1000;
                if (!job.unit_name.empty()) j["unit"] = job.unit_name;
                if (!job.reply.empty()) j["reply"] = job.reply;
                if (!job.notice.empty()) j["notice"] = job.notice;
            }
            cases.push_back(std::move(j));
        }
    }
    nlohmann::json frame = {{"t", Now()},
                            {"duration_s", Duration()},
                            {"vehicles", sim.Running()},
                            {"waiting", sim.Waiting()},
                            {"raining", world_.Raining(Now())},
                            {"water_cm", world_.WaterLevels()},
                            {"speed", speed},
                            {"occupancy", occupancy},
                            {"lights", light},
                            {"units", std::move(units)},
                            {"cases", std::move(cases)},
                            {"kpi", Results()}};
    if (with_series) {
        nlohmann::json s = nlohmann::json::array();
        for (const auto& p : series_) s.push_back({p.t, p.vehicles, p.speed_ratio, p.open_cases, p.att_s});
        frame["series"] = std::move(s);
    } else if (!series_.empty()) {
        const auto& p = series_.back();
        frame["point"] = {p.t, p.vehicles, p.speed_ratio, p.open_cases, p.att_s};
    }
    return frame;
}

nlohmann::json Brain::Results() const {
    size_t counted = 0, met = 0;
    const incident::TimeMs clock = ClockMs();
    for (const Job& job : jobs_) {
        // Met: no step has ended after its deadline, and the current step's deadline (if any) lies ahead.
        if (job.rejected) continue;
        std::optional<incident::Case> c;
        if (job.open) c = engine_->OpenCase(job.id);
        ++counted;
        const bool late_now = c && c->deadline_ms > 0 && c->deadline_ms < clock;
        if (!job.missed && !late_now) ++met;
    }
    const incident::TimeMs now = NowMs();
    double busy_ms = 0;
    for (const Unit& u : units_) {
        busy_ms += static_cast<double>(u.busy_ms + (u.mode != UnitMode::kIdle ? now - u.busy_since_ms : 0));
    }
    const double utilisation =
        units_.empty() || now <= 0 ? 0 : busy_ms / (static_cast<double>(units_.size()) * static_cast<double>(now));
    nlohmann::json by_category = nlohmann::json::object();
    for (const auto& [category, n] : by_category_) by_category[category] = n;
    const traffic::Metrics m = traffic_->sim().GetMetrics();
    return {{"sim_s", Now()},
            {"att_adaptive_s", m.att_s},
            {"throughput_adaptive", m.throughput},
            {"vehicles", m.spawned},
            {"cases", std::move(by_category)},
            {"cases_total", jobs_.size()},
            {"cases_closed", cases_closed_},
            {"cases_rejected", cases_rejected_},
            {"open_cases", OpenCases()},
            {"duplicates_merged", duplicates_merged_},
            {"reached", response_ms_.size()},
            {"p50_response_s", PercentileS(response_ms_, 0.5)},
            {"p95_response_s", PercentileS(response_ms_, 0.95)},
            {"deadline_met_ratio", counted > 0 ? static_cast<double>(met) / static_cast<double>(counted) : 1.0},
            {"unit_utilisation", utilisation},
            {"notices_played", notices_},
            {"messages", messages_.load()},
            {"messages_located", messages_located_.load()},
            {"classified_on_intake", classified_},
            {"classified_correct", classified_right_},
            {"human_queue", human_queue_},
            {"intake_errors", intake_errors_},
            {"stale_plans", stale_plans_},
            {"route_table_rebuilds", dispatcher_->rebuilds()},
            {"vendors_appeared", world_.VendorsAppeared()}};
}

}  // namespace citybrain::district
