// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <vector>

#include "dispatch/road_graph.hpp"

namespace citybrain::dispatch {

/// Contraction hierarchies (Geisberger et al. 2008): nodes are contracted one by one in order of importance
/// (edge difference plus contracted neighbours), adding a shortcut u→w for u→v→w unless a witness path is no
/// longer. A query is a bidirectional Dijkstra that only climbs the order (with stall-on-demand). Exact: equal to
/// Dijkstra's times. Queries reuse scratch space inside the object: use one object per thread.
class ContractionHierarchy {
public:
    static ContractionHierarchy Build(const RoadGraph& graph);

    /// Travel time from `from` to `to`, or kUnreachable.
    TimeMs Query(NodeId from, NodeId to) const;

    /// Times from `from` to each of `targets` (one upward search from the source, one per target; the targets'
    /// backward searches are what a many-to-many table caches).
    std::vector<TimeMs> OneToMany(NodeId from, const std::vector<NodeId>& targets) const;

    /// Many-to-many tables (Knopp et al. 2007): the targets' backward upward searches are kept as buckets at the
    /// nodes they reach; a row from any source is then one forward search plus bucket scans. Build once per
    /// target set (the open tasks, say), then ask for as many sources (units) as needed.
    class Table {
    public:
        /// Times from `from` to every target, in the targets' order.
        std::vector<TimeMs> Row(NodeId from) const;
        size_t targets() const { return targets_; }

    private:
        friend class ContractionHierarchy;
        struct Entry {
            uint32_t target;
            TimeMs time_ms;
        };
        const ContractionHierarchy* ch_ = nullptr;
        size_t targets_ = 0;
        std::vector<uint32_t> first_;  // CSR buckets per node
        std::vector<Entry> entries_;
    };
    Table BuildTable(const std::vector<NodeId>& targets) const;

    size_t shortcuts() const { return shortcuts_; }
    size_t nodes() const { return rank_.size(); }

private:
    struct UpEdge {
        NodeId to;
        TimeMs time_ms;
    };
    // Upward edges in CSR form: forward (u→w with rank[w] > rank[u]) and backward (edges w→u stored at u when
    // rank[w] > rank[u], searched from the target).
    std::vector<uint32_t> fwd_first_, bwd_first_;
    std::vector<UpEdge> fwd_, bwd_;
    std::vector<uint32_t> rank_;
    size_t shortcuts_ = 0;

    // Query scratch, reused: a query allocates nothing once warm.
    struct Search {
        std::vector<TimeMs> dist;
        std::vector<NodeId> touched;
        std::vector<std::pair<TimeMs, NodeId>> heap;
    };
    mutable Search fwd_search_, bwd_search_;
    void Upward(const std::vector<uint32_t>& first,
                const std::vector<UpEdge>& edges,
                const std::vector<uint32_t>& down_first,
                const std::vector<UpEdge>& down,
                NodeId from,
                Search& s) const;
};

}  // namespace citybrain::dispatch
