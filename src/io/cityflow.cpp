// SPDX-License-Identifier: Apache-2.0
#include "io/cityflow.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace citybrain::io {

using core::Intersection;
using core::Lane;
using core::LaneLink;
using core::Phase;
using core::Point;
using core::Road;
using core::RoadLink;
using core::RoadNetwork;
using nlohmann::json;

namespace {

// Thrown inside the parser only; converted to an Error at the boundary.
struct ParseFailure {
    std::string path;
    std::string message;
};

[[noreturn]] void Fail(const std::string& path, std::string message) { throw ParseFailure{path, std::move(message)}; }

std::string Kind(const json& j) {
    switch (j.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::object:
            return "an object";
        case json::value_t::array:
            return "an array";
        case json::value_t::string:
            return "a string";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::discarded:
            return "nothing";
        default:
            return "a number";
    }
}

std::string Join(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }
std::string Index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

const json& Member(const json& obj, const char* key, const std::string& path) {
    if (!obj.is_object()) Fail(path, "expected an object, got " + Kind(obj));
    auto it = obj.find(key);
    if (it == obj.end()) Fail(Join(path, key), "is missing");
    return *it;
}

const json* Optional(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
}

// CityFlow files from some generators carry numbers as strings ("30"); accept both, refuse anything else.
double AsNumber(const json& j, const std::string& path) {
    if (j.is_number()) {
        const double v = j.get<double>();
        if (!std::isfinite(v)) Fail(path, "must be finite");
        return v;
    }
    if (j.is_string()) {
        const auto& s = j.get_ref<const std::string&>();
        double v = 0;
        const char* begin = s.data();
        const char* end = s.data() + s.size();
        while (begin < end && *begin == ' ') ++begin;
        auto [ptr, ec] = std::from_chars(begin, end, v);
        if (ec == std::errc() && ptr == end && std::isfinite(v)) return v;
        Fail(path, "expected a number, got the string '" + s.substr(0, 40) + "'");
    }
    Fail(path, "expected a number, got " + Kind(j));
}

double Number(const json& obj, const char* key, const std::string& path) {
    return AsNumber(Member(obj, key, path), Join(path, key));
}

double NumberOr(const json& obj, const char* key, const std::string& path, double fallback) {
    const json* j = Optional(obj, key);
    return j ? AsNumber(*j, Join(path, key)) : fallback;
}

int64_t AsInteger(const json& j, const std::string& path) {
    const double v = AsNumber(j, path);
    if (v != std::floor(v) || std::abs(v) > 1e12) Fail(path, "expected an integer");
    return static_cast<int64_t>(v);
}

double Positive(double v, const std::string& path) {
    if (!(v > 0)) {
        std::ostringstream os;
        os << "must be positive (got " << v << ")";
        Fail(path, os.str());
    }
    return v;
}

double NonNegative(double v, const std::string& path) {
    if (v < 0) {
        std::ostringstream os;
        os << "must be >= 0 (got " << v << ")";
        Fail(path, os.str());
    }
    return v;
}

const std::string& String(const json& obj, const char* key, const std::string& path) {
    const json& j = Member(obj, key, path);
    if (!j.is_string()) Fail(Join(path, key), "expected a string, got " + Kind(j));
    return j.get_ref<const std::string&>();
}

bool Bool(const json& j, const std::string& path) {
    if (j.is_boolean()) return j.get<bool>();
    if (j.is_number_integer()) return j.get<int64_t>() != 0;
    if (j.is_string()) {
        const auto& s = j.get_ref<const std::string&>();
        if (s == "true" || s == "1") return true;
        if (s == "false" || s == "0") return false;
    }
    Fail(path, "expected a boolean, got " + Kind(j));
}

const json& Array(const json& obj, const char* key, const std::string& path) {
    const json& j = Member(obj, key, path);
    if (!j.is_array()) Fail(Join(path, key), "expected an array, got " + Kind(j));
    return j;
}

Point ParsePoint(const json& j, const std::string& path) { return {Number(j, "x", path), Number(j, "y", path)}; }

json ParseDocument(std::string_view text, const std::string& source) {
    try {
        return json::parse(text.begin(), text.end());
    } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e99999
        // nlohmann's message already says "at line L, column C"; keep it, drop its "[json.exception.x.N] " prefix.
        const std::string what = e.what();
        const auto end = what.find("] ");
        throw ParseFailure{"",
                           source + ": not valid JSON: " + (end == std::string::npos ? what : what.substr(end + 2))};
    }
}

