// SPDX-License-Identifier: Apache-2.0
// SUMO .net.xml and route files through pugixml.
#include "io/sumo.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <pugixml.hpp>
#include <queue>
#include <sstream>
#include <unordered_map>

#include "core/file.hpp"
#include "io/parse_failure.hpp"

namespace citybrain::io {

using core::Intersection;
using core::Lane;
using core::LaneLink;
using core::Phase;
using core::Point;
using core::Road;
using core::RoadLink;
using core::RoadNetwork;
using core::TurnType;

namespace {

using detail::Guard;
using detail::ParseFailure;

// Element places as "<source>:<line> <element>".
class Places {
public:
    Places(std::string_view text, std::string source) : text_(text), source_(std::move(source)) {}

    std::string Of(const pugi::xml_node& el, const char* attr = nullptr) const {
        std::string out = source_;
        const ptrdiff_t offset = el.offset_debug();
        if (offset >= 0 && static_cast<size_t>(offset) <= text_.size()) {
            out += ":" + std::to_string(1 + std::count(text_.begin(), text_.begin() + offset, '\n'));
        }
        out += std::string(" <") + el.name();
        if (const char* id = el.attribute("id").value(); *id != '\0') out += std::string(" id='") + id + "'";
        out += ">";
        if (attr != nullptr) out += std::string("@") + attr;
        return out;
    }

    [[noreturn]] void Fail(const pugi::xml_node& el, const char* attr, std::string message) const {
        throw ParseFailure{Of(el, attr), std::move(message)};
    }

