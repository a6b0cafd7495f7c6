// SPDX-License-Identifier: Apache-2.0
#include "io/cbengine.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <numbers>
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

// Whitespace-separated tokens with their line numbers; "//" starts a comment (the format's documentation
// annotates its examples that way).
class Reader {
public:
    Reader(std::string_view text, std::string source) : text_(text), source_(std::move(source)) {}

    bool AtEnd() {
        Skip();
        return pos_ >= text_.size();
    }

    std::string_view Token(const char* field) {
        Skip();
        if (pos_ >= text_.size()) Fail(field, "is missing (the file ends early)");
        const size_t begin = pos_;
        while (pos_ < text_.size() && !IsSpace(text_[pos_])) ++pos_;
        token_line_ = line_;
        return text_.substr(begin, pos_ - begin);
    }

    int64_t Int(const char* field, int64_t lo, int64_t hi) {
        const std::string_view t = Token(field);
        int64_t v = 0;
        auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec != std::errc() || ptr != t.data() + t.size()) {
            Fail(field, "expected an integer, got '" + std::string(t.substr(0, 40)) + "'");
        }
        if (v < lo || v > hi) {
            Fail(field,
                 "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + " (got " + std::to_string(v) +
                     ")");
        }
        return v;
    }

    double Real(const char* field) {
        const std::string_view t = Token(field);
        double v = 0;
        auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec != std::errc() || ptr != t.data() + t.size() || !std::isfinite(v)) {
            Fail(field, "expected a finite number, got '" + std::string(t.substr(0, 40)) + "'");
        }
        return v;
    }

    double Positive(const char* field) {
        const double v = Real(field);
        if (!(v > 0)) Fail(field, "must be positive (got " + std::to_string(v) + ")");
        return v;
    }

    /// The last token's place, as "<source>:<line> <field>".
    std::string Where(const char* field) const { return source_ + ":" + std::to_string(token_line_) + " " + field; }

    [[noreturn]] void Fail(const char* field, std::string message) const {
        throw ParseFailure{Where(field), std::move(message)};
    }

private:
    static bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

    void Skip() {
        while (pos_ < text_.size()) {
            const char c = text_[pos_];
            if (c == '\n') {
                ++line_;
                token_line_ = line_;
                ++pos_;
            } else if (IsSpace(c)) {
                ++pos_;
            } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {
                while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
            } else {
                break;
            }
        }
    }

    std::string_view text_;
    std::string source_;
    size_t pos_ = 0;
    int line_ = 1;
    int token_line_ = 1;
};

constexpr uint8_t kLeft = 1;
constexpr uint8_t kThrough = 2;
constexpr uint8_t kRight = 4;
constexpr double kLaneWidthM = 3.5;
constexpr int64_t kMaxLanes = 16;
constexpr int64_t kMaxCount = 10'000'000;

struct NodeIn {
    double lat = 0;
    double lon = 0;
    bool signalised = false;
};

struct Segment {
    int32_t from = 0;
    int32_t to = 0;
    std::array<core::RoadId, 2> road{core::kNone, core::kNone};  // engine road of each direction
};

uint8_t TurnBit(TurnType t) {
    switch (t) {
        case TurnType::kLeft:
            return kLeft;
        case TurnType::kRight:
            return kRight;
        case TurnType::kStraight:
            return kThrough;
    }
    return kThrough;
}

// The turn from heading `in` to heading `out`; y points north, so a counter-clockwise angle is a left turn.
TurnType TurnByAngle(Point in, Point out) {
    const double angle = std::atan2(core::Cross(in, out), in.x * out.x + in.y * out.y) * 180 / std::numbers::pi;
    if (std::abs(angle) <= 30) return TurnType::kStraight;
    return angle > 0 ? TurnType::kLeft : TurnType::kRight;
}

