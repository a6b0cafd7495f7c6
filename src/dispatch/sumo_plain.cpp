// SPDX-License-Identifier: Apache-2.0
// SUMO plain XML (nodes, edges, types) through pugixml.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <pugixml.hpp>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "core/geometry.hpp"
#include "dispatch/road_graph.hpp"

namespace citybrain::dispatch {

namespace {

Result<double> Number(const pugi::xml_node& el, const char* attr, const std::string& where) {
    const pugi::xml_attribute a = el.attribute(attr);
    if (!a) return InvalidArgument(where, std::string("missing attribute '") + attr + "'");
    char* end = nullptr;
    const double v = std::strtod(a.value(), &end);
    if (end == a.value() || *end != '\0' || !std::isfinite(v)) {
        return InvalidArgument(where,
                               std::string(attr) + "='" + std::string(a.value()).substr(0, 32) + "' is not a number");
    }
    return v;
}

Status LoadXml(pugi::xml_document& doc, const std::string& path) {
    const pugi::xml_parse_result r = doc.load_file(path.c_str(), pugi::parse_default | pugi::parse_comments);
    if (r.status == pugi::status_file_not_found || r.status == pugi::status_io_error) {
        return NotFound(path, "cannot open file");
    }
    if (!r)
        return InvalidArgument(
            path, std::string("malformed XML at byte ") + std::to_string(r.offset) + ": " + r.description());
    return {};
}

bool ClosedToCars(const pugi::xml_node& el) {
    const std::string allow = el.attribute("allow").value();
    const std::string disallow = el.attribute("disallow").value();
    if (!allow.empty() && allow.find("passenger") == std::string::npos && allow != "all") return true;
    return disallow.find("passenger") != std::string::npos || disallow == "all";
}

}  // namespace

Result<RoadGraph> LoadSumoPlain(const std::string& path) {
    std::string prefix = path;
    for (const char* ext : {".nod.xml", ".edg.xml", ".typ.xml", ".con.xml"}) {
        if (prefix.size() > std::strlen(ext) &&
            prefix.compare(prefix.size() - std::strlen(ext), std::string::npos, ext) == 0) {
            prefix.resize(prefix.size() - std::strlen(ext));
        }
    }
    const std::string nod_path = prefix + ".nod.xml", edg_path = prefix + ".edg.xml", typ_path = prefix + ".typ.xml";
    pugi::xml_document nod, edg, typ;
    CB_TRY(LoadXml(nod, nod_path));
    CB_TRY(LoadXml(edg, edg_path));
    struct Type {
        double speed = 0;
        bool closed = false;
    };
    std::unordered_map<std::string, Type> types;
    if (std::filesystem::exists(typ_path)) {
        CB_TRY(LoadXml(typ, typ_path));
        for (pugi::xml_node t : typ.child("types").children("type")) {
            Type ty;
            ty.closed = ClosedToCars(t);
            if (t.attribute("speed")) {
                CB_TRY_ASSIGN(ty.speed, Number(t, "speed", typ_path + ": type '" + t.attribute("id").value() + "'"));
            }
            types[t.attribute("id").value()] = ty;
        }
    }
    const pugi::xml_node nodes = nod.child("nodes");
    if (!nodes) return InvalidArgument(nod_path, "no <nodes> element");
    std::vector<std::string> names;
    std::vector<std::pair<double, double>> raw;
    std::unordered_map<std::string, NodeId> index;
    for (pugi::xml_node n : nodes.children("node")) {
        const std::string id = n.attribute("id").value();
        const std::string where = nod_path + ": node '" + id + "'";
        if (id.empty()) return InvalidArgument(nod_path, "a node without an id");
        CB_TRY_ASSIGN(double x, Number(n, "x", where));
        CB_TRY_ASSIGN(double y, Number(n, "y", where));
        if (!index.emplace(id, static_cast<NodeId>(names.size())).second) return InvalidArgument(where, "duplicate id");
        names.push_back(id);
        raw.emplace_back(x, y);
    }
    if (names.empty()) return InvalidArgument(nod_path, "no nodes");
    // netconvert records its options in a comment; with proj.plain-geo the coordinates are lon/lat, projected
    // here to metres around the first node. Otherwise they are metres already.
    bool geo = false;
    for (pugi::xml_node c = nod.first_child(); c; c = c.next_sibling()) {
        const std::string text = c.type() == pugi::node_comment ? c.value() : "";
        static constexpr std::string_view kGeo = "proj.plain-geo value=\"true\"";
        if (text.find(kGeo) != std::string::npos) geo = true;
    }
    const core::LocalFrame frame(geo ? raw[0].second : 0, geo ? raw[0].first : 0);
    std::vector<core::Point> xy;
    for (const auto& [x, y] : raw) xy.push_back(geo ? frame.ToLocal(y, x) : core::Point{x, y});
    auto parse_point = [&](const std::string& text, core::Point& out) {
        const size_t comma = text.find(',');
        if (comma == std::string::npos) return false;
        char* end = nullptr;
        const double a = std::strtod(text.c_str(), &end);
        if (end != text.c_str() + comma) return false;
        const double b = std::strtod(text.c_str() + comma + 1, &end);
        if (*end != '\0' || !std::isfinite(a) || !std::isfinite(b)) return false;
        out = geo ? frame.ToLocal(b, a) : core::Point{a, b};
        return true;
    };
    const pugi::xml_node edges_el = edg.child("edges");
    if (!edges_el) return InvalidArgument(edg_path, "no <edges> element");
    std::vector<RoadGraph::EdgeSpec> edges;
    std::vector<std::string> road_names;
    int32_t road = 0;
    for (pugi::xml_node e : edges_el.children("edge")) {
        const std::string id = e.attribute("id").value();
        const std::string where = edg_path + ": edge '" + id + "'";
        road_names.emplace_back(e.attribute("name").value());
        const Type* type = nullptr;
        if (auto it = types.find(e.attribute("type").value()); it != types.end()) type = &it->second;
        if (ClosedToCars(e) || (type != nullptr && type->closed && !e.attribute("allow"))) {
            ++road;
            continue;
        }
        RoadGraph::EdgeSpec spec;
        for (const char* end : {"from", "to"}) {
            const std::string node = e.attribute(end).value();
            auto it = index.find(node);
            if (it == index.end()) return InvalidArgument(where, std::string(end) + ": unknown node '" + node + "'");
            (std::string(end) == "from" ? spec.from : spec.to) = it->second;
        }
        if (e.attribute("speed")) {
            CB_TRY_ASSIGN(spec.speed_mps, Number(e, "speed", where));
        } else if (type != nullptr) {
            spec.speed_mps = type->speed;
        }
        if (!(spec.speed_mps > 0)) return InvalidArgument(where, "no positive speed (attribute or type)");
        // Length along the shape when there is one, else between the end nodes.
        std::vector<core::Point> pts;
        std::istringstream shape(e.attribute("shape").value());
        std::string token;
        while (shape >> token) {
            core::Point p;
            if (!parse_point(token, p))
                return InvalidArgument(where, "shape: '" + token.substr(0, 40) + "' is not x,y");
            pts.push_back(p);
        }
        if (pts.size() < 2) pts = {xy[spec.from], xy[spec.to]};
        spec.length_m = core::PolylineLength(pts);
        if (e.attribute("length")) {
            CB_TRY_ASSIGN(spec.length_m, Number(e, "length", where));
        }
        spec.length_m = std::max(spec.length_m, 0.1);  // co-located junctions still cost a step
        spec.road = road++;
        edges.push_back(spec);
    }
    CB_TRY_ASSIGN(RoadGraph g, RoadGraph::Build(std::move(names), std::move(xy), std::move(edges), edg_path));
    g.road_names = std::move(road_names);
    return g;
}

Result<RoadGraph> LoadSumoNet(const std::string& path) {
    pugi::xml_document doc;
    CB_TRY(LoadXml(doc, path));
    const pugi::xml_node net = doc.child("net");
    if (!net) return InvalidArgument(path, "no <net> element: not a SUMO .net.xml");
    std::vector<std::string> names;
    std::vector<core::Point> xy;
    std::unordered_map<std::string, NodeId> node_of;
    for (const pugi::xml_node j : net.children("junction")) {
        if (std::strcmp(j.attribute("type").value(), "internal") == 0) continue;
        const std::string id = j.attribute("id").value();
        const std::string where = path + ": junction '" + id + "'";
        if (id.empty()) return InvalidArgument(path, "a <junction> without an id");
        CB_TRY_ASSIGN(const double x, Number(j, "x", where));
        CB_TRY_ASSIGN(const double y, Number(j, "y", where));
        if (!node_of.emplace(id, static_cast<NodeId>(names.size())).second) {
            return InvalidArgument(where, "defined twice");
        }
        names.push_back(id);
        xy.push_back(core::Point{x, y});
    }
    std::vector<RoadGraph::EdgeSpec> edges;
    std::vector<std::string> road_names;
    int32_t road = 0;
    for (const pugi::xml_node e : net.children("edge")) {
        if (e.attribute("function") && std::strcmp(e.attribute("function").value(), "normal") != 0) continue;
        road_names.emplace_back(e.attribute("name").value());
        const std::string id = e.attribute("id").value();
        const std::string where = path + ": edge '" + id + "'";
        const auto from = node_of.find(e.attribute("from").value());
        const auto to = node_of.find(e.attribute("to").value());
        if (from == node_of.end() || to == node_of.end()) {
            return InvalidArgument(
                where,
                std::string("unknown junction '") +
                    (from == node_of.end() ? e.attribute("from").value() : e.attribute("to").value()) + "'");
        }
        // The fastest lane open to cars sets the edge's speed; its length is the lanes' (they are equal).
        double speed = 0, length = 0;
        for (const pugi::xml_node lane : e.children("lane")) {
            if (ClosedToCars(lane)) continue;
            const std::string lane_where = where + " lane '" + lane.attribute("id").value() + "'";
            CB_TRY_ASSIGN(const double v, Number(lane, "speed", lane_where));
            CB_TRY_ASSIGN(const double len, Number(lane, "length", lane_where));
            speed = std::max(speed, v);
            length = std::max(length, len);
        }
        if (speed > 0 && length > 0) edges.push_back({from->second, to->second, length, speed, road});
        ++road;
    }
    CB_TRY_ASSIGN(RoadGraph g, RoadGraph::Build(std::move(names), std::move(xy), std::move(edges), path));
    g.road_names = std::move(road_names);
    return g;
}

Result<RoadGraph> LoadRoadGraph(const std::string& path) {
    auto ends_with = [&](const char* ext) {
        const size_t n = std::strlen(ext);
        return path.size() >= n && path.compare(path.size() - n, n, ext) == 0;
    };
    if (ends_with(".nod.xml") || ends_with(".edg.xml") || ends_with(".typ.xml")) return LoadSumoPlain(path);
    if (ends_with(".net.xml")) return LoadSumoNet(path);
    if (ends_with(".osm.pbf") || ends_with(".pbf") || ends_with(".osm")) return LoadOsm(path);
    return NotFound(path,
                    "unknown road network format (CityFlow roadnet .json, SUMO .net.xml or plain .nod.xml/.edg.xml, "
                    "OSM .osm.pbf/.osm)");
}

}  // namespace citybrain::dispatch