    const std::string& source() const { return source_; }

private:
    std::string_view text_;
    std::string source_;
};

pugi::xml_document ParseXml(std::string_view text, const std::string& source) {
    pugi::xml_document doc;
    const pugi::xml_parse_result r = doc.load_buffer(text.data(), text.size());
    if (!r) {
        const auto offset = static_cast<size_t>(std::max<ptrdiff_t>(r.offset, 0));
        const auto line = 1 + std::count(text.begin(), text.begin() + std::min(offset, text.size()), '\n');
        throw ParseFailure{source + ":" + std::to_string(line), std::string("malformed XML: ") + r.description()};
    }
    return doc;
}

const char* Required(const Places& at, const pugi::xml_node& el, const char* attr) {
    const pugi::xml_attribute a = el.attribute(attr);
    if (!a) at.Fail(el, attr, "is missing");
    return a.value();
}

double ToNumber(const Places& at, const pugi::xml_node& el, const char* attr, const char* value) {
    double v = 0;
    const char* end = value + std::strlen(value);
    auto [ptr, ec] = std::from_chars(value, end, v);
    if (ec != std::errc() || ptr != end || !std::isfinite(v)) {
        at.Fail(el, attr, "expected a number, got '" + std::string(value).substr(0, 40) + "'");
    }
    return v;
}

double Number(const Places& at, const pugi::xml_node& el, const char* attr) {
    return ToNumber(at, el, attr, Required(at, el, attr));
}

double NumberOr(const Places& at, const pugi::xml_node& el, const char* attr, double fallback) {
    const pugi::xml_attribute a = el.attribute(attr);
    return a ? ToNumber(at, el, attr, a.value()) : fallback;
}

double Positive(const Places& at, const pugi::xml_node& el, const char* attr, double v) {
    if (!(v > 0)) at.Fail(el, attr, "must be positive");
    return v;
}

bool ClosedToCars(const pugi::xml_node& lane) {
    const std::string allow = lane.attribute("allow").value();
    const std::string disallow = lane.attribute("disallow").value();
    if (!allow.empty() && allow.find("passenger") == std::string::npos && allow != "all") return true;
    return disallow.find("passenger") != std::string::npos || disallow == "all";
}

std::vector<std::string> Words(const char* text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string w;
    while (in >> w) out.push_back(w);
    return out;
}

struct Connection {
    core::RoadId from = core::kNone;
    core::RoadId to = core::kNone;
    int32_t from_lane = 0;  // engine lane index
    int32_t to_lane = 0;
    TurnType type = TurnType::kStraight;
    std::string tl;
    int32_t link_index = -1;
};

RoadNetwork ParseNetOrThrow(std::string_view text, const std::string& source, SumoImportNotes& notes) {
    const Places at(text, source);
    const pugi::xml_document doc = ParseXml(text, source);
    const pugi::xml_node root = doc.child("net");
    if (!root) throw ParseFailure{source, "no <net> element: not a SUMO .net.xml"};
    RoadNetwork net;

    std::unordered_map<std::string, core::IntersectionId> node_of;
    std::vector<std::string> node_type;
    for (const pugi::xml_node j : root.children("junction")) {
        const std::string type = j.attribute("type").value();
        if (type == "internal") continue;
        Intersection node;
        node.id = Required(at, j, "id");
        node.point = {Number(at, j, "x"), Number(at, j, "y")};
        if (!node_of.emplace(node.id, static_cast<core::IntersectionId>(net.intersections.size())).second) {
            at.Fail(j, "id", "duplicate junction id");
        }
        net.intersections.push_back(std::move(node));
        node_type.push_back(type);
    }

    // Edges: only lanes open to cars, mirrored so that engine lane 0 is the innermost.
    std::unordered_map<std::string, core::RoadId> road_of;
    std::unordered_map<std::string, std::vector<int32_t>> lane_map;  // edge id -> SUMO index -> engine index
    for (const pugi::xml_node e : root.children("edge")) {
        const char* function = e.attribute("function").value();
        if (*function != '\0' && std::strcmp(function, "normal") != 0) {
            ++notes.edges_skipped;
            continue;
        }
        Road road;
        road.id = Required(at, e, "id");
        for (const char* attr : {"from", "to"}) {
            const char* ref = Required(at, e, attr);
            auto it = node_of.find(ref);
            if (it == node_of.end()) at.Fail(e, attr, std::string("unknown junction '") + ref + "'");
            (attr[0] == 'f' ? road.from : road.to) = it->second;
        }
        if (road.from == road.to) at.Fail(e, "to", "an edge that starts and ends at one junction is not supported");
        road.name = e.attribute("name").value();
        std::vector<std::pair<int32_t, pugi::xml_node>> open;  // (SUMO index, lane)
        int32_t max_index = -1;
        for (const pugi::xml_node l : e.children("lane")) {
            const double index = Number(at, l, "index");
            if (index < 0 || index > 64 || index != std::floor(index)) at.Fail(l, "index", "must be 0..64");
            max_index = std::max(max_index, static_cast<int32_t>(index));
            if (ClosedToCars(l)) {
                ++notes.lanes_skipped;
                continue;
            }
            open.emplace_back(static_cast<int32_t>(index), l);
        }
        if (open.empty()) {
            ++notes.edges_skipped;
            continue;
        }
        std::sort(open.begin(), open.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
        const auto road_id = static_cast<core::RoadId>(net.roads.size());
        road.first_lane = static_cast<core::LaneId>(net.lanes.size());
        road.num_lanes = static_cast<int32_t>(open.size());
        std::vector<int32_t>& map = lane_map[road.id];
        map.assign(static_cast<size_t>(max_index) + 1, -1);
        double length = 0;
        for (size_t k = 0; k < open.size(); ++k) {
            const pugi::xml_node l = open[k].second;
            Lane lane;
            lane.road = road_id;
            lane.index_in_road = static_cast<int32_t>(k);
            lane.width_m = Positive(at, l, "width", NumberOr(at, l, "width", 3.2));
            lane.max_speed_mps = Positive(at, l, "speed", Number(at, l, "speed"));
            const double lane_m = Positive(at, l, "length", Number(at, l, "length"));
            if (lane_m > 1e6) at.Fail(l, "length", "must be at most 1,000 km");
            length = std::max(length, lane_m);
            map[open[k].first] = static_cast<int32_t>(k);
            net.lanes.push_back(lane);
        }
        road.declared_length_m = length;
        road.points = {net.intersections[road.from].point, net.intersections[road.to].point};
        if (!((road.points[1] - road.points[0]).Norm() > 0.1)) {
            at.Fail(e, "to", "its junctions are at the same position");
        }
        if (!road_of.emplace(road.id, road_id).second) at.Fail(e, "id", "duplicate edge id");
        net.intersections[road.from].roads.push_back(road_id);
        net.intersections[road.to].roads.push_back(road_id);
        net.roads.push_back(std::move(road));
    }

    // Connections between normal edges.
    std::vector<Connection> connections;
    for (const pugi::xml_node c : root.children("connection")) {
        const auto from = road_of.find(c.attribute("from").value());
        const auto to = road_of.find(c.attribute("to").value());
        if (from == road_of.end() || to == road_of.end()) continue;  // internal lanes, skipped edges
        Connection conn;
        conn.from = from->second;
        conn.to = to->second;
        const std::string dir = Required(at, c, "dir");
        if (dir == "t") {
            ++notes.u_turns_skipped;
            continue;
        }
        if (dir == "s") {
            conn.type = TurnType::kStraight;
        } else if (dir == "l" || dir == "L") {
            conn.type = TurnType::kLeft;
        } else if (dir == "r" || dir == "R") {
            conn.type = TurnType::kRight;
        } else {
            at.Fail(c, "dir", "unknown direction '" + dir + "' (s, l, L, r, R or t)");
        }
        auto lane_index = [&](const char* attr, core::RoadId road) {
            const double v = Number(at, c, attr);
            const std::vector<int32_t>& map = lane_map[net.roads[road].id];
            if (v < 0 || v != std::floor(v) || static_cast<size_t>(v) >= map.size()) {
                at.Fail(c, attr, "lane does not exist on edge '" + net.roads[road].id + "'");
            }
            return map[static_cast<size_t>(v)];
        };
        conn.from_lane = lane_index("fromLane", conn.from);
        conn.to_lane = lane_index("toLane", conn.to);
        if (conn.from_lane < 0 || conn.to_lane < 0) continue;  // a lane closed to cars
        if (net.roads[conn.from].to != net.roads[conn.to].from) {
            at.Fail(c,
                    "to",
                    "edge '" + net.roads[conn.to].id + "' does not start where '" + net.roads[conn.from].id + "' ends");
        }
        if (const pugi::xml_attribute tl = c.attribute("tl")) {
            conn.tl = tl.value();
            const double idx = Number(at, c, "linkIndex");
            if (idx < 0 || idx != std::floor(idx) || idx > 1e6) at.Fail(c, "linkIndex", "must be a whole number >= 0");
            conn.link_index = static_cast<int32_t>(idx);
        }
        connections.push_back(std::move(conn));
    }

    // Road links per junction, in the file's order of first appearance.
    std::map<std::pair<core::RoadId, core::RoadId>, core::RoadLinkId> link_of;
    std::vector<std::string> node_tl(net.intersections.size());
    std::vector<std::vector<std::pair<int32_t, int32_t>>> node_signal(net.intersections.size());  // (link idx, local)
    for (const Connection& c : connections) {
        const core::IntersectionId node = net.roads[c.from].to;
        auto [it, fresh] =
            link_of.emplace(std::pair{c.from, c.to}, static_cast<core::RoadLinkId>(net.road_links.size()));
        if (fresh) {
            RoadLink link;
            link.intersection = node;
            link.index_in_intersection = static_cast<int32_t>(net.intersections[node].road_links.size());
            link.type = c.type;
            link.from_road = c.from;
            link.to_road = c.to;
            net.intersections[node].road_links.push_back(it->second);
            net.road_links.push_back(std::move(link));
        }
        RoadLink& link = net.road_links[it->second];
        LaneLink ll;
        ll.road_link = it->second;
        ll.from_lane = net.roads[c.from].first_lane + c.from_lane;
        ll.to_lane = net.roads[c.to].first_lane + c.to_lane;
        link.lane_links.push_back(static_cast<core::LaneLinkId>(net.lane_links.size()));
        net.lane_links.push_back(std::move(ll));
        if (!c.tl.empty()) {
            if (!node_tl[node].empty() && node_tl[node] != c.tl) {
                throw ParseFailure{source + " junction '" + net.intersections[node].id + "'",
                                   "is controlled by two traffic lights ('" + node_tl[node] + "' and '" + c.tl + "')"};
            }
            node_tl[node] = c.tl;
            node_signal[node].emplace_back(c.link_index, link.index_in_intersection);
        }
    }

    // Signal programs: the first program of each tlLogic id.
    std::unordered_map<std::string, pugi::xml_node> programs;
    for (const pugi::xml_node tl : root.children("tlLogic")) programs.emplace(Required(at, tl, "id"), tl);
    for (size_t n = 0; n < net.intersections.size(); ++n) {
        if (node_tl[n].empty()) continue;
        auto it = programs.find(node_tl[n]);
        if (it == programs.end()) {
            throw ParseFailure{source + " junction '" + net.intersections[n].id + "'",
                               "its connections name traffic light '" + node_tl[n] + "', which has no <tlLogic>"};
        }
        const pugi::xml_node tl = it->second;
        for (const pugi::xml_node p : tl.children("phase")) {
            Phase phase;
            phase.duration_s = Positive(at, p, "duration", Number(at, p, "duration"));
            const std::string state = Required(at, p, "state");
            std::vector<uint8_t> green(net.intersections[n].road_links.size(), 0);
            for (const auto& [index, local] : node_signal[n]) {
                if (static_cast<size_t>(index) >= state.size()) {
                    at.Fail(p,
                            "state",
                            "has " + std::to_string(state.size()) + " signals; a connection uses linkIndex " +
                                std::to_string(index));
                }
                const char s = state[static_cast<size_t>(index)];
                if (s == 'G' || s == 'g' || s == 's') green[local] = 1;
            }
            for (size_t k = 0; k < green.size(); ++k) {
                if (green[k]) phase.road_links.push_back(static_cast<int32_t>(k));
            }
            net.intersections[n].phases.push_back(std::move(phase));
        }
        if (net.intersections[n].phases.empty()) at.Fail(tl, nullptr, "has no phases");
    }

    // Boundary nodes (one neighbour) and junction boxes sized from where SUMO's lanes stop short of the centre.
    for (size_t n = 0; n < net.intersections.size(); ++n) {
        Intersection& node = net.intersections[n];
        std::vector<core::IntersectionId> neighbours;
        double box = 0;
        double shortest = 1e18;
        for (core::RoadId r : node.roads) {
            const Road& road = net.roads[r];
            neighbours.push_back(road.from == static_cast<int32_t>(n) ? road.to : road.from);
            const double drawn = core::PolylineLength(road.points);
            shortest = std::min(shortest, drawn);
            box = std::max(box, (drawn - road.declared_length_m) / 2);
        }
        std::sort(neighbours.begin(), neighbours.end());
        neighbours.erase(std::unique(neighbours.begin(), neighbours.end()), neighbours.end());
        node.is_virtual = neighbours.size() <= 1 && node.phases.empty();
        node.width_m = node.is_virtual ? 0 : std::clamp(box, 0.0, 0.3 * shortest);
        if (node.is_virtual) {
            ++notes.boundary;
        } else if (!node.phases.empty()) {
            ++notes.signalised;
        } else {
            ++notes.priority;
        }
    }
    const Status st = net.Finalize();
    if (!st.ok()) throw ParseFailure{source + ": " + st.error().where, st.error().message};
    return net;
}

// Free-flow shortest paths over roads joined by movements, for trips.
class Router {
public:
    explicit Router(const RoadNetwork& net) : net_(net), cost_(net.roads.size()), next_(net.roads.size()) {
        for (size_t r = 0; r < net.roads.size(); ++r) {
            const Road& road = net.roads[r];
            double speed = 0;
            for (int32_t k = 0; k < road.num_lanes; ++k) {
                speed = std::max(speed, net.lanes[road.first_lane + k].max_speed_mps);
            }
            cost_[r] = road.length_m / speed;
        }
        for (const RoadLink& link : net.road_links) next_[link.from_road].push_back(link.to_road);
        for (auto& v : next_) {
            std::sort(v.begin(), v.end());
            v.erase(std::unique(v.begin(), v.end()), v.end());
        }
    }

    /// Roads from `from` to `to` inclusive; empty when no path.
    std::vector<core::RoadId> Route(core::RoadId from, core::RoadId to) const {
        if (from == to) return {from};
        std::vector<double> dist(net_.roads.size(), std::numeric_limits<double>::infinity());
        std::vector<core::RoadId> prev(net_.roads.size(), core::kNone);
        using Item = std::pair<double, core::RoadId>;
        std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
        dist[from] = 0;
        heap.emplace(0, from);
        while (!heap.empty()) {
            const auto [d, r] = heap.top();
            heap.pop();
            if (d > dist[r]) continue;
            if (r == to) break;
            for (core::RoadId s : next_[r]) {
                const double nd = d + cost_[s];
                if (nd < dist[s]) {
                    dist[s] = nd;
                    prev[s] = r;
                    heap.emplace(nd, s);
                }
            }
        }
        if (prev[to] == core::kNone) return {};
        std::vector<core::RoadId> out;
        for (core::RoadId r = to; r != core::kNone; r = prev[r]) out.push_back(r);
        std::reverse(out.begin(), out.end());
        return out;
    }

private:
    const RoadNetwork& net_;
    std::vector<double> cost_;
    std::vector<std::vector<core::RoadId>> next_;
};

core::Demand ParseRoutesOrThrow(std::string_view text, const RoadNetwork& net, const std::string& source) {
    const Places at(text, source);
    const pugi::xml_document doc = ParseXml(text, source);
    const pugi::xml_node root = doc.child("routes");
    if (!root) throw ParseFailure{source, "no <routes> element: not a SUMO route or trip file"};
    core::Demand demand;
    std::unordered_map<std::string, core::VehicleParams> types;
    std::unordered_map<std::string, std::vector<core::RoadId>> routes;
    std::unique_ptr<Router> router;

    auto edges = [&](const pugi::xml_node& el, const char* attr) {
        std::vector<core::RoadId> out;
        for (const std::string& id : Words(Required(at, el, attr))) {
            const core::RoadId r = net.FindRoad(id);
            if (r == core::kNone) at.Fail(el, attr, "unknown edge '" + id + "'");
            out.push_back(r);
        }
        if (out.empty()) at.Fail(el, attr, "names no edge");
        return out;
    };
    auto route_of = [&](const pugi::xml_node& el) -> std::vector<core::RoadId> {
        if (const pugi::xml_attribute r = el.attribute("route")) {
            auto it = routes.find(r.value());
            if (it == routes.end()) at.Fail(el, "route", std::string("unknown route '") + r.value() + "'");
            return it->second;
        }
        if (const pugi::xml_node r = el.child("route")) return edges(r, "edges");
        if (el.attribute("from")) {
            std::vector<core::RoadId> stops = edges(el, "from");
            if (el.attribute("via")) {
                for (core::RoadId r : edges(el, "via")) stops.push_back(r);
            }
            for (core::RoadId r : edges(el, "to")) stops.push_back(r);
            if (!router) router = std::make_unique<Router>(net);
            std::vector<core::RoadId> out{stops.front()};
            for (size_t k = 1; k < stops.size(); ++k) {
                const std::vector<core::RoadId> leg = router->Route(out.back(), stops[k]);
                if (leg.empty()) {
                    at.Fail(el,
                            "to",
                            "no path from edge '" + net.roads[out.back()].id + "' to edge '" + net.roads[stops[k]].id +
                                "'");
                }
                out.insert(out.end(), leg.begin() + 1, leg.end());
            }
            return out;
        }
        at.Fail(el, "route", "needs a route (attribute or <route> child) or from/to edges");
    };
    auto vehicle_of = [&](const pugi::xml_node& el) {
        const pugi::xml_attribute t = el.attribute("type");
        if (!t) return core::VehicleParams{};
        auto it = types.find(t.value());
        if (it == types.end()) at.Fail(el, "type", std::string("unknown vType '") + t.value() + "'");
        return it->second;
    };
    auto time_of = [&](const pugi::xml_node& el, const char* attr) {
        const char* v = Required(at, el, attr);
        if (std::strcmp(v, "triggered") == 0 || std::strcmp(v, "containerTriggered") == 0) {
            at.Fail(el, attr, std::string("'") + v + "' departures are not supported");
        }
        const double s = ToNumber(at, el, attr, v);
        if (s < 0) at.Fail(el, attr, "must be >= 0");
        return s;
    };
    auto add = [&](core::Flow flow) {
        if (flow.route.size() < 2) {
            ++demand.single_road_dropped;  // as CityFlow: a vehicle needs somewhere to go after its first road
            return;
        }
        demand.flows.push_back(std::move(flow));
    };

    for (const pugi::xml_node el : root.children()) {
        const std::string name = el.name();
        if (name == "vType") {
            core::VehicleParams p;
            p.max_pos_acc = p.usual_pos_acc = Positive(at, el, "accel", NumberOr(at, el, "accel", 2.6));
            p.usual_neg_acc = Positive(at, el, "decel", NumberOr(at, el, "decel", 4.5));
            p.max_neg_acc = Positive(at, el, "emergencyDecel", NumberOr(at, el, "emergencyDecel", p.usual_neg_acc));
            if (p.usual_neg_acc > p.max_neg_acc) {
                p.usual_neg_acc = p.max_neg_acc;
                ++demand.usual_neg_acc_clamped;
            }
            p.length_m = Positive(at, el, "length", NumberOr(at, el, "length", 5));
            p.min_gap_m = NumberOr(at, el, "minGap", 2.5);
            if (p.min_gap_m < 0) at.Fail(el, "minGap", "must be >= 0");
            p.max_speed_mps = Positive(at, el, "maxSpeed", NumberOr(at, el, "maxSpeed", 55.55));
            p.width_m = Positive(at, el, "width", NumberOr(at, el, "width", 1.8));
            p.headway_s = Positive(at, el, "tau", NumberOr(at, el, "tau", 1.0));
            types[Required(at, el, "id")] = p;
        } else if (name == "route") {
            routes[Required(at, el, "id")] = edges(el, "edges");
        } else if (name == "vehicle" || name == "trip") {
            core::Flow flow;
            flow.id = Required(at, el, "id");
            flow.vehicle = vehicle_of(el);
            flow.start_s = flow.end_s = time_of(el, "depart");
            flow.interval_s = 1;
            flow.route = route_of(el);
            add(std::move(flow));
        } else if (name == "flow") {
            core::Flow flow;
            flow.id = Required(at, el, "id");
            flow.vehicle = vehicle_of(el);
            flow.start_s = el.attribute("begin") ? time_of(el, "begin") : 0;
            const double end = el.attribute("end") ? time_of(el, "end") : 86400;
            if (end < flow.start_s) at.Fail(el, "end", "must not be before begin");
            if (el.attribute("probability")) at.Fail(el, "probability", "random flows are not supported");
            if (el.attribute("period")) {
                flow.interval_s = Positive(at, el, "period", Number(at, el, "period"));
            } else if (el.attribute("vehsPerHour")) {
                flow.interval_s = 3600 / Positive(at, el, "vehsPerHour", Number(at, el, "vehsPerHour"));
            } else if (el.attribute("number")) {
                const double n = Positive(at, el, "number", Number(at, el, "number"));
                flow.interval_s = n > 1 ? (end - flow.start_s) / n : 1;
                if (!(flow.interval_s > 0)) at.Fail(el, "end", "must be after begin for several vehicles");
            } else {
                at.Fail(el, "period", "a flow needs period, vehsPerHour or number");
            }
            // SUMO's end is exclusive: the last vehicle leaves before it.
            flow.end_s = end - 1e-6;
            if (flow.end_s < flow.start_s) flow.end_s = flow.start_s;
            flow.route = route_of(el);
            add(std::move(flow));
        }
        // Other elements (personFlow, interval, include) carry no vehicles the engine models.
    }
    return demand;
}

}  // namespace

Result<core::RoadNetwork> ParseSumoNet(std::string_view text, const std::string& source, SumoImportNotes* notes) {
    SumoImportNotes local;
    return Guard<RoadNetwork>([&] { return ParseNetOrThrow(text, source, notes ? *notes : local); });
}

Result<core::Demand> ParseSumoRoutes(std::string_view text, const core::RoadNetwork& net, const std::string& source) {
    return Guard<core::Demand>([&] { return ParseRoutesOrThrow(text, net, source); });
}

Result<core::RoadNetwork> LoadSumoNet(const std::string& path, SumoImportNotes* notes) {
    CB_TRY_ASSIGN(const std::string text, core::ReadFile(path));
    return ParseSumoNet(text, path, notes);
}

Result<core::Demand> LoadSumoRoutes(const std::string& path, const core::RoadNetwork& net) {
    CB_TRY_ASSIGN(const std::string text, core::ReadFile(path));
    return ParseSumoRoutes(text, net, path);
}

}  // namespace citybrain::io