core::TurnType ParseTurn(const json& j, const std::string& path) {
    if (!j.is_string()) Fail(path, "expected a string, got " + Kind(j));
    const auto& s = j.get_ref<const std::string&>();
    if (s == "go_straight") return core::TurnType::kStraight;
    if (s == "turn_left") return core::TurnType::kLeft;
    if (s == "turn_right") return core::TurnType::kRight;
    Fail(path, "unknown movement type '" + s.substr(0, 40) + "' (go_straight, turn_left or turn_right)");
}

RoadNetwork ParseRoadnetOrThrow(std::string_view text, const std::string& source) {
    const json doc = ParseDocument(text, source);
    if (!doc.is_object()) Fail("", "expected a JSON object with 'intersections' and 'roads', got " + Kind(doc));
    RoadNetwork net;
    const json& jnodes = Array(doc, "intersections", "");
    const json& jroads = Array(doc, "roads", "");
    for (size_t i = 0; i < jnodes.size(); ++i) {
        const std::string path = Index("intersections", i);
        const json& jn = jnodes[i];
        Intersection node;
        node.id = String(jn, "id", path);
        node.point = ParsePoint(Member(jn, "point", path), Join(path, "point"));
        node.width_m = NonNegative(NumberOr(jn, "width", path, 0), Join(path, "width"));
        if (const json* v = Optional(jn, "virtual")) node.is_virtual = Bool(*v, Join(path, "virtual"));
        if (net.FindIntersection(node.id) != core::kNone) Fail(Join(path, "id"), "duplicate id '" + node.id + "'");
        net.intersections.push_back(std::move(node));
    }
    std::unordered_map<std::string, core::IntersectionId> node_ids;
    for (size_t i = 0; i < net.intersections.size(); ++i) {
        if (!node_ids.emplace(net.intersections[i].id, static_cast<int32_t>(i)).second) {
            Fail(Join(Index("intersections", i), "id"), "duplicate id '" + net.intersections[i].id + "'");
        }
    }
    std::unordered_map<std::string, core::RoadId> road_ids;
    for (size_t i = 0; i < jroads.size(); ++i) {
        const std::string path = Index("roads", i);
        const json& jr = jroads[i];
        Road road;
        road.id = String(jr, "id", path);
        if (const json* name = Optional(jr, "name"); name && name->is_string()) road.name = name->get<std::string>();
        for (const char* key : {"startIntersection", "endIntersection"}) {
            const std::string& ref = String(jr, key, path);
            auto it = node_ids.find(ref);
            if (it == node_ids.end()) Fail(Join(path, key), "unknown intersection '" + ref + "'");
            (key[0] == 's' ? road.from : road.to) = it->second;
        }
        const json& jpoints = Array(jr, "points", path);
        if (jpoints.size() < 2) Fail(Join(path, "points"), "needs at least 2 points");
        for (size_t p = 0; p < jpoints.size(); ++p)
            road.points.push_back(ParsePoint(jpoints[p], Index(Join(path, "points"), p)));
        const json& jlanes = Array(jr, "lanes", path);
        if (jlanes.empty()) Fail(Join(path, "lanes"), "needs at least 1 lane");
        const core::RoadId road_id = static_cast<core::RoadId>(net.roads.size());
        road.first_lane = static_cast<core::LaneId>(net.lanes.size());
        road.num_lanes = static_cast<int32_t>(jlanes.size());
        for (size_t k = 0; k < jlanes.size(); ++k) {
            const std::string lpath = Index(Join(path, "lanes"), k);
            Lane lane;
            lane.road = road_id;
            lane.index_in_road = static_cast<int32_t>(k);
            lane.width_m = Positive(Number(jlanes[k], "width", lpath), Join(lpath, "width"));
            lane.max_speed_mps = Positive(Number(jlanes[k], "maxSpeed", lpath), Join(lpath, "maxSpeed"));
            net.lanes.push_back(lane);
        }
        if (!road_ids.emplace(road.id, road_id).second) Fail(Join(path, "id"), "duplicate id '" + road.id + "'");
        if (!(core::PolylineLength(road.points) > 0)) Fail(Join(path, "points"), "road length must be positive");
        net.intersections[road.from].roads.push_back(road_id);
        net.intersections[road.to].roads.push_back(road_id);
        net.roads.push_back(std::move(road));
    }
    auto road_ref = [&](const json& obj, const char* key, const std::string& path) {
        const std::string& ref = String(obj, key, path);
        auto it = road_ids.find(ref);
        if (it == road_ids.end()) Fail(Join(path, key), "unknown road '" + ref + "'");
        return it->second;
    };
    for (size_t i = 0; i < jnodes.size(); ++i) {
        const std::string path = Index("intersections", i);
        const json& jn = jnodes[i];
        const auto node_id = static_cast<core::IntersectionId>(i);
        const json* jlinks = Optional(jn, "roadLinks");
        if (jlinks && !jlinks->is_array()) Fail(Join(path, "roadLinks"), "expected an array, got " + Kind(*jlinks));
        for (size_t k = 0; jlinks && k < jlinks->size(); ++k) {
            const std::string lpath = Index(Join(path, "roadLinks"), k);
            const json& jl = (*jlinks)[k];
            RoadLink link;
            link.intersection = node_id;
            link.index_in_intersection = static_cast<int32_t>(k);
            link.type = ParseTurn(Member(jl, "type", lpath), Join(lpath, "type"));
            link.from_road = road_ref(jl, "startRoad", lpath);
            link.to_road = road_ref(jl, "endRoad", lpath);
            if (net.roads[link.from_road].to != node_id) {
                Fail(Join(lpath, "startRoad"),
                     "road '" + net.roads[link.from_road].id + "' does not end at this intersection");
            }
            if (net.roads[link.to_road].from != node_id) {
                Fail(Join(lpath, "endRoad"),
                     "road '" + net.roads[link.to_road].id + "' does not start at this intersection");
            }
            const auto link_id = static_cast<core::RoadLinkId>(net.road_links.size());
            const json& jlls = Array(jl, "laneLinks", lpath);
            for (size_t m = 0; m < jlls.size(); ++m) {
                const std::string mpath = Index(Join(lpath, "laneLinks"), m);
                const Road& from = net.roads[link.from_road];
                const Road& to = net.roads[link.to_road];
                const int64_t s = AsInteger(Member(jlls[m], "startLaneIndex", mpath), Join(mpath, "startLaneIndex"));
                const int64_t e = AsInteger(Member(jlls[m], "endLaneIndex", mpath), Join(mpath, "endLaneIndex"));
                if (s < 0 || s >= from.num_lanes) {
                    Fail(Join(mpath, "startLaneIndex"),
                         "lane " + std::to_string(s) + " does not exist on road '" + from.id + "' (" +
                             std::to_string(from.num_lanes) + " lanes)");
                }
                if (e < 0 || e >= to.num_lanes) {
                    Fail(Join(mpath, "endLaneIndex"),
                         "lane " + std::to_string(e) + " does not exist on road '" + to.id + "' (" +
                             std::to_string(to.num_lanes) + " lanes)");
                }
                LaneLink ll;
                ll.road_link = link_id;
                ll.from_lane = from.first_lane + static_cast<int32_t>(s);
                ll.to_lane = to.first_lane + static_cast<int32_t>(e);
                if (const json* jp = Optional(jlls[m], "points")) {
                    if (!jp->is_array()) Fail(Join(mpath, "points"), "expected an array, got " + Kind(*jp));
                    for (size_t p = 0; p < jp->size(); ++p) {
                        ll.points.push_back(ParsePoint((*jp)[p], Index(Join(mpath, "points"), p)));
                    }
                }
                link.lane_links.push_back(static_cast<core::LaneLinkId>(net.lane_links.size()));
                net.lane_links.push_back(std::move(ll));
            }
            net.intersections[i].road_links.push_back(link_id);
            net.road_links.push_back(std::move(link));
        }
        // Boundary nodes have no signal; CityFlow ignores what their trafficLight says (files carry leftovers).
        const json* jtl = Optional(jn, "trafficLight");
        if (!jtl || net.intersections[i].is_virtual) continue;
        const std::string tpath = Join(path, "trafficLight");
        const json& jphases = Array(*jtl, "lightphases", tpath);
        const size_t num_links = net.intersections[i].road_links.size();
        for (size_t p = 0; p < jphases.size(); ++p) {
            const std::string ppath = Index(Join(tpath, "lightphases"), p);
            Phase phase;
            phase.duration_s = Positive(Number(jphases[p], "time", ppath), Join(ppath, "time"));
            const json& javail = Array(jphases[p], "availableRoadLinks", ppath);
            for (size_t a = 0; a < javail.size(); ++a) {
                const std::string apath = Index(Join(ppath, "availableRoadLinks"), a);
                const int64_t idx = AsInteger(javail[a], apath);
                if (idx < 0 || static_cast<size_t>(idx) >= num_links) {
                    Fail(apath,
                         "road link " + std::to_string(idx) + " does not exist (intersection '" +
                             net.intersections[i].id + "' has " + std::to_string(num_links) + ")");
                }
                phase.road_links.push_back(static_cast<int32_t>(idx));
            }
            net.intersections[i].phases.push_back(std::move(phase));
        }
        if (const json* jidx = Optional(*jtl, "roadLinkIndices")) {
            if (!jidx->is_array()) Fail(Join(tpath, "roadLinkIndices"), "expected an array, got " + Kind(*jidx));
            for (size_t a = 0; a < jidx->size(); ++a) {
                const int64_t idx = AsInteger((*jidx)[a], Index(Join(tpath, "roadLinkIndices"), a));
                if (idx < 0 || static_cast<size_t>(idx) >= num_links) {
                    Fail(Index(Join(tpath, "roadLinkIndices"), a),
                         "road link " + std::to_string(idx) + " does not exist");
                }
            }
        }
    }
    Status st = net.Finalize();
    if (!st.ok()) Fail(st.error().where, st.error().message);
    return net;
}