RoadNetwork ParseRoadnetOrThrow(std::string_view text, const std::string& source, CbengineImportNotes& notes) {
    Reader in(text, source);
    RoadNetwork net;

    // Intersections.
    const int64_t num_nodes = in.Int("number of intersections", 1, kMaxCount);
    std::vector<NodeIn> nodes_in;
    std::unordered_map<std::string, int32_t> node_ids;
    for (int64_t i = 0; i < num_nodes; ++i) {
        NodeIn n;
        n.lat = in.Real("latitude");
        if (std::abs(n.lat) > 90) in.Fail("latitude", "must be within [-90, 90]");
        n.lon = in.Real("longitude");
        if (std::abs(n.lon) > 180) in.Fail("longitude", "must be within [-180, 180]");
        const std::string id(in.Token("inter_id"));
        n.signalised = in.Int("signalized", 0, 1) == 1;
        if (!node_ids.emplace(id, static_cast<int32_t>(i)).second) in.Fail("inter_id", "duplicate id '" + id + "'");
        Intersection node;
        node.id = id;
        net.intersections.push_back(std::move(node));
        nodes_in.push_back(n);
    }
    // An equirectangular projection about the mean position: metres east (x) and north (y).
    double lat0 = 0;
    double lon0 = 0;
    for (const NodeIn& n : nodes_in) {
        lat0 += n.lat / static_cast<double>(nodes_in.size());
        lon0 += n.lon / static_cast<double>(nodes_in.size());
    }
    constexpr double kEarthM = 6371000;
    const double rad = std::numbers::pi / 180;
    for (size_t i = 0; i < nodes_in.size(); ++i) {
        net.intersections[i].point = {kEarthM * std::cos(lat0 * rad) * (nodes_in[i].lon - lon0) * rad,
                                      kEarthM * (nodes_in[i].lat - lat0) * rad};
    }
    auto node_ref = [&](const char* field) {
        const std::string id(in.Token(field));
        auto it = node_ids.find(id);
        if (it == node_ids.end()) in.Fail(field, "unknown intersection '" + id + "'");
        return it->second;
    };

    // Road segments: one engine road per direction that has lanes.
    const int64_t num_segments = in.Int("number of road segments", 0, kMaxCount);
    std::vector<Segment> segments;
    std::vector<uint8_t> lane_perm;                       // per engine lane
    std::unordered_map<std::string, int32_t> segment_of;  // directional id -> segment
    for (int64_t s = 0; s < num_segments; ++s) {
        Segment seg;
        seg.from = node_ref("from_inter_id");
        seg.to = node_ref("to_inter_id");
        if (seg.from == seg.to) in.Fail("to_inter_id", "a road segment must join two different intersections");
        const double length = in.Positive("length");
        const double speed = in.Positive("speed_limit");
        std::array<int64_t, 2> lanes{in.Int("dir1_num_lane", 0, kMaxLanes), in.Int("dir2_num_lane", 0, kMaxLanes)};
        if (lanes[0] + lanes[1] == 0) in.Fail("dir2_num_lane", "a road segment needs lanes in some direction");
        std::array<std::string, 2> ids{std::string(in.Token("dir1_id")), std::string(in.Token("dir2_id"))};
        const Point a = net.intersections[seg.from].point;
        const Point b = net.intersections[seg.to].point;
        if (!((b - a).Norm() > 0.1)) {
            in.Fail("to_inter_id",
                    "intersections '" + net.intersections[seg.from].id + "' and '" + net.intersections[seg.to].id +
                        "' are at the same position");
        }
        for (int d = 0; d < 2; ++d) {
            const char* id_field = d == 0 ? "dir1_id" : "dir2_id";
            const char* mov_field = d == 0 ? "dir1_mov" : "dir2_mov";
            if (lanes[d] > 0 && !segment_of.emplace(ids[d], static_cast<int32_t>(s)).second) {
                in.Fail(id_field, "duplicate road id '" + ids[d] + "'");
            }
            Road road;
            road.id = ids[d];
            road.from = d == 0 ? seg.from : seg.to;
            road.to = d == 0 ? seg.to : seg.from;
            road.points = {net.intersections[road.from].point, net.intersections[road.to].point};
            road.declared_length_m = length;
            road.first_lane = static_cast<core::LaneId>(net.lanes.size());
            road.num_lanes = static_cast<int32_t>(lanes[d]);
            const auto road_id = static_cast<core::RoadId>(net.roads.size());
            for (int64_t k = 0; k < lanes[d]; ++k) {
                uint8_t perm = 0;
                for (uint8_t bit : {kLeft, kThrough, kRight}) {
                    if (in.Int(mov_field, 0, 1) == 1) perm |= bit;
                }
                Lane lane;
                lane.road = road_id;
                lane.index_in_road = static_cast<int32_t>(k);
                lane.width_m = kLaneWidthM;
                lane.max_speed_mps = speed;
                net.lanes.push_back(lane);
                lane_perm.push_back(perm);
            }
            if (lanes[d] == 0) continue;
            seg.road[d] = road_id;
            net.intersections[road.from].roads.push_back(road_id);
            net.intersections[road.to].roads.push_back(road_id);
            net.roads.push_back(std::move(road));
        }
        segments.push_back(seg);
    }

    // Signals: the segment at each approach slot (north, east, south, west).
    std::vector<std::array<int32_t, 4>> slots(net.intersections.size(), {-1, -1, -1, -1});
    std::vector<uint8_t> has_signal(net.intersections.size(), 0);
    const int64_t num_signals = in.Int("number of signals", 0, num_nodes);
    for (int64_t i = 0; i < num_signals; ++i) {
        const int32_t node = node_ref("inter_id");
        if (has_signal[node]) in.Fail("inter_id", "intersection '" + net.intersections[node].id + "' is listed twice");
        has_signal[node] = 1;
        static constexpr std::array<const char*, 4> kSlot{
            "approach1_id (north)", "approach2_id (east)", "approach3_id (south)", "approach4_id (west)"};
        for (int k = 0; k < 4; ++k) {
            const std::string id(in.Token(kSlot[k]));
            if (id == "-1") continue;
            auto it = segment_of.find(id);
            if (it == segment_of.end()) in.Fail(kSlot[k], "unknown road '" + id + "'");
            const Segment& seg = segments[it->second];
            if (seg.from != node && seg.to != node) {
                in.Fail(kSlot[k], "road '" + id + "' does not touch intersection '" + net.intersections[node].id + "'");
            }
            for (int j = 0; j < k; ++j) {
                if (slots[node][j] == it->second) in.Fail(kSlot[k], "road '" + id + "' is at two approaches");
            }
            slots[node][k] = it->second;
        }
    }
    if (!in.AtEnd()) in.Fail("end of file", "unexpected text after the signals");

    // Boxes: boundary nodes have none; elsewhere up to 10 m, never more than 30 % of the shortest drawn road.
    for (size_t i = 0; i < net.intersections.size(); ++i) {
        Intersection& node = net.intersections[i];
        std::vector<int32_t> neighbours;
        double shortest = 1e18;
        for (core::RoadId r : node.roads) {
            const Road& road = net.roads[r];
            neighbours.push_back(road.from == static_cast<int32_t>(i) ? road.to : road.from);
            shortest = std::min(shortest, core::PolylineLength(road.points));
        }
        std::sort(neighbours.begin(), neighbours.end());
        neighbours.erase(std::unique(neighbours.begin(), neighbours.end()), neighbours.end());
        if (has_signal[i] && neighbours.size() < 2) {
            throw ParseFailure{source + " inter_id",
                               "signalised intersection '" + node.id + "' has fewer than 2 roads"};
        }
        node.is_virtual = neighbours.size() <= 1 && !has_signal[i];
        node.width_m = node.is_virtual ? 0 : std::min(neighbours.size() > 2 ? 10.0 : 2.0, 0.3 * shortest);
        if (node.is_virtual) {
            ++notes.boundary;
        } else if (has_signal[i]) {
            ++notes.signalised;
        } else {
            ++notes.priority;
        }
    }

    // Movements.
    auto slot_of = [&](int32_t node, core::RoadId road) {
        for (int k = 0; k < 4; ++k) {
            const int32_t seg = slots[node][k];
            if (seg >= 0 && (segments[seg].road[0] == road || segments[seg].road[1] == road)) return k;
        }
        return -1;
    };
    std::vector<std::vector<std::pair<int, TurnType>>> link_kind(net.intersections.size());  // (slot, turn)
    for (size_t i = 0; i < net.intersections.size(); ++i) {
        const auto b = static_cast<int32_t>(i);
        Intersection& node = net.intersections[i];
        if (node.is_virtual) continue;
        for (core::RoadId r : node.roads) {
            if (net.roads[r].to != b) continue;
            const Road& from = net.roads[r];
            std::vector<core::RoadId> outs;
            for (core::RoadId s : node.roads) {
                if (net.roads[s].from == b && net.roads[s].to != from.from) outs.push_back(s);
            }
            const int in_slot = slot_of(b, r);
            for (core::RoadId s : outs) {
                const Road& to = net.roads[s];
                TurnType type = TurnType::kStraight;
                const int out_slot = slot_of(b, s);
                if (outs.size() == 1) {
                    type = TurnType::kStraight;
                } else if (in_slot >= 0 && out_slot >= 0) {
                    const int d = (out_slot - in_slot + 4) % 4;
                    type = d == 1 ? TurnType::kLeft : d == 2 ? TurnType::kStraight : TurnType::kRight;
                } else {
                    type = TurnByAngle(from.points.back() - from.points.front(), to.points.back() - to.points.front());
                    ++notes.geometric_turns;
                }
                std::vector<core::LaneId> lanes;
                for (int32_t k = 0; k < from.num_lanes; ++k) {
                    if (outs.size() == 1 || (lane_perm[from.first_lane + k] & TurnBit(type)) != 0) {
                        lanes.push_back(from.first_lane + k);
                    }
                }
                if (lanes.empty()) {
                    ++notes.permission_fallbacks;
                    for (int32_t k = 0; k < from.num_lanes; ++k) lanes.push_back(from.first_lane + k);
                }
                RoadLink link;
                link.intersection = b;
                link.index_in_intersection = static_cast<int32_t>(node.road_links.size());
                link.type = type;
                link.from_road = r;
                link.to_road = s;
                const auto link_id = static_cast<core::RoadLinkId>(net.road_links.size());
                for (core::LaneId l : lanes) {
                    for (int32_t k = 0; k < to.num_lanes; ++k) {
                        // Where the road only goes on, lanes carry straight over (no weaving across the box).
                        if (outs.size() == 1 && k != std::min(net.lanes[l].index_in_road, to.num_lanes - 1) &&
                            !(net.lanes[l].index_in_road == from.num_lanes - 1 && k > net.lanes[l].index_in_road)) {
                            continue;
                        }
                        LaneLink ll;
                        ll.road_link = link_id;
                        ll.from_lane = l;
                        ll.to_lane = to.first_lane + k;
                        link.lane_links.push_back(static_cast<core::LaneLinkId>(net.lane_links.size()));
                        net.lane_links.push_back(std::move(ll));
                    }
                }
                node.road_links.push_back(link_id);
                net.road_links.push_back(std::move(link));
                link_kind[i].emplace_back(in_slot, type);
            }
        }
    }

    // CBEngine's 8 phases: (approach slot, turn) pairs; right turns and unslotted approaches always go.
    using Move = std::pair<int, TurnType>;
    static const std::array<std::array<Move, 2>, 8> kPhases{{
        {{{0, TurnType::kLeft}, {2, TurnType::kLeft}}},
        {{{0, TurnType::kStraight}, {2, TurnType::kStraight}}},
        {{{1, TurnType::kLeft}, {3, TurnType::kLeft}}},
        {{{1, TurnType::kStraight}, {3, TurnType::kStraight}}},
        {{{0, TurnType::kLeft}, {0, TurnType::kStraight}}},
        {{{1, TurnType::kLeft}, {1, TurnType::kStraight}}},
        {{{2, TurnType::kLeft}, {2, TurnType::kStraight}}},
        {{{3, TurnType::kLeft}, {3, TurnType::kStraight}}},
    }};
    for (size_t i = 0; i < net.intersections.size(); ++i) {
        if (!has_signal[i]) continue;
        Intersection& node = net.intersections[i];
        for (const auto& moves : kPhases) {
            Phase phase;
            phase.duration_s = 30;
            for (size_t k = 0; k < link_kind[i].size(); ++k) {
                const Move m = link_kind[i][k];
                if (m.second == TurnType::kRight || m.first < 0 || m == moves[0] || m == moves[1]) {
                    phase.road_links.push_back(static_cast<int32_t>(k));
                }
            }
            node.phases.push_back(std::move(phase));
        }
    }
    Status st = net.Finalize();
    if (!st.ok()) throw ParseFailure{source + ": " + st.error().where, st.error().message};
    return net;
}

