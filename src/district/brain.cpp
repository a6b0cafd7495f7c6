// SPDX-License-Identifier: Apache-2.0
#include "district/brain.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>

#include "dispatch/assignment.hpp"
#include "dispatch/speech.hpp"
#include "district/sim_world.hpp"
#include "incident/case_json.hpp"
#include "nlp/urgency.hpp"

namespace citybrain::district {

namespace {

using dispatch::KindMask;
using dispatch::MaskOf;
using dispatch::UnitKind;

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

Result<dispatch::Dispatcher> DispatcherOf(const District& district) {
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
    return dispatch::Dispatcher::Create(std::move(drive), std::move(pavements), {});
}

Brain::Brain(const District& district, const BrainOptions& options)
    : district_(district), options_(options), duration_ms_(std::llround(options.sim_hours * 3600) * 1000) {}

Brain::~Brain() = default;

Result<nlp::Gazetteer> DistrictGazetteer(const District& district) {
    CB_TRY_ASSIGN(auto dispatcher, DispatcherOf(district));
    nlp::Gazetteer gz = GazetteerOf(dispatcher.roads());
    for (const Landmark& l : district.landmarks) gz.AddLandmark(l.name, l.at);
    return gz;
}

Result<std::unique_ptr<Brain>> Brain::Create(const District& district, const BrainOptions& options) {
    if (!(options.sim_hours > 0) || options.sim_hours > 48) return InvalidArgument("--sim-hours", "must be in (0, 48]");
    // The simulated World moves one second per step.
    if (options.step_ms != 1000) return InvalidArgument("step_ms", "the simulated World steps whole seconds (1000)");
    SimWorldOptions sim;
    sim.seed = options.seed;
    sim.duration_ms = std::llround(options.sim_hours * 3600) * 1000;
    sim.epoch_ms = options.epoch_ms;
    sim.adaptive = options.adaptive;
    sim.threads = options.threads;
    sim.flood_cameras = options.flood_cameras;
    CB_TRY_ASSIGN(auto world, SimWorld::Create(district, sim));
    // A run owns its store: a fresh file, so that cases of an earlier run do not absorb this run's reports.
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::error_code ec;
        std::filesystem::remove(options.db_path + suffix, ec);
    }
    // Not fsynced per commit: the run is a simulation, and WAL keeps the file consistent after a crash or Ctrl-C.
    CB_TRY_ASSIGN(auto store, incident::OpenSqliteStore(options.db_path, /*durable=*/false));
    return Create(district, options, std::move(world), std::move(store));
}

Result<std::unique_ptr<Brain>> Brain::Create(const District& district,
                                             const BrainOptions& options,
                                             std::unique_ptr<World> world,
                                             std::unique_ptr<incident::Store> store) {
    if (!(options.sim_hours >= 0) || options.sim_hours > 48) {
        return InvalidArgument("--sim-hours", "must be in [0, 48] (0: until stopped)");
    }
    if (!world || !store) return InvalidArgument("world", "a brain needs a World and a store");
    if (options.step_ms <= 0 || 60'000 % options.step_ms != 0) {
        return InvalidArgument("step_ms", "must divide a minute (the brain's deadline checks and history)");
    }
    for (const auto& [name, ms] : {std::pair{"dispatch_interval_ms", options.dispatch_interval_ms},
                                   std::pair{"speed_update_ms", options.speed_update_ms}}) {
        // A period that is not a whole number of steps would never come round.
        if (ms <= 0 || ms % options.step_ms != 0) return InvalidArgument(name, "must be a whole number of steps");
    }
    std::unique_ptr<Brain> b(new Brain(district, options));
    b->world_ = std::move(world);
    CB_TRY_ASSIGN(auto dispatcher, DispatcherOf(district));
    b->gazetteer_ = GazetteerOf(dispatcher.roads());
    for (const Landmark& l : district.landmarks) b->gazetteer_.AddLandmark(l.name, l.at);
    b->dispatcher_.emplace(std::move(dispatcher));

    // Who may be sent to what comes from the taxonomy ("response.units"), checked here against dispatch's kinds.
    const incident::Taxonomy& taxonomy =
        options.taxonomy != nullptr ? *options.taxonomy : incident::Taxonomy::Default();
    for (const incident::Category& c : taxonomy.categories()) {
        dispatch::KindMask mask = 0;
        for (const std::string& kind : c.unit_kinds) {
            auto k = dispatch::ParseUnitKind(kind);
            if (!k.ok()) return InvalidArgument("taxonomy." + c.code + ".response.units", k.error().message);
            mask |= dispatch::MaskOf(*k);
        }
        b->kinds_of_.push_back(mask);
    }

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
    // A camera or a sensor reports coordinates: the case gets the place's name (a junction, a landmark, a street).
    engine_options.name_place = [brain](incident::Report& r) {
        const auto place = brain->gazetteer_.Nearest(brain->district_.frame.ToLocal(*r.lat, *r.lon));
        if (place) r.address = place->name;
    };
    // Danger words raise the priority the category gives (a missing manhole cover near children, …).
    engine_options.assess = [](const incident::Report& r, int priority) {
        return r.source == incident::Source::kCitizen ? nlp::AssessUrgency(r.description, priority).priority : priority;
    };
    if (options.classifier != nullptr) {
        if (!(options.classifier_threshold >= 0 && options.classifier_threshold <= 1))
            return InvalidArgument("classifier_threshold", "must be within [0, 1]");
        CB_TRY(CheckClassifier(*options.classifier, taxonomy));
        UseClassifier(engine_options, options.classifier, taxonomy, options.classifier_threshold, options.intake_order);
    }
    CB_TRY_ASSIGN(b->engine_, incident::IncidentEngine::Open(std::move(store), taxonomy, engine_options));

    for (const UnitSpec& spec : district.units) {
        Unit u;
        u.name = spec.name;
        u.kind = spec.kind;
        b->units_.push_back(std::move(u));
    }
    b->road_speed_.assign(district.net.roads.size(), std::numeric_limits<double>::quiet_NaN());
    b->RecordSeries();
    return b;
}

std::vector<incident::CategoryGuess> RouteByModel(const nlp::MessageModel& model,
                                                  const incident::Taxonomy& taxonomy,
                                                  std::string_view text,
                                                  size_t k,
                                                  double threshold) {
    std::vector<incident::CategoryGuess> out;
    const auto top = model.PredictRaw(text, static_cast<int>(std::max<size_t>(k, 1)));
    if (top.empty() || top.front().confidence < threshold) return out;
    for (const nlp::Prediction& p : top) {
        const incident::Category* c = taxonomy.RouteInDomain(p.label, text);
        if (c != nullptr) out.push_back({c->code, p.confidence});
    }
    return out;
}

Routing RouteMessage(const nlp::MessageModel* model,
                     const incident::Taxonomy& taxonomy,
                     std::string_view text,
                     double threshold,
                     IntakeOrder order) {
    const auto by_keywords = [&]() -> std::optional<Routing> {
        const auto g = taxonomy.RankKeywords(text, 1);
        if (g.empty()) return std::nullopt;
        return Routing{g.front().category, "keywords", g.front().confidence};
    };
    const auto by_model = [&]() -> std::optional<Routing> {
        if (model == nullptr) return std::nullopt;
        const auto g = RouteByModel(*model, taxonomy, text, 1, threshold);
        if (g.empty()) return std::nullopt;
        return Routing{taxonomy.Find(g.front().category), "model", g.front().confidence};
    };
    std::optional<Routing> r = order == IntakeOrder::kKeywordsFirst ? by_keywords() : by_model();
    if (!r) r = order == IntakeOrder::kKeywordsFirst ? by_model() : by_keywords();
    if (!r) r = Routing{&taxonomy.Fallback(), "human_queue", 0};
    return *r;
}

void UseClassifier(incident::EngineOptions& options,
                   const std::shared_ptr<const nlp::MessageModel>& model,
                   const incident::Taxonomy& taxonomy,
                   double threshold,
                   IntakeOrder order) {
    options.classify = [model, &taxonomy, threshold, order](const incident::Report& r) -> std::string {
        const Routing routing = RouteMessage(model.get(), taxonomy, r.description, threshold, order);
        return routing.by == "human_queue" ? std::string() : routing.category->code;
    };
    options.rank = [model, &taxonomy](std::string_view text, size_t k) {
        return RouteByModel(*model, taxonomy, text, k, 0);
    };
}

Status CheckClassifier(const nlp::MessageModel& model, const incident::Taxonomy& taxonomy) {
    for (const std::string& label : model.labels()) {
        if (taxonomy.FindDomain(label) == nullptr) {
            return InvalidArgument(model.path(),
                                   "the model's label '" + label +
                                       "' is not one of the taxonomy's domains (\"domains\" in the taxonomy file)");
        }
    }
    return {};
}

std::string IntakeDescription(const nlp::MessageModel* model, double threshold, IntakeOrder order) {
    if (model == nullptr) return "keywords";
    char p[32];
    std::snprintf(p, sizeof p, "%.2f", threshold);
    const std::string m = model->kind() + " model " + model->path() + " (threshold " + p + ")";
    return order == IntakeOrder::kKeywordsFirst ? "keywords, then the " + m : "the " + m + ", then keywords";
}

Result<IntakeOrder> ParseIntakeOrder(std::string_view name) {
    if (name == "keywords") return IntakeOrder::kKeywordsFirst;
    if (name == "model") return IntakeOrder::kModelFirst;
    return InvalidArgument("--classifier-order", "'keywords' (keywords first) or 'model' (the model first)");
}

int64_t Brain::Vehicles() const { return world_->Vehicles(); }

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
    // Reports from the World's own channels enter through the same intake as an HTTP client's. Only the measures
    // of classification ask the World for the truth.
    reports_.clear();
    world_->Sense(ClockMs(), reports_);
    if (reports_.empty()) return {};
    std::vector<std::string> ids;
    ids.reserve(reports_.size());
    for (const incident::Report& r : reports_) ids.push_back(r.external_id);
    const auto receipts = engine_->Ingest(std::move(reports_), ClockMs());
    reports_ = {};
    for (size_t i = 0; i < receipts.size(); ++i) {
        if (!receipts[i].ok()) {
            ++intake_errors_;
            continue;
        }
        const incident::Receipt& rec = *receipts[i];
        if (rec.retried || !rec.classified) continue;
        ++classified_;
        const std::string* truth = world_->Truth(ids[i]);
        if (truth != nullptr && *truth == rec.category) ++classified_right_;
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
                job.reply_ms = ClockMs();
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
    const auto u = static_cast<size_t>(job.unit);
    Unit& unit = units_[u];
    if (unit.job == static_cast<int32_t>(job_index_.at(job.id))) {
        // Called off (the case was closed or rejected by someone else): it stops where it is and stands by.
        world_->CallOff(u, ClockMs());
        unit.mode = UnitMode::kIdle;
        unit.busy_ms += NowMs() - unit.busy_since_ms;
        unit.job = -1;
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
            const std::optional<bool> still = world_->StillThere(c->category, job.at, ClockMs());
            // A World without eyes there leaves the check to an inspector, who closes the case through the API.
            if (!still) continue;
            if (!*still) {
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
    // The filed cases as the engine holds them now (priority includes urgency and escalation), and dispatched ones
    // whose unit refused or was lost.
    std::vector<incident::Case> filed = engine_->OpenCasesIn(incident::CaseStatus::kFiled);
    if (orders_dropped_ > 0) {
        for (incident::Case& c : engine_->OpenCasesIn(incident::CaseStatus::kDispatched)) filed.push_back(std::move(c));
    }
    std::vector<size_t> task_jobs;
    std::vector<std::string> tasks_category;
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
        tasks_category.push_back(c.category);
        tasks.push_back({job.node, kinds, std::clamp(c.priority, 1, 4)});
    }
    if (tasks.empty()) return {};
    std::vector<size_t> free_units;
    std::vector<dispatch::UnitState> states;
    const incident::TimeMs clock = ClockMs();
    for (size_t u = 0; u < units_.size(); ++u) {
        if (units_[u].mode != UnitMode::kIdle || !world_->Available(u)) continue;
        free_units.push_back(u);
        dispatch::UnitState s;
        s.kind = units_[u].kind;
        s.node = world_->UnitNode(u, clock);
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
        auto route = dispatcher_->RouteOf(unit.kind, states[static_cast<size_t>(su)].node, job.node);
        if (!route) continue;  // cannot happen: the table said reachable
        const double eta_s = static_cast<double>(route->time_ms()) / 1000;
        CB_TRY_ASSIGN(bool sent,
                      Transition(job,
                                 incident::Action::kDispatch,
                                 unit.name,
                                 std::string(dispatch::UnitKindName(unit.kind)) + " " + unit.name + ", ETA " +
                                     std::to_string(static_cast<int>(eta_s)) + " s"));
        if (!sent) continue;
        Order order;
        order.case_id = job.id;
        order.category = tasks_category[k];
        order.target = job.node;
        order.at = job.at;
        order.route = *route;
        unit.route = std::move(*route);
        unit.depart_ms = clock;
        const incident::Category* cat = taxonomy.Find(order.category);
        // The notice a robot says on arrival (a crew speaks for itself).
        if (unit.kind != dispatch::UnitKind::kCrew && cat != nullptr) order.notice = cat->notice;
        world_->Send(unit_index, order, clock);
        unit.mode = UnitMode::kEnRoute;
        unit.job = static_cast<int32_t>(task_jobs[k]);
        unit.busy_since_ms = NowMs();
        job.unit = static_cast<int32_t>(unit_index);
        job.unit_name = unit.name;
    }
    return {};
}

Status Brain::FollowUnits() {
    const incident::TimeMs now = NowMs();
    const incident::Taxonomy& taxonomy = engine_->taxonomy();
    events_.clear();
    world_->Poll(ClockMs(), events_);
    for (const UnitEvent& ev : events_) {
        Unit& u = units_[ev.unit];
        // A report about an order the brain has since called off, or from before a restart: nothing to do.
        if (u.job < 0 || jobs_[static_cast<size_t>(u.job)].id != ev.case_id) continue;
        Job& job = jobs_[static_cast<size_t>(u.job)];
        if (ev.what == UnitEvent::What::kArrived) {
            u.mode = UnitMode::kOnSite;
            const auto c = engine_->OpenCase(job.id);
            if (!c) {
                ReleaseUnit(job);
                continue;
            }
            job.onsite_ms = now;
            response_ms_.push_back(now - job.first_report_ms);
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
        } else if (ev.what == UnitEvent::What::kDone) {
            CB_TRY_ASSIGN(bool reported, Transition(job, incident::Action::kFeedback, u.name, "done"));
            if (reported) {
                job.next_check_ms = now + (job.source == incident::Source::kCitizen ? options_.inspector_verify_ms
                                                                                    : options_.camera_verify_ms);
            }
            u.mode = UnitMode::kIdle;
            u.busy_ms += now - u.busy_since_ms;
            u.job = -1;
            job.unit = -1;  // the unit is free; job.unit_name keeps who did it
        } else {
            // Refused, or lost with its unit: the case waits for the next round, still dispatched.
            ++orders_dropped_;
            u.mode = UnitMode::kIdle;
            u.busy_ms += now - u.busy_since_ms;
            u.job = -1;
            job.unit = -1;
        }
    }
    return {};
}

void Brain::UpdateSpeeds() {
    if (world_->RoadSpeeds(road_speed_)) {
        dispatcher_->UpdateRoadSpeeds(road_speed_);
        std::lock_guard lock(traffic_mu_);
        traffic_copy_ = road_speed_;
    }
}

nlohmann::json Brain::TrafficNear(core::Point p, double radius_m) const {
    std::vector<double> speeds;
    {
        std::lock_guard lock(traffic_mu_);
        speeds = traffic_copy_;
    }
    if (speeds.empty()) return {{"available", false}};
    const auto& net = district_.net;
    // Per street name: the mean of its roads' speed ratios (an empty road runs at its limit).
    std::map<std::string, std::pair<double, double>> by_name;  // name -> (sum of ratios, roads)
    std::map<std::string, std::pair<double, double>> kmh;      // name -> (sum of speeds, sum of limits)
    for (size_t i = 0; i < net.roads.size() && i < speeds.size(); ++i) {
        const core::Road& road = net.roads[i];
        if (road.name.empty() || road.points.empty() || road.num_lanes == 0) continue;
        const core::Point mid = road.points[road.points.size() / 2];
        if (std::hypot(mid.x - p.x, mid.y - p.y) > radius_m) continue;
        const double limit = net.lanes[static_cast<size_t>(road.first_lane)].max_speed_mps;
        const double speed = std::isnan(speeds[i]) ? limit : std::min(speeds[i], limit);
        auto& r = by_name[road.name];
        r.first += speed / limit;
        r.second += 1;
        auto& k = kmh[road.name];
        k.first += speed * 3.6;
        k.second += limit * 3.6;
    }
    auto level = [](double ratio) { return ratio >= 0.7 ? "free" : ratio >= 0.4 ? "slow" : "jammed"; };
    nlohmann::json roads = nlohmann::json::array();
    double worst = 1;
    for (const auto& [name, r] : by_name) {
        const double ratio = r.first / r.second;
        worst = std::min(worst, ratio);
        roads.push_back({{"name", name},
                         {"speed_kmh", std::round(kmh[name].first / r.second)},
                         {"limit_kmh", std::round(kmh[name].second / r.second)},
                         {"ratio", std::round(ratio * 100) / 100},
                         {"level", level(ratio)}});
    }
    if (roads.empty()) return {{"available", true}, {"roads", roads}};
    return {{"available", true}, {"roads", roads}, {"level", level(worst)}};
}

void Brain::RecordSeries() {
    const TrafficSample t = world_->Sample().value_or(TrafficSample{});
    series_.push_back({Now(), t.vehicles, t.speed_ratio, static_cast<double>(OpenCases()), t.att_s});
}

Status Brain::Step() {
    if (Finished()) return {};
    const incident::TimeMs t = NowMs();
    CB_TRY(SenseWorld());
    CB_TRY(FollowEngine());
    CB_TRY(Review());
    if (t % options_.dispatch_interval_ms == 0) CB_TRY(DispatchUnits());
    CB_TRY(FollowUnits());
    if (t % options_.speed_update_ms == 0) UpdateSpeeds();
    if (t % 60'000 == 0) {
        CB_TRY_ASSIGN(int escalated, engine_->Tick(ClockMs()));
        (void)escalated;
    }
    CB_TRY(world_->Settle(ClockMs()));
    now_ms_.store(t + options_.step_ms, std::memory_order_relaxed);
    if ((t + options_.step_ms) % 60'000 == 0) RecordSeries();
    return {};
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
        // The console labels and explains a junction by its streets' names, never by its id.
        const auto place = gazetteer_.Nearest(in.point, 40, 0);
        nodes.push_back({{"id", in.id},
                         {"name", place && place->junction ? place->name : std::string()},
                         {"x", in.point.x},
                         {"y", in.point.y},
                         {"signal", !in.is_virtual && !in.phases.empty()}});
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
    nlohmann::json departments = nlohmann::json::object();
    for (const auto& d : engine_->taxonomy().departments()) departments[d.code] = {{"name", d.name}, {"en", d.name_en}};
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
                          {"departments", std::move(departments)},
                          {"duration_s", Duration()},
                          {"epoch_ms", options_.epoch_ms}}
        .dump();
}

nlohmann::json Brain::Frame(bool with_series) const {
    const incident::TimeMs clock = ClockMs();
    nlohmann::json units = nlohmann::json::array();
    for (size_t i = 0; i < units_.size(); ++i) {
        const Unit& u = units_[i];
        const core::Point p = world_->UnitPosition(i, clock);
        nlohmann::json entry = {std::round(p.x),
                                std::round(p.y),
                                static_cast<int>(u.mode),
                                u.job >= 0 ? jobs_[static_cast<size_t>(u.job)].id : 0};
        if (u.mode == UnitMode::kEnRoute && !u.route.nodes.empty()) {
            // Under way: the time left on the plan and the rest of its path, for the console to draw.
            const auto travelled = static_cast<dispatch::TimeMs>(clock - u.depart_ms);
            entry.push_back(std::max<int64_t>(0, (u.route.time_ms() - travelled) / 1000));
            nlohmann::json path = nlohmann::json::array();
            for (size_t k = u.route.Passed(travelled) + 1; k < u.route.nodes.size(); ++k) {
                const core::Point q = district_.net.intersections[u.route.nodes[k]].point;
                path.push_back(std::round(q.x));
                path.push_back(std::round(q.y));
            }
            entry.push_back(std::move(path));
        }
        units.push_back(std::move(entry));
    }
    // The newest 400 cases, read from the engine's store and rendered as /api/v1/cases renders them; what the
    // brain did about each (unit, arrival, reply, notice) is added under its own keys.
    nlohmann::json cases = nlohmann::json::array();
    incident::CaseFilter filter;
    filter.limit = 400;
    filter.offset = static_cast<int>(jobs_.size() > 400 ? jobs_.size() - 400 : 0);
    if (auto listed = engine_->ListCases(filter, clock); listed.ok()) {
        for (const incident::Case& c : *listed) {
            nlohmann::json j = incident::CaseJson(c, engine_->taxonomy(), clock);
            // The human queue's cases carry the classifier's guesses, for the operator's one-click decision.
            if (c.status == incident::CaseStatus::kReported) {
                j["guesses"] = incident::GuessesJson(engine_->Guesses(c.description), engine_->taxonomy());
            }
            auto it = job_index_.find(c.id);
            if (it != job_index_.end()) {
                const Job& job = jobs_[it->second];
                j["source"] = incident::SourceName(job.source);
                j["first_report_s"] = static_cast<double>(job.first_report_ms) / 1000;
                if (job.has_point) j["xy"] = {std::round(job.at.x), std::round(job.at.y)};
                if (job.onsite_ms >= 0) j["onsite_s"] = static_cast<double>(job.onsite_ms - job.first_report_ms) / 1000;
                if (!job.unit_name.empty()) j["unit"] = job.unit_name;
                if (!job.reply.empty()) {
                    j["reply"] = job.reply;
                    j["reply_time"] = core::FormatTimestamp(job.reply_ms);
                }
                if (!job.notice.empty()) j["notice"] = job.notice;
            }
            cases.push_back(std::move(j));
        }
    }
    nlohmann::json frame = {{"t", Now()},
                            {"duration_s", Duration()},
                            {"units", std::move(units)},
                            {"cases", std::move(cases)},
                            {"kpi", Results()}};
    world_->Draw(frame, clock);
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
    nlohmann::json results = {
        {"sim_s", Now()},
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
        {"intake_classifier",
         IntakeDescription(options_.classifier.get(), options_.classifier_threshold, options_.intake_order)},
        {"human_queue", human_queue_},
        {"intake_errors", intake_errors_},
        {"stale_plans", stale_plans_},
        {"orders_dropped", orders_dropped_},
        {"route_table_rebuilds", dispatcher_->rebuilds()}};
    world_->Measure(results);
    return results;
}

}  // namespace citybrain::district