core::Demand ParseFlowsOrThrow(std::string_view text, const RoadNetwork& net, const std::string& source) {
    const json doc = ParseDocument(text, source);
    if (!doc.is_array()) Fail("", "expected a JSON array of flows, got " + Kind(doc));
    core::Demand demand;
    demand.flows.reserve(doc.size());
    for (size_t i = 0; i < doc.size(); ++i) {
        const std::string path = Index("flows", i);
        const json& jf = doc[i];
        core::Flow flow;
        flow.id = "flow_" + std::to_string(i);
        const std::string vpath = Join(path, "vehicle");
        const json& jv = Member(jf, "vehicle", path);
        core::VehicleParams& v = flow.vehicle;
        v.length_m = Positive(Number(jv, "length", vpath), Join(vpath, "length"));
        v.width_m = Positive(Number(jv, "width", vpath), Join(vpath, "width"));
        v.max_pos_acc = Positive(Number(jv, "maxPosAcc", vpath), Join(vpath, "maxPosAcc"));
        v.max_neg_acc = Positive(Number(jv, "maxNegAcc", vpath), Join(vpath, "maxNegAcc"));
        v.usual_pos_acc = Positive(Number(jv, "usualPosAcc", vpath), Join(vpath, "usualPosAcc"));
        v.usual_neg_acc = Positive(Number(jv, "usualNegAcc", vpath), Join(vpath, "usualNegAcc"));
        v.min_gap_m = NonNegative(Number(jv, "minGap", vpath), Join(vpath, "minGap"));
        v.max_speed_mps = Positive(Number(jv, "maxSpeed", vpath), Join(vpath, "maxSpeed"));
        v.headway_s = NonNegative(Number(jv, "headwayTime", vpath), Join(vpath, "headwayTime"));
        v.turn_speed_mps = Positive(NumberOr(jv, "turnSpeed", vpath, v.turn_speed_mps), Join(vpath, "turnSpeed"));
        v.yield_distance_m =
            NonNegative(NumberOr(jv, "yieldDistance", vpath, v.yield_distance_m), Join(vpath, "yieldDistance"));
        if (v.usual_neg_acc > v.max_neg_acc) {
            // Real exports carry this (two Shenzhen flow files); one vehicle type's slip is no reason to refuse a
            // city's whole demand. A driver never brakes harder as a habit than the car can.
            v.usual_neg_acc = v.max_neg_acc;
            ++demand.usual_neg_acc_clamped;
        }
        const json& jroute = Array(jf, "route", path);
        if (jroute.empty()) Fail(Join(path, "route"), "must name at least one road");
        for (size_t r = 0; r < jroute.size(); ++r) {
            const std::string rpath = Index(Join(path, "route"), r);
            if (!jroute[r].is_string()) Fail(rpath, "expected a road id string, got " + Kind(jroute[r]));
            const core::RoadId road = net.FindRoad(jroute[r].get_ref<const std::string&>());
            if (road == core::kNone) Fail(rpath, "unknown road '" + jroute[r].get<std::string>() + "'");
            flow.route.push_back(road);
        }
        flow.interval_s = Positive(Number(jf, "interval", path), Join(path, "interval"));
        flow.start_s = NonNegative(NumberOr(jf, "startTime", path, 0), Join(path, "startTime"));
        flow.end_s = NumberOr(jf, "endTime", path, -1);
        if (flow.end_s >= 0 && flow.end_s < flow.start_s) Fail(Join(path, "endTime"), "is before startTime");
        if (flow.route.size() == 1) {
            // CityFlow routes a flow between its first and last road and finds no trip in a single road: it
            // never runs such a flow. Dropped (and counted) so that travel times compare like with like.
            ++demand.single_road_dropped;
            continue;
        }
        demand.flows.push_back(std::move(flow));
    }
    return demand;
}