core::Demand ParseFlowsOrThrow(std::string_view text, const RoadNetwork& net, const std::string& source) {
    Reader in(text, source);
    core::Demand demand;
    const int64_t n = in.Int("number of flows", 0, kMaxCount);
    for (int64_t i = 0; i < n; ++i) {
        core::Flow flow;
        flow.id = "flow_" + std::to_string(i);
        flow.start_s = in.Real("start_time");
        if (flow.start_s < 0) in.Fail("start_time", "must be >= 0");
        flow.end_s = in.Real("end_time");
        if (flow.end_s < flow.start_s) in.Fail("end_time", "must not be before start_time");
        flow.interval_s = in.Positive("vehicle_interval");
        const int64_t k = in.Int("number of roads", 1, 100000);
        double top_speed = 0;
        for (int64_t j = 0; j < k; ++j) {
            const std::string id(in.Token("route"));
            const core::RoadId r = net.FindRoad(id);
            if (r == core::kNone) in.Fail("route", "unknown road '" + id + "'");
            flow.route.push_back(r);
            const Road& road = net.roads[r];
            for (int32_t l = 0; l < road.num_lanes; ++l) {
                top_speed = std::max(top_speed, net.lanes[road.first_lane + l].max_speed_mps);
            }
        }
        flow.vehicle.max_speed_mps = top_speed;
        // As CityFlow: a vehicle needs somewhere to go after its first road.
        if (flow.route.size() < 2) {
            ++demand.single_road_dropped;
            continue;
        }
        demand.flows.push_back(std::move(flow));
    }
    if (!in.AtEnd()) in.Fail("end of file", "unexpected text after the flows");
    return demand;
}

}  // namespace

