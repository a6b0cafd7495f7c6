// SPDX-License-Identifier: Apache-2.0
#include "district/brain.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>

#include "dispatch/assignment.hpp"
#include "dispatch/speech.hpp"
#include "nlp/urgency.hpp"

namespace citybrain::district {

namespace {

using dispatch::KindMask;
using dispatch::MaskOf;
using dispatch::UnitKind;

/// Which units may handle a category: robot dogs speak to vendors and drivers, sanitation robots clear rubbish
/// and pump water, crews can do anything.
KindMask KindsFor(const std::string& category) {
    const KindMask crew = MaskOf(UnitKind::kCrew);
    if (category == "street_vending" || category == "illegal_parking") return crew | MaskOf(UnitKind::kRobotDog);
    if (category == "waterlogging" || category == "exposed_rubbish" || category == "bulky_waste") {
        return crew | MaskOf(UnitKind::kSanitationRobot);
    }
    return crew;
}

/// What a robot says on arrival (played through its speaker by espeak-ng's Mandarin voice).
const char* NoticeFor(const std::string& category) {
    if (category == "street_vending") return "您好，这里禁止占道经营，请您尽快收摊离开，谢谢配合。";
    if (category == "illegal_parking") return "您好，这里禁止停车，请尽快把车开走，谢谢配合。";
    if (category == "waterlogging") return "前方道路积水，请绕行，注意安全。";
    return nullptr;
}

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

double Percentile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const double pos = q * static_cast<double>(v.size() - 1);
    const size_t lo = static_cast<size_t>(pos);
    const size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

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
      duration_s_(std::round(options.sim_hours * 3600)),
      world_(district, options.seed, std::round(options.sim_hours * 3600)) {}

Brain::~Brain() = default;

Result<std::unique_ptr<Brain>> Brain::Create(const District& district, const BrainOptions& options) {
    if (!(options.sim_hours > 0) || options.sim_hours > 48) return InvalidArgument("--sim-hours", "must be in (0, 48]");
    std::unique_ptr<Brain> b(new Brain(district, options));
    traffic::RunOptions run;
    run.controller = options.adaptive;
    run.sim.seed = options.seed;
    run.sim.threads = options.threads;
    CB_TRY_ASSIGN(b->traffic_, traffic::SignalledSim::Create(district.net, district.demand, run));

    // A run owns its store: a fresh file, so that cases of an earlier run do not absorb this run's reports.
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::error_code ec;
        std::filesystem::remove(options.db_path + suffix, ec);
    }
    // Not fsynced per commit: the run is a simulation, and WAL keeps the file consistent after a crash or Ctrl-C.
    CB_TRY_ASSIGN(auto store, incident::OpenSqliteStore(options.db_path, /*durable=*/false));
    incident::EngineOptions engine_options;
    engine_options.origin = {{district.frame.origin_lat(), district.frame.origin_lon()}};
    CB_TRY_ASSIGN(b->engine_,
                  incident::IncidentEngine::Open(std::move(store), incident::Taxonomy::Default(), engine_options));