Error ToError(const ParseFailure& f, const std::string& source) {
    return InvalidArgument(f.path.empty() ? source : source + ": " + f.path, f.message);
}

}  // namespace

Result<RoadNetwork> ParseRoadnet(std::string_view text, const std::string& source) {
    try {
        return ParseRoadnetOrThrow(text, source);
    } catch (const ParseFailure& f) {
        if (f.path.empty() && f.message.rfind(source, 0) == 0) return InvalidArgument("", f.message);
        return ToError(f, source);
    }
}

Result<core::Demand> ParseFlows(std::string_view text, const RoadNetwork& net, const std::string& source) {
    try {
        return ParseFlowsOrThrow(text, net, source);
    } catch (const ParseFailure& f) {
        if (f.path.empty() && f.message.rfind(source, 0) == 0) return InvalidArgument("", f.message);
        return ToError(f, source);
    }
}

Result<RoadNetwork> LoadRoadnet(const std::string& path) {
    CB_TRY_ASSIGN(std::string text, ReadFile(path));
    return ParseRoadnet(text, path);
}

Result<core::Demand> LoadFlows(const std::string& path, const RoadNetwork& net) {
    CB_TRY_ASSIGN(std::string text, ReadFile(path));
    return ParseFlows(text, net, path);
}

std::string WriteRoadnet(const RoadNetwork& net) {
    json jnodes = json::array();
    for (const Intersection& n : net.intersections) {
        json jn;
        jn["id"] = n.id;
        jn["point"] = {{"x", n.point.x}, {"y", n.point.y}};
        jn["width"] = n.width_m;
        jn["virtual"] = n.is_virtual;
        json roads = json::array();
        for (core::RoadId r : n.roads) roads.push_back(net.roads[r].id);
        jn["roads"] = roads;
        json links = json::array();
        json indices = json::array();
        for (size_t k = 0; k < n.road_links.size(); ++k) {
            const RoadLink& rl = net.road_links[n.road_links[k]];
            json jl;
            jl["type"] = core::TurnTypeName(rl.type);
            jl["startRoad"] = net.roads[rl.from_road].id;
            jl["endRoad"] = net.roads[rl.to_road].id;
            json lls = json::array();
            for (core::LaneLinkId id : rl.lane_links) {
                const LaneLink& ll = net.lane_links[id];
                json pts = json::array();
                for (const Point& p : ll.points) pts.push_back({{"x", p.x}, {"y", p.y}});
                lls.push_back({{"startLaneIndex", net.lanes[ll.from_lane].index_in_road},
                               {"endLaneIndex", net.lanes[ll.to_lane].index_in_road},
                               {"points", pts}});
            }
            jl["laneLinks"] = lls;
            links.push_back(jl);
            indices.push_back(k);
        }
        jn["roadLinks"] = links;
        json phases = json::array();
        for (const Phase& p : n.phases)
            phases.push_back({{"time", p.duration_s}, {"availableRoadLinks", p.road_links}});
        jn["trafficLight"] = {{"roadLinkIndices", indices}, {"lightphases", phases}};
        jnodes.push_back(jn);
    }
    json jroads = json::array();
    for (const Road& r : net.roads) {
        json jr;
        jr["id"] = r.id;
        if (!r.name.empty()) jr["name"] = r.name;
        json pts = json::array();
        for (const Point& p : r.points) pts.push_back({{"x", p.x}, {"y", p.y}});
        jr["points"] = pts;
        json lanes = json::array();
        for (int32_t k = 0; k < r.num_lanes; ++k) {
            const Lane& l = net.lanes[r.first_lane + k];
            lanes.push_back({{"width", l.width_m}, {"maxSpeed", l.max_speed_mps}});
        }
        jr["lanes"] = lanes;
        jr["startIntersection"] = net.intersections[r.from].id;
        jr["endIntersection"] = net.intersections[r.to].id;
        jroads.push_back(jr);
    }
    return json{{"intersections", jnodes}, {"roads", jroads}}.dump(1);
}

std::string WriteFlows(const RoadNetwork& net, const core::Demand& demand) {
    json out = json::array();
    for (const core::Flow& f : demand.flows) {
        const core::VehicleParams& v = f.vehicle;
        json route = json::array();
        for (core::RoadId r : f.route) route.push_back(net.roads[r].id);
        out.push_back({{"vehicle",
                        {{"length", v.length_m},
                         {"width", v.width_m},
                         {"maxPosAcc", v.max_pos_acc},
                         {"maxNegAcc", v.max_neg_acc},
                         {"usualPosAcc", v.usual_pos_acc},
                         {"usualNegAcc", v.usual_neg_acc},
                         {"minGap", v.min_gap_m},
                         {"maxSpeed", v.max_speed_mps},
                         {"headwayTime", v.headway_s}}},
                       {"route", route},
                       {"interval", f.interval_s},
                       {"startTime", f.start_s},
                       {"endTime", f.end_s}});
    }
    return out.dump();
}

}  // namespace citybrain::io
