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
    RoadGraph g;
    const size_t n = net.intersections.size();
    g.node_names.reserve(n);
    for (const auto& in : net.intersections) {
        g.node_names.push_back(in.id);
        g.node_xy.push_back(in.point);
    }
    struct E {
        NodeId from, to;
        uint32_t time_ms;
        float length_m;
        int32_t road;
    };
    std::vector<E> edges;
    for (size_t r = 0; r < net.roads.size(); ++r) {
        const core::Road& road = net.roads[r];
        if (road.from == road.to) continue;
        double speed = 0;
        for (int32_t k = 0; k < road.num_lanes; ++k) {
            speed = std::max(speed, net.lanes[static_cast<size_t>(road.first_lane + k)].max_speed_mps);
        }
        if (!(speed > 0) || !(road.length_m > 0)) {
            return InvalidArgument("roads[" + std::to_string(r) + "] (" + road.id + ")",
                                   "needs a positive length and speed limit to be routed on");
        }
        const double ms = std::ceil(road.length_m / speed * 1000.0);
        edges.push_back({static_cast<NodeId>(road.from),
                         static_cast<NodeId>(road.to),
                         static_cast<uint32_t>(std::min(ms, 4e9)),
                         static_cast<float>(road.length_m),
                         static_cast<int32_t>(r)});
    }
    std::stable_sort(edges.begin(), edges.end(), [](const E& a, const E& b) { return a.from < b.from; });
    g.first_out.assign(n + 1, 0);
    for (const E& e : edges) ++g.first_out[e.from + 1];
    for (size_t v = 0; v < n; ++v) g.first_out[v + 1] += g.first_out[v];
    for (const E& e : edges) {
        g.head.push_back(e.to);
        g.time_ms.push_back(e.time_ms);
        g.length_m.push_back(e.length_m);
        g.road.push_back(e.road);
    }
    GraphBuilder::Index(g);
    return g;
}

namespace {

using QueueItem = std::pair<TimeMs, NodeId>;
using MinQueue = std::priority_queue<QueueItem, std::vector<QueueItem>, std::greater<>>;

}  // namespace

std::optional<Path> ShortestPath(const RoadGraph& g, NodeId from, NodeId to) {
    std::vector<TimeMs> dist(g.nodes(), kUnreachable);
    std::vector<uint32_t> parent_edge(g.nodes(), UINT32_MAX);
    MinQueue queue;
    dist[from] = 0;
    queue.emplace(0, from);
    while (!queue.empty()) {
        const auto [d, v] = queue.top();
        queue.pop();
        if (d != dist[v]) continue;
        if (v == to) break;
        for (uint32_t e = g.first_out[v]; e < g.first_out[v + 1]; ++e) {
            const TimeMs nd = d + g.time_ms[e];
            if (nd < dist[g.head[e]]) {
                dist[g.head[e]] = nd;
                parent_edge[g.head[e]] = e;
                queue.emplace(nd, g.head[e]);
            }
        }
    }
    if (dist[to] == kUnreachable) return std::nullopt;
    Path p;
    p.time_ms = dist[to];
    for (NodeId v = to; v != from;) {
        p.nodes.push_back(v);
        const uint32_t e = parent_edge[v];
        p.length_m += g.length_m[e];
        // The tail of edge e: the node whose range holds it.
        v = static_cast<NodeId>(std::upper_bound(g.first_out.begin(), g.first_out.end(), e) - g.first_out.begin() - 1);
    }
    p.nodes.push_back(from);
    std::reverse(p.nodes.begin(), p.nodes.end());
    return p;
}

std::vector<TimeMs> OneToAll(const RoadGraph& g, NodeId from) {
    std::vector<TimeMs> dist(g.nodes(), kUnreachable);
    MinQueue queue;
    dist[from] = 0;
    queue.emplace(0, from);
    while (!queue.empty()) {
        const auto [d, v] = queue.top();
        queue.pop();
        if (d != dist[v]) continue;
        for (uint32_t e = g.first_out[v]; e < g.first_out[v + 1]; ++e) {
            const TimeMs nd = d + g.time_ms[e];
            if (nd < dist[g.head[e]]) {
                dist[g.head[e]] = nd;
                queue.emplace(nd, g.head[e]);
            }
        }
    }
    return dist;
}

}  // namespace citybrain::dispatch
