// SPDX-License-Identifier: Apache-2.0
#include "dispatch/contraction.hpp"

#include <algorithm>
#include <queue>

namespace citybrain::dispatch {

namespace {

struct Arc {
    NodeId to;
    TimeMs time_ms;
};

/// The graph while it is being contracted: in- and out-arcs per node, parallel arcs kept at their minimum.
struct WorkGraph {
    std::vector<std::vector<Arc>> out, in;
    std::vector<char> contracted;
    std::vector<uint32_t> contracted_neighbours;
    std::vector<uint32_t> level;  // 1 + the highest level among contracted neighbours: spreads contraction evenly

    static void AddOrLower(std::vector<Arc>& arcs, NodeId to, TimeMs t) {
        for (Arc& a : arcs) {
            if (a.to == to) {
                a.time_ms = std::min(a.time_ms, t);
                return;
            }
        }
        arcs.push_back({to, t});
    }
    void AddArc(NodeId u, NodeId w, TimeMs t) {
        AddOrLower(out[u], w, t);
        AddOrLower(in[w], u, t);
    }
};

/// A bounded Dijkstra from `source` that ignores `skip` and contracted nodes: is there a path to `target`
/// no longer than `limit`? Searches are capped; a capped search just adds a shortcut that was not needed.
class WitnessSearch {
public:
    explicit WitnessSearch(size_t n) : dist_(n, kUnreachable) {}

