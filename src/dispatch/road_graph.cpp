// SPDX-License-Identifier: Apache-2.0
#include "dispatch/road_graph.hpp"

#include <algorithm>
#include <cmath>
#include <queue>

namespace citybrain::dispatch {

struct GraphBuilder {
    static void Index(RoadGraph& g) {
        g.by_name_.clear();
        for (NodeId v = 0; v < g.node_names.size(); ++v) g.by_name_.emplace(g.node_names[v], v);
    }
};

Result<NodeId> RoadGraph::Find(const std::string& name) const {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return NotFound("node", "unknown node '" + name.substr(0, 64) + "'");
    return it->second;
}

Result<RoadGraph> RoadGraph::FromRoadNetwork(const core::RoadNetwork& net) {
    std::vector<std::string> names;
    std::vector<core::Point> xy;
    for (const auto& in : net.intersections) {
        names.push_back(in.id);
        xy.push_back(in.point);
    }
    std::vector<EdgeSpec> edges;
    for (size_t r = 0; r < net.roads.size(); ++r) {
        const core::Road& road = net.roads[r];
        double speed = 0;
        for (int32_t k = 0; k < road.num_lanes; ++k) {
            speed =
                std::max(speed, net.lanes[static_cast<size_t>(road.first_lane) + static_cast<size_t>(k)].max_speed_mps);
        }
        edges.push_back({static_cast<NodeId>(road.from),
                         static_cast<NodeId>(road.to),
                         road.length_m,
                         speed,
                         static_cast<int32_t>(r)});
    }
    CB_TRY_ASSIGN(RoadGraph g, Build(std::move(names), std::move(xy), std::move(edges), "roads"));
    g.road_names.reserve(net.roads.size());
    for (const auto& road : net.roads) g.road_names.push_back(road.name);
    return g;
}

Result<RoadGraph> RoadGraph::Build(std::vector<std::string> names,
                                   std::vector<core::Point> xy,
                                   std::vector<EdgeSpec> edges,
                                   const std::string& where) {
    RoadGraph g;
    const size_t n = names.size();
    g.node_names = std::move(names);
    g.node_xy = std::move(xy);
    std::erase_if(edges, [](const EdgeSpec& e) { return e.from == e.to; });
    for (size_t i = 0; i < edges.size(); ++i) {
        const EdgeSpec& e = edges[i];
        if (e.from >= n || e.to >= n) return InvalidArgument(where, "edge " + std::to_string(i) + " names no node");
        if (!(e.speed_mps > 0) || !(e.length_m > 0)) {
            return InvalidArgument(where + "[" + std::to_string(e.road >= 0 ? e.road : static_cast<int32_t>(i)) + "]",
                                   "needs a positive length and speed limit to be routed on");
        }
    }
    std::stable_sort(edges.begin(), edges.end(), [](const EdgeSpec& a, const EdgeSpec& b) { return a.from < b.from; });
    g.first_out.assign(n + 1, 0);
    for (const EdgeSpec& e : edges) ++g.first_out[e.from + 1];
    for (size_t v = 0; v < n; ++v) g.first_out[v + 1] += g.first_out[v];
    for (const EdgeSpec& e : edges) {
        const double ms = std::ceil(e.length_m / e.speed_mps * 1000.0);
        g.head.push_back(e.to);
        g.time_ms.push_back(static_cast<uint32_t>(std::min(ms, 4e9)));
        g.length_m.push_back(static_cast<float>(e.length_m));
        g.road.push_back(e.road);
    }
    GraphBuilder::Index(g);
    return g;
}

namespace {

using QueueItem = std::pair<TimeMs, NodeId>;
using MinQueue = std::priority_queue<QueueItem, std::vector<QueueItem>, std::greater<>>;

/// Dijkstra from `from`, settling until `to` (or everything when `to` is kNoTarget). Returns the distances and,
/// per node, the edge it was last reached by.
constexpr NodeId kNoTarget = std::numeric_limits<NodeId>::max();

struct Tree {
    std::vector<TimeMs> dist;
    std::vector<uint32_t> parent_edge;
};

Tree Dijkstra(const RoadGraph& g, NodeId from, NodeId to) {
    Tree t{std::vector<TimeMs>(g.nodes(), kUnreachable), std::vector<uint32_t>(g.nodes(), UINT32_MAX)};
    MinQueue queue;
    t.dist[from] = 0;
    queue.emplace(0, from);
    while (!queue.empty()) {
        const auto [d, v] = queue.top();
        queue.pop();
        if (d != t.dist[v]) continue;
        if (v == to) break;
        for (uint32_t e = g.first_out[v]; e < g.first_out[v + 1]; ++e) {
            const TimeMs nd = d + g.time_ms[e];
            if (nd < t.dist[g.head[e]]) {
                t.dist[g.head[e]] = nd;
                t.parent_edge[g.head[e]] = e;
                queue.emplace(nd, g.head[e]);
            }
        }
    }
    return t;
}

}  // namespace

std::optional<Path> ShortestPath(const RoadGraph& g, NodeId from, NodeId to) {
    const Tree t = Dijkstra(g, from, to);
    if (t.dist[to] == kUnreachable) return std::nullopt;
    Path p;
    p.time_ms = t.dist[to];
    for (NodeId v = to; v != from;) {
        p.nodes.push_back(v);
        const uint32_t e = t.parent_edge[v];
        p.length_m += g.length_m[e];
        // The tail of edge e: the node whose range holds it.
        v = static_cast<NodeId>(std::upper_bound(g.first_out.begin(), g.first_out.end(), e) - g.first_out.begin() - 1);
    }
    p.nodes.push_back(from);
    std::reverse(p.nodes.begin(), p.nodes.end());
    return p;
}

std::vector<TimeMs> OneToAll(const RoadGraph& g, NodeId from) { return Dijkstra(g, from, kNoTarget).dist; }

size_t RoadGraph::UpdateRoadSpeeds(const std::vector<double>& speed_mps, double floor_mps) {
    size_t changed = 0;
    for (size_t e = 0; e < edges(); ++e) {
        if (road[e] < 0 || static_cast<size_t>(road[e]) >= speed_mps.size()) continue;
        const double v = speed_mps[static_cast<size_t>(road[e])];
        if (std::isnan(v)) continue;
        // As in Build: whole milliseconds, rounded up.
        const auto t = static_cast<uint32_t>(
            std::min(std::ceil(static_cast<double>(length_m[e]) / std::max(v, floor_mps) * 1000.0), 4e9));
        if (t != time_ms[e]) time_ms[e] = t, ++changed;
    }
    return changed;
}

std::vector<NodeId> MainComponent(const RoadGraph& g) {
    const size_t n = g.nodes();
    if (n == 0) return {};
    NodeId root = 0;
    for (NodeId v = 0; v < n; ++v) {
        if (g.first_out[v + 1] - g.first_out[v] > g.first_out[root + 1] - g.first_out[root]) root = v;
    }
    // Reverse CSR, then one breadth-first search each way; the component is what both reach.
    std::vector<uint32_t> rev_first(n + 1, 0);
    for (const NodeId h : g.head) ++rev_first[h + 1];
    for (size_t v = 0; v < n; ++v) rev_first[v + 1] += rev_first[v];
    std::vector<NodeId> rev(g.edges());
    {
        std::vector<uint32_t> fill(rev_first.begin(), rev_first.end() - 1);
        for (NodeId v = 0; v < n; ++v) {
            for (uint32_t e = g.first_out[v]; e < g.first_out[v + 1]; ++e) rev[fill[g.head[e]]++] = v;
        }
    }
    const auto reach = [&](const std::vector<uint32_t>& first, const std::vector<NodeId>& to) {
        std::vector<uint8_t> seen(n, 0);
        std::vector<NodeId> queue{root};
        seen[root] = 1;
        for (size_t q = 0; q < queue.size(); ++q) {
            for (uint32_t e = first[queue[q]]; e < first[queue[q] + 1]; ++e) {
                if (!seen[to[e]]) seen[to[e]] = 1, queue.push_back(to[e]);
            }
        }
        return seen;
    };
    const auto fwd = reach(g.first_out, g.head);
    const auto bwd = reach(rev_first, rev);
    std::vector<NodeId> out;
    for (NodeId v = 0; v < n; ++v) {
        if (fwd[v] && bwd[v]) out.push_back(v);
    }
    return out;
}

}  // namespace citybrain::dispatch