    CB_TRY_ASSIGN(b->drive_, dispatch::RoadGraph::FromRoadNetwork(district.net));
    std::vector<dispatch::RoadGraph::EdgeSpec> walk;
    std::vector<std::string> names;
    std::vector<core::Point> xy;
    for (const auto& in : district.net.intersections) {
        names.push_back(in.id);
        xy.push_back(in.point);
    }
    for (size_t r = 0; r < district.net.roads.size(); ++r) {
        const core::Road& road = district.net.roads[r];
        // Pavements run both ways along every road.
        walk.push_back({static_cast<dispatch::NodeId>(road.from),
                        static_cast<dispatch::NodeId>(road.to),
                        road.length_m,
                        1.0,
                        static_cast<int32_t>(r)});
        walk.push_back({static_cast<dispatch::NodeId>(road.to),
                        static_cast<dispatch::NodeId>(road.from),
                        road.length_m,
                        1.0,
                        static_cast<int32_t>(r)});
    }
    CB_TRY_ASSIGN(b->walk_, dispatch::RoadGraph::Build(std::move(names), std::move(xy), std::move(walk), "pavements"));
    b->gazetteer_ = GazetteerOf(b->drive_);
    for (const Landmark& l : district.landmarks) b->gazetteer_.AddLandmark(l.name, l.at);
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

const dispatch::RoadGraph& Brain::GraphOf(UnitKind kind) const { return kind == UnitKind::kCrew ? drive_ : walk_; }

double Brain::PaceOf(UnitKind kind) const {
    switch (kind) {
        case UnitKind::kRobotDog:
            return 2.5;  // m/s on pavements
        case UnitKind::kSanitationRobot:
            return 1.8;
        case UnitKind::kDrone:
            return 10;
        case UnitKind::kCrew:
            break;
    }
    return 1;  // the drive graph's own times
}

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

Status Brain::Transition(Tracked& c, incident::Action action, const std::string& actor, const std::string& note) {
    const incident::TimeMs now = ClockMs(now_s_);
    auto r = engine_->Apply(c.id, action, actor, note, now);
    if (!r.ok()) return r.error();
    // The step that ends now ended late: the same rule by which the engine escalates, kept here so that the
    // compliance figure needs no query per case and frame.
    if (c.deadline_ms > 0 && now > c.deadline_ms) c.missed = true;
    c.status = r->status;
    c.deadline_ms = r->deadline_ms;
    return {};
}

Status Brain::Intake(double t) {
    reports_.clear();
    world_.Advance(t, reports_);
    if (reports_.empty()) return {};
    for (incident::Report& r : reports_) {
        r.time_ms += options_.epoch_ms;
        if (r.source != incident::Source::kCitizen) continue;
        ++messages_;
        if (r.lat) continue;
        if (const auto place = gazetteer_.Locate(r.description)) {
            const auto [lat, lon] = district_.frame.ToWgs84(place->where);
            r.lat = lat;
            r.lon = lon;
            r.address = place->name;
            ++messages_located_;
        }
    }
    auto receipts = engine_->Ingest(reports_, ClockMs(t));
    const incident::Taxonomy& taxonomy = engine_->taxonomy();
    for (size_t i = 0; i < receipts.size(); ++i) {
        if (!receipts[i].ok()) {
            ++intake_errors_;
            continue;
        }
        const incident::Receipt& rec = *receipts[i];
        const incident::Report& report = reports_[i];
        if (rec.retried) continue;
        if (rec.classified) {
            ++classified_;
            const auto& truth = world_.MessageTruth();
            const std::string_view id = report.external_id;
            size_t n = truth.size();
            if (id.rfind("app-", 0) == 0) std::from_chars(id.data() + 4, id.data() + id.size(), n);
            if (n < truth.size() && truth[n] == rec.category) ++classified_right_;
        }
        if (rec.duplicate) {
            ++duplicates_merged_;
            if (auto it = case_index_.find(rec.case_id); it != case_index_.end()) ++cases_[it->second].reports;
            continue;
        }
        Tracked c;
        c.id = rec.case_id;
        c.category = rec.category;
        c.department = rec.department;
        c.source = report.source;
        c.first_report_s = t;
        c.deadline_ms = rec.deadline_ms;
        const incident::Category* cat = taxonomy.Find(rec.category);
        c.priority = cat != nullptr ? cat->priority : 3;
        if (report.lat) {
            c.has_point = true;
            c.at = district_.frame.ToLocal(*report.lat, *report.lon);
            c.node = NearestNode(c.at);
        }
        const bool citizen = report.source == incident::Source::kCitizen;
        if (citizen) {
            // Danger words raise the priority the category gives (a missing manhole cover near children, …).
            c.priority = nlp::AssessUrgency(report.description, c.priority).priority;
            const incident::Department* dept = taxonomy.FindDepartment(rec.department);
            c.reply = nlp::AcknowledgementReply(
                std::to_string(rec.case_id), dept != nullptr ? dept->name : rec.department, rec.deadline_ms);
        }
        case_index_.emplace(c.id, cases_.size());
        cases_.push_back(std::move(c));
        Tracked& added = cases_.back();
        // Machines and confident classifications are filed at once; the rest wait for an operator (human queue).
        const bool sure = citizen ? (rec.classified && added.has_point) : report.confidence >= 0.8;
        if (sure) {
            CB_TRY(Transition(added, incident::Action::kFile, "brain", citizen ? "filed on intake" : "sensor/camera"));
        } else {
            added.next_check_s = t + options_.operator_review_s;
            ++human_queue_;
        }
    }
    return {};
}

Status Brain::Review(double t) {
    const std::string& fallback = engine_->taxonomy().Fallback().code;
    for (Tracked& c : cases_) {
        if (c.next_check_s < 0 || c.next_check_s > t) continue;
        c.next_check_s = -1;
        if (c.status == incident::CaseStatus::kReported) {
            if (c.category != fallback && c.has_point) {
                CB_TRY(Transition(c, incident::Action::kFile, "operator", "filed after review"));
            } else {
                CB_TRY(Transition(c,
                                  incident::Action::kReject,
                                  "operator",
                                  c.has_point ? "not a matter for a unit: answered by the 12345 knowledge base"
                                              : "no place given: the citizen is called back"));
            }
        } else if (c.status == incident::CaseStatus::kHandled) {
            if (!world_.StillThere(c.category, c.at, t)) {
                CB_TRY(Transition(c,
                                  incident::Action::kClose,
                                  c.source == incident::Source::kCitizen ? "inspector" : "camera",
                                  "verified on the spot"));
            } else {
                c.next_check_s = t + 300;  // still there: look again (the verify deadline keeps running)
            }
        }
    }
    return {};
}

Status Brain::DispatchUnits(double t) {
    std::vector<size_t> task_cases;
    std::vector<dispatch::TaskSpec> tasks;
    for (size_t i = 0; i < cases_.size(); ++i) {
        const Tracked& c = cases_[i];
        if (c.status != incident::CaseStatus::kFiled || c.unit >= 0 || !c.has_point) continue;
        task_cases.push_back(i);
        tasks.push_back({c.node, KindsFor(c.category), std::clamp(c.priority, 1, 4)});
    }
    if (tasks.empty()) return {};
    std::vector<size_t> free_units;
    std::vector<dispatch::UnitState> states;
    std::vector<std::vector<dispatch::TimeMs>> table;
    for (size_t u = 0; u < units_.size(); ++u) {
        if (units_[u].mode != UnitMode::kIdle) continue;
        free_units.push_back(u);
        dispatch::UnitState s;
        s.kind = units_[u].kind;
        s.node = units_[u].node;
        states.push_back(s);
        const auto all = dispatch::OneToAll(GraphOf(s.kind), s.node);
        const double pace = PaceOf(s.kind);
        auto& row = table.emplace_back();
        row.reserve(tasks.size());
        for (const auto& task : tasks) {
            const dispatch::TimeMs ms = all[task.node];
            row.push_back(ms == dispatch::kUnreachable ? ms
                                                       : static_cast<dispatch::TimeMs>(static_cast<double>(ms) / pace));
        }
    }
    if (states.empty()) return {};
    const dispatch::AssignmentResult result = dispatch::Assign(states, tasks, table);
    for (size_t k = 0; k < tasks.size(); ++k) {
        const int32_t su = result.unit_of_task[k];
        if (su < 0) continue;
        Unit& unit = units_[free_units[static_cast<size_t>(su)]];
        Tracked& c = cases_[task_cases[k]];
        const dispatch::RoadGraph& g = GraphOf(unit.kind);
        const auto path = dispatch::ShortestPath(g, unit.node, c.node);
        if (!path) continue;  // cannot happen: the table said reachable
        const double pace = PaceOf(unit.kind);
        unit.path = path->nodes;
        unit.at_s.assign(1, t);
        for (size_t i = 1; i < unit.path.size(); ++i) {
            dispatch::TimeMs best = dispatch::kUnreachable;
            for (uint32_t e = g.first_out[unit.path[i - 1]]; e < g.first_out[unit.path[i - 1] + 1]; ++e) {
                if (g.head[e] == unit.path[i]) best = std::min<dispatch::TimeMs>(best, g.time_ms[e]);
            }
            unit.at_s.push_back(unit.at_s.back() + static_cast<double>(best) / 1000 / pace);
        }
        unit.mode = UnitMode::kEnRoute;
        unit.job = static_cast<int32_t>(task_cases[k]);
        unit.busy_since_s = t;
        c.unit = static_cast<int32_t>(free_units[static_cast<size_t>(su)]);
        const double eta = unit.at_s.back() - t;
        CB_TRY(Transition(c,
                          incident::Action::kDispatch,
                          unit.name,
                          std::string(dispatch::UnitKindName(unit.kind)) + " " + unit.name + ", ETA " +
                              std::to_string(static_cast<int>(eta)) + " s"));
    }
    return {};
}

Status Brain::MoveUnits(double t) {
    for (Unit& u : units_) {
        if (u.mode == UnitMode::kEnRoute && t >= u.at_s.back()) {
            u.node = u.path.back();
            u.mode = UnitMode::kOnSite;
            Tracked& c = cases_[static_cast<size_t>(u.job)];
            c.onsite_s = t;
            response_s_.push_back(t - c.first_report_s);
            c.handle = world_.BeginHandling(c.category, c.at, t);
            std::string note = "on site";
            if (u.kind != UnitKind::kCrew) {
                if (const char* text = NoticeFor(c.category)) {
                    // The notice as the robot's speech synthesiser reads it (numbered pinyin for espeak-ng).
                    auto pinyin = dispatch::ToPinyin(text);
                    if (pinyin.ok()) {
                        ++notices_;
                        c.notice = text;
                        note += "; notice played: " + std::string(text);
                    }
                }
            }
            CB_TRY(Transition(c, incident::Action::kStart, u.name, note));
        } else if (u.mode == UnitMode::kOnSite) {
            Tracked& c = cases_[static_cast<size_t>(u.job)];
            if (!world_.Done(c.handle, t)) continue;
            CB_TRY(Transition(c, incident::Action::kFeedback, u.name, "done"));
            c.next_check_s =
                t + (c.source == incident::Source::kCitizen ? options_.inspector_verify_s : options_.camera_verify_s);
            u.mode = UnitMode::kIdle;
            u.busy_s += t - u.busy_since_s;
            u.job = -1;
            u.path.clear();
            u.at_s.clear();
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
    drive_.UpdateRoadSpeeds(road_speed_);
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
    series_.push_back({now_s_,
                       static_cast<double>(Vehicles()),
                       n > 0 ? ratio_sum / n : 1.0,
                       static_cast<double>(OpenCases()),
                       traffic_->sim().GetMetrics().att_s});
}

Status Brain::Step() {
    if (Finished()) return {};
    const double t = now_s_;
    CB_TRY(Intake(t));
    CB_TRY(Review(t));
    if (std::fmod(t, options_.dispatch_interval_s) < 1e-9) CB_TRY(DispatchUnits(t));
    CB_TRY(MoveUnits(t));
    if (std::fmod(t, options_.speed_update_s) < 1e-9) UpdateSpeeds();
    if (std::fmod(t, 60) < 1e-9) {
        CB_TRY_ASSIGN(int escalated, engine_->Tick(ClockMs(t)));
        (void)escalated;
    }
    traffic_->Step();
    now_s_ = traffic_->sim().Now();
    if (std::fmod(now_s_, 60) < 1e-9) RecordSeries();
    return {};
}

core::Point Brain::UnitPosition(const Unit& u, double t) const {
    const auto& xy = drive_.node_xy;
    if (u.mode == UnitMode::kOnSite && u.job >= 0) {
        const Tracked& c = cases_[static_cast<size_t>(u.job)];
        if (c.has_point) return c.at;
    }
    if (u.mode != UnitMode::kEnRoute || u.path.size() < 2) return xy[u.node];
    size_t i = 1;
    while (i + 1 < u.path.size() && u.at_s[i] <= t) ++i;
    const double span = u.at_s[i] - u.at_s[i - 1];
    const double f = span > 0 ? std::clamp((t - u.at_s[i - 1]) / span, 0.0, 1.0) : 1.0;
    const core::Point a = xy[u.path[i - 1]], b = xy[u.path[i]];
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
                          {"duration_s", duration_s_},
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
        const core::Point p = UnitPosition(u, now_s_);
        units.push_back({std::round(p.x),
                         std::round(p.y),
                         static_cast<int>(u.mode),
                         u.job >= 0 ? cases_[static_cast<size_t>(u.job)].id : 0});
    }
    nlohmann::json cases = nlohmann::json::array();
    const size_t first = cases_.size() > 400 ? cases_.size() - 400 : 0;
    for (size_t i = first; i < cases_.size(); ++i) {
        const Tracked& c = cases_[i];
        nlohmann::json j = {{"id", c.id},
                            {"cat", c.category},
                            {"status", incident::StatusName(c.status)},
                            {"dept", c.department},
                            {"prio", c.priority},
                            {"src", incident::SourceName(c.source)},
                            {"reports", c.reports},
                            {"t0", c.first_report_s}};
        if (c.has_point) j["xy"] = {std::round(c.at.x), std::round(c.at.y)};
        if (c.onsite_s >= 0) j["onsite_s"] = c.onsite_s - c.first_report_s;
        if (c.unit >= 0) j["unit"] = units_[static_cast<size_t>(c.unit)].name;
        if (!c.reply.empty()) j["reply"] = c.reply;
        if (!c.notice.empty()) j["notice"] = c.notice;
        cases.push_back(std::move(j));
    }
    nlohmann::json frame = {{"t", now_s_},
                            {"duration_s", duration_s_},
                            {"vehicles", sim.Running()},
                            {"waiting", sim.Waiting()},
                            {"raining", world_.Raining(now_s_)},
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
    nlohmann::json by_category = nlohmann::json::object();
    size_t counted = 0, met = 0, closed = 0, rejected = 0;
    const incident::TimeMs now = ClockMs(now_s_);
    for (const Tracked& c : cases_) {
        by_category[c.category] = by_category.value(c.category, 0) + 1;
        if (c.status == incident::CaseStatus::kRejected) {
            ++rejected;
            continue;
        }
        if (c.status == incident::CaseStatus::kClosed) ++closed;
        // Met: no step has ended after its deadline, and the current step's deadline (if any) lies ahead.
        ++counted;
        const bool open = incident::IsOpen(c.status);
        if (!c.missed && !(open && c.deadline_ms > 0 && c.deadline_ms < now)) ++met;
    }
    double busy = 0;
    for (const Unit& u : units_) busy += u.busy_s + (u.mode != UnitMode::kIdle ? now_s_ - u.busy_since_s : 0);
    const double utilisation = units_.empty() || now_s_ <= 0 ? 0 : busy / (static_cast<double>(units_.size()) * now_s_);
    const traffic::Metrics m = traffic_->sim().GetMetrics();
    return {{"sim_s", now_s_},
            {"att_adaptive_s", m.att_s},
            {"throughput_adaptive", m.throughput},
            {"vehicles", m.spawned},
            {"cases", std::move(by_category)},
            {"cases_total", cases_.size()},
            {"cases_closed", closed},
            {"cases_rejected", rejected},
            {"open_cases", OpenCases()},
            {"duplicates_merged", duplicates_merged_},
            {"reached", response_s_.size()},
            {"p50_response_s", Percentile(response_s_, 0.5)},
            {"p95_response_s", Percentile(response_s_, 0.95)},
            {"deadline_met_ratio", counted > 0 ? static_cast<double>(met) / static_cast<double>(counted) : 1.0},
            {"unit_utilisation", utilisation},
            {"notices_played", notices_},
            {"messages", messages_},
            {"messages_located", messages_located_},
            {"classified_on_intake", classified_},
            {"classified_correct", classified_right_},
            {"human_queue", human_queue_},
            {"intake_errors", intake_errors_},
            {"vendors_appeared", world_.VendorsAppeared()}};
}

}  // namespace citybrain::district