    /// Runs once per source; then Dist(target) answers for every target.
    void Run(const WorkGraph& g, NodeId source, NodeId skip, TimeMs limit) {
        for (NodeId v : touched_) dist_[v] = kUnreachable;
        touched_.clear();
        queue_ = {};
        dist_[source] = 0;
        touched_.push_back(source);
        queue_.emplace(0, source);
        int settled = 0;
        while (!queue_.empty() && settled < kMaxSettled) {
            const auto [d, v] = queue_.top();
            queue_.pop();
            if (d != dist_[v]) continue;
            if (d > limit) break;
            ++settled;
            for (const Arc& a : g.out[v]) {
                if (a.to == skip || g.contracted[a.to]) continue;
                const TimeMs nd = d + a.time_ms;
                if (nd < dist_[a.to]) {
                    if (dist_[a.to] == kUnreachable) touched_.push_back(a.to);
                    dist_[a.to] = nd;
                    queue_.emplace(nd, a.to);
                }
            }
        }
    }
    TimeMs Dist(NodeId v) const { return dist_[v]; }

private:
    static constexpr int kMaxSettled = 500;
    std::vector<TimeMs> dist_;
    std::vector<NodeId> touched_;
    std::priority_queue<std::pair<TimeMs, NodeId>, std::vector<std::pair<TimeMs, NodeId>>, std::greater<>> queue_;
};

/// Contracts v (or only counts the shortcuts it would need when `dry_run`).
int Contract(WorkGraph& g, WitnessSearch& witness, NodeId v, bool dry_run) {
    int added = 0;
    TimeMs max_out = 0;
    for (const Arc& a : g.out[v]) {
        if (!g.contracted[a.to]) max_out = std::max(max_out, a.time_ms);
    }
    std::vector<std::tuple<NodeId, NodeId, TimeMs>> shortcuts;
    for (const Arc& in : g.in[v]) {
        const NodeId u = in.to;
        if (g.contracted[u]) continue;
        witness.Run(g, u, v, in.time_ms + max_out);
        for (const Arc& out : g.out[v]) {
            const NodeId w = out.to;
            if (g.contracted[w] || w == u) continue;
            const TimeMs via = in.time_ms + out.time_ms;
            if (witness.Dist(w) <= via) continue;
            ++added;
            if (!dry_run) shortcuts.emplace_back(u, w, via);
        }
    }
    if (!dry_run) {
        for (const auto& [u, w, t] : shortcuts) g.AddArc(u, w, t);
    }
    return added;
}

int Priority(WorkGraph& g, WitnessSearch& witness, NodeId v) {
    int degree = 0;
    for (const Arc& a : g.out[v]) degree += g.contracted[a.to] ? 0 : 1;
    for (const Arc& a : g.in[v]) degree += g.contracted[a.to] ? 0 : 1;
    return 2 * (Contract(g, witness, v, true) - degree) + static_cast<int>(g.contracted_neighbours[v]) +
           static_cast<int>(g.level[v]);
}

}  // namespace

ContractionHierarchy ContractionHierarchy::Build(const RoadGraph& graph) {
    const size_t n = graph.nodes();
    WorkGraph g;
    g.out.resize(n);
    g.in.resize(n);
    g.contracted.assign(n, 0);
    g.contracted_neighbours.assign(n, 0);
    g.level.assign(n, 0);
    for (NodeId v = 0; v < n; ++v) {
        for (uint32_t e = graph.first_out[v]; e < graph.first_out[v + 1]; ++e) {
            if (graph.head[e] != v) g.AddArc(v, graph.head[e], graph.time_ms[e]);
        }
    }
    // Every arc ever present (original or shortcut) ends up in the upward graphs, so keep them all.
    WitnessSearch witness(n);
    using Item = std::pair<int, NodeId>;  // (priority, node): ties by id, so the order is deterministic
    std::priority_queue<Item, std::vector<Item>, std::greater<>> queue;
    for (NodeId v = 0; v < n; ++v) queue.emplace(Priority(g, witness, v), v);
    ContractionHierarchy ch;
    ch.rank_.assign(n, 0);
    std::vector<std::vector<Arc>> all_out(n);  // arcs at contraction time, for the upward graphs
    size_t original = 0;
    for (NodeId v = 0; v < n; ++v) original += g.out[v].size();
    uint32_t next_rank = 0;
    while (!queue.empty()) {
        const auto [prio, v] = queue.top();
        queue.pop();
        if (g.contracted[v]) continue;
        // Lazy update: if v's priority grew past the next candidate, put it back.
        const int now = Priority(g, witness, v);
        if (!queue.empty() && now > queue.top().first) {
            queue.emplace(now, v);
            continue;
        }
        Contract(g, witness, v, false);
        g.contracted[v] = 1;
        ch.rank_[v] = next_rank++;
        for (const auto* arcs : {&g.out[v], &g.in[v]}) {
            for (const Arc& a : *arcs) {
                ++g.contracted_neighbours[a.to];
                g.level[a.to] = std::max(g.level[a.to], g.level[v] + 1);
            }
        }
    }
    // With all nodes ranked, every arc (original or shortcut) still stored goes upward from one of its ends.
    size_t total = 0;
    std::vector<std::vector<UpEdge>> fwd(n), bwd(n);
    for (NodeId u = 0; u < n; ++u) {
        for (const Arc& a : g.out[u]) {
            ++total;
            if (ch.rank_[a.to] > ch.rank_[u]) {
                fwd[u].push_back({a.to, a.time_ms});
            } else {
                bwd[a.to].push_back({u, a.time_ms});
            }
        }
    }
    ch.shortcuts_ = total - original;
    auto flatten =
        [n](const std::vector<std::vector<UpEdge>>& lists, std::vector<uint32_t>& first, std::vector<UpEdge>& edges) {
            first.assign(n + 1, 0);
            for (size_t v = 0; v < n; ++v) first[v + 1] = first[v] + static_cast<uint32_t>(lists[v].size());
            edges.reserve(first[n]);
            for (const auto& l : lists) edges.insert(edges.end(), l.begin(), l.end());
        };
    flatten(fwd, ch.fwd_first_, ch.fwd_);
    flatten(bwd, ch.bwd_first_, ch.bwd_);
    ch.fwd_search_.dist.assign(n, kUnreachable);
    ch.bwd_search_.dist.assign(n, kUnreachable);
    return ch;
}

void ContractionHierarchy::Upward(const std::vector<uint32_t>& first,
                                  const std::vector<UpEdge>& edges,
                                  const std::vector<uint32_t>& down_first,
                                  const std::vector<UpEdge>& down,
                                  NodeId from,
                                  Search& s) const {
    for (NodeId v : s.touched) s.dist[v] = kUnreachable;
    s.touched.clear();
    auto& heap = s.heap;  // reused storage: no allocation per query once warm
    heap.clear();
    const auto greater = std::greater<std::pair<TimeMs, NodeId>>();
    s.dist[from] = 0;
    s.touched.push_back(from);
    heap.emplace_back(0, from);
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), greater);
        const auto [d, v] = heap.back();
        heap.pop_back();
        if (d != s.dist[v]) continue;
        // Stall on demand: if a higher node already reaches v faster, nothing above v is reached best through v.
        bool stalled = false;
        for (uint32_t e = down_first[v]; e < down_first[v + 1] && !stalled; ++e) {
            const TimeMs via = s.dist[down[e].to];
            stalled = via != kUnreachable && via + down[e].time_ms < d;
        }
        if (stalled) continue;
        for (uint32_t e = first[v]; e < first[v + 1]; ++e) {
            const TimeMs nd = d + edges[e].time_ms;
            const NodeId w = edges[e].to;
            if (nd < s.dist[w]) {
                if (s.dist[w] == kUnreachable) s.touched.push_back(w);
                s.dist[w] = nd;
                heap.emplace_back(nd, w);
                std::push_heap(heap.begin(), heap.end(), greater);
            }
        }
    }
}