Result<core::RoadNetwork> ParseCbengineRoadnet(std::string_view text,
                                               const std::string& source,
                                               CbengineImportNotes* notes) {
    CbengineImportNotes local;
    return Guard<RoadNetwork>([&] { return ParseRoadnetOrThrow(text, source, notes ? *notes : local); });
}

Result<core::Demand> ParseCbengineFlows(std::string_view text,
                                        const core::RoadNetwork& net,
                                        const std::string& source) {
    return Guard<core::Demand>([&] { return ParseFlowsOrThrow(text, net, source); });
}

Result<core::RoadNetwork> LoadCbengineRoadnet(const std::string& path, CbengineImportNotes* notes) {
    CB_TRY_ASSIGN(const std::string text, core::ReadFile(path));
    return ParseCbengineRoadnet(text, path, notes);
}

Result<core::Demand> LoadCbengineFlows(const std::string& path, const core::RoadNetwork& net) {
    CB_TRY_ASSIGN(const std::string text, core::ReadFile(path));
    return ParseCbengineFlows(text, net, path);
}

Result<CbengineConfig> LoadCbengineConfig(const std::string& path) {
    CB_TRY_ASSIGN(const std::string text, core::ReadFile(path));
    namespace fs = std::filesystem;
    CbengineConfig cfg;
    bool have_start = false;
    bool have_end = false;
    size_t pos = 0;
    int line_no = 0;
    while (pos <= text.size()) {
        const size_t nl = std::min(text.find('\n', pos), text.size());
        std::string line = text.substr(pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
        const size_t sep = line.find_first_of(":=");
        auto trim = [](const std::string& s) {
            const size_t b = s.find_first_not_of(" \t\r");
            const size_t e = s.find_last_not_of(" \t\r");
            return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
        };
        if (trim(line).empty()) continue;
        const std::string where = path + ":" + std::to_string(line_no);
        if (sep == std::string::npos) return InvalidArgument(where, "expected 'key : value' or 'key = value'");
        const std::string key = trim(line.substr(0, sep));
        const std::string value = trim(line.substr(sep + 1));
        auto resolve = [&](const std::string& given) -> Result<std::string> {
            if (fs::exists(given)) return given;
            const fs::path beside = fs::path(path).parent_path() / fs::path(given).filename();
            if (fs::exists(beside)) return beside.string();
            return Error{ErrorCode::kNotFound,
                         "neither '" + given + "' nor '" + beside.string() + "' exists",
                         where + " " + key};
        };
        auto integer = [&](int64_t& out) -> Status {
            auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
            if (ec != std::errc() || ptr != value.data() + value.size() || out < 0) {
                return InvalidArgument(where + " " + key, "expected a whole number of seconds, got '" + value + "'");
            }
            return {};
        };
        if (key == "road_file_addr") {
            CB_TRY_ASSIGN(cfg.roadnet_path, resolve(value));
        } else if (key == "vehicle_file_addr") {
            CB_TRY_ASSIGN(cfg.flow_path, resolve(value));
        } else if (key == "start_time_epoch") {
            CB_TRY(integer(cfg.start_s));
            have_start = true;
        } else if (key == "max_time_epoch") {
            CB_TRY(integer(cfg.end_s));
            have_end = true;
        }
        // Other keys (logging) do not change the simulation.
    }
    if (cfg.roadnet_path.empty()) return InvalidArgument(path + " road_file_addr", "is missing");
    if (cfg.flow_path.empty()) return InvalidArgument(path + " vehicle_file_addr", "is missing");
    if (have_start && have_end && cfg.end_s <= cfg.start_s) {
        return InvalidArgument(path + " max_time_epoch", "must be after start_time_epoch");
    }
    return cfg;
}

}  // namespace citybrain::io