TimeMs ContractionHierarchy::Query(NodeId from, NodeId to) const {
    if (from == to) return 0;
    // Two full upward searches (the upward search spaces are small), then the best meeting node.
    Upward(fwd_first_, fwd_, bwd_first_, bwd_, from, fwd_search_);
    Upward(bwd_first_, bwd_, fwd_first_, fwd_, to, bwd_search_);
    TimeMs best = kUnreachable;
    const Search& small = fwd_search_.touched.size() < bwd_search_.touched.size() ? fwd_search_ : bwd_search_;
    const Search& other = &small == &fwd_search_ ? bwd_search_ : fwd_search_;
    for (NodeId v : small.touched) {
        if (other.dist[v] != kUnreachable) best = std::min(best, small.dist[v] + other.dist[v]);
    }
    return best;
}

std::vector<TimeMs> ContractionHierarchy::OneToMany(NodeId from, const std::vector<NodeId>& targets) const {
    std::vector<TimeMs> out;
    out.reserve(targets.size());
    Upward(fwd_first_, fwd_, bwd_first_, bwd_, from, fwd_search_);
    for (NodeId t : targets) {
        if (t == from) {
            out.push_back(0);
            continue;
        }
        Upward(bwd_first_, bwd_, fwd_first_, fwd_, t, bwd_search_);
        TimeMs best = kUnreachable;
        for (NodeId v : bwd_search_.touched) {
            if (fwd_search_.dist[v] != kUnreachable) best = std::min(best, fwd_search_.dist[v] + bwd_search_.dist[v]);
        }
        out.push_back(best);
    }
    return out;
}

ContractionHierarchy::Table ContractionHierarchy::BuildTable(const std::vector<NodeId>& targets) const {
    Table table;
    table.ch_ = this;
    table.targets_ = targets.size();
    const size_t n = rank_.size();
    std::vector<std::pair<NodeId, Table::Entry>> found;
    for (uint32_t i = 0; i < targets.size(); ++i) {
        Upward(bwd_first_, bwd_, fwd_first_, fwd_, targets[i], bwd_search_);
        for (NodeId v : bwd_search_.touched) found.push_back({v, {i, bwd_search_.dist[v]}});
    }
    table.first_.assign(n + 1, 0);
    for (const auto& [v, e] : found) ++table.first_[v + 1];
    for (size_t v = 0; v < n; ++v) table.first_[v + 1] += table.first_[v];
    table.entries_.resize(found.size());
    std::vector<uint32_t> fill(table.first_.begin(), table.first_.end() - 1);
    for (const auto& [v, e] : found) table.entries_[fill[v]++] = e;
    return table;
}

std::vector<TimeMs> ContractionHierarchy::Table::Row(NodeId from) const {
    std::vector<TimeMs> out(targets_, kUnreachable);
    ch_->Upward(ch_->fwd_first_, ch_->fwd_, ch_->bwd_first_, ch_->bwd_, from, ch_->fwd_search_);
    for (NodeId v : ch_->fwd_search_.touched) {
        const TimeMs d = ch_->fwd_search_.dist[v];
        for (uint32_t k = first_[v]; k < first_[v + 1]; ++k) {
            const Entry& e = entries_[k];
            out[e.target] = std::min(out[e.target], d + e.time_ms);
        }
    }
    return out;
}

}  // namespace citybrain::dispatch
