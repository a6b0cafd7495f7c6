// SPDX-License-Identifier: Apache-2.0
#include "dispatch/assignment.hpp"

#include <algorithm>
#include <cassert>
#include <random>

namespace citybrain::dispatch {

const char* UnitKindName(UnitKind kind) {
    switch (kind) {
        case UnitKind::kRobotDog:
            return "robot_dog";
        case UnitKind::kSanitationRobot:
            return "sanitation_robot";
        case UnitKind::kCrew:
            return "crew";
        case UnitKind::kDrone:
            return "drone";
    }
    return "?";
}

Result<UnitKind> ParseUnitKind(const std::string& name) {
    for (size_t k = 0; k < kUnitKinds; ++k) {
        if (name == UnitKindName(static_cast<UnitKind>(k))) return static_cast<UnitKind>(k);
    }
    return InvalidArgument("kind", "unknown unit kind '" + name + "' (robot_dog, sanitation_robot, crew, drone)");
}

AssignmentResult Assign(const std::vector<UnitState>& units,
                        const std::vector<TaskSpec>& tasks,
                        const std::vector<std::vector<TimeMs>>& table,
                        const AssignmentOptions& options) {
    const size_t nt = tasks.size(), nu = units.size();
    AssignmentResult out;
    out.unit_of_task.assign(nt, -1);
    out.task_of_unit.assign(nu, -1);
    out.eta_s.assign(nt, 0);
    if (nt == 0) return out;

    const auto level = [](int priority) { return static_cast<size_t>(std::clamp(priority, 1, 4) - 1); };
    const auto driving = [&](size_t u) {
        return units[u].current_task >= 0 && static_cast<size_t>(units[u].current_task) < nt;
    };
    // Weighted milliseconds: integers keep the solver exact. A diversion is priced by adding it to every pair and
    // every outside option and refunding it where a unit keeps its task: all costs stay non-negative, and the
    // objective differs from the true one by a constant.
    const Cost divert = static_cast<Cost>(options.divert_s * 1000.0);
    std::vector<Cost> outside(nt);
    std::vector<Cost> cost(nt * nu, kNoEdge);
    for (size_t t = 0; t < nt; ++t) {
        const size_t l = level(tasks[t].priority);
        outside[t] = static_cast<Cost>(options.unserved_s[l] * options.weight[l] * 1000.0) + divert;
        Cost* row = &cost[t * nu];
        for (size_t u = 0; u < nu; ++u) {
            const UnitState& unit = units[u];
            const TimeMs time = table[u][t];
            const bool ok = unit.available && (tasks[t].kinds & MaskOf(unit.kind)) != 0 && time != kUnreachable &&
                            static_cast<double>(time) <= unit.range_s * 1000.0;
            if (!ok) continue;
            const Cost c = static_cast<Cost>(static_cast<double>(time) * options.weight[l]) + divert -
                           (driving(u) && static_cast<size_t>(unit.current_task) == t ? divert : 0);
            // A pair dearer than leaving the task unserved is never worth taking.
            if (c < outside[t]) row[u] = c;
        }
    }

    const auto col = SolveLapWithOutside(cost, nt, nu, outside);
    for (size_t t = 0; t < nt; ++t) {
        const size_t l = level(tasks[t].priority);
        if (col[t] < 0 || cost[t * nu + static_cast<size_t>(col[t])] >= kNoEdge) {
            out.cost += options.unserved_s[l] * options.weight[l];
            continue;
        }
        const auto u = static_cast<size_t>(col[t]);
        out.unit_of_task[t] = col[t];
        out.task_of_unit[u] = static_cast<int32_t>(t);
        out.eta_s[t] = static_cast<double>(table[u][t]) / 1000.0;
        out.cost +=
            static_cast<double>(static_cast<Cost>(static_cast<double>(table[u][t]) * options.weight[l])) / 1000.0;
        ++out.assigned;
    }
    for (size_t u = 0; u < nu; ++u) {
        if (driving(u) && out.task_of_unit[u] != units[u].current_task) {
            ++out.diverted;
            out.cost += static_cast<double>(divert) / 1000.0;
        }
    }
    return out;
}

std::vector<int32_t> SolveLapWithOutside(const std::vector<Cost>& cost,
                                         size_t rows,
                                         size_t cols,
                                         const std::vector<Cost>& outside) {
    assert(cost.size() == rows * cols && outside.size() == rows);
    constexpr int32_t kNone = -1;
    constexpr Cost kInf = Cost{1} << 58;
    std::vector<int32_t> col_of_row(rows, kNone), row_of_col(cols, kNone);
    // Row potentials u and column potentials v keep every reduced cost c - u - v >= 0. A row's outside option is a
    // column of its own, reachable from that row only, with its potential held at 0. Columns, once matched, stay
    // matched (a path ending outside hands the leaving row's column down the path), so unmatched columns keep
    // v = 0 and the duals prove the result optimal.
    std::vector<Cost> u(rows, 0), v(cols, 0), dist(cols);
    std::vector<int32_t> pred(cols);
    std::vector<uint32_t> remaining(cols), scanned_rows, settled_cols;
    for (size_t start = 0; start < rows; ++start) {
        std::fill(dist.begin(), dist.end(), kInf);
        for (size_t j = 0; j < cols; ++j) remaining[j] = static_cast<uint32_t>(j);
        size_t left = cols;
        scanned_rows.clear();
        settled_cols.clear();
        Cost min = 0;
        // The best way out found so far: a scanned row giving up its column for its outside option.
        Cost best_out = kInf;
        int32_t out_row = kNone;
        int32_t sink = kNone;
        auto i = static_cast<uint32_t>(start);
        for (;;) {
            scanned_rows.push_back(i);
            const Cost base = min - u[i];
            if (base + outside[i] < best_out) best_out = base + outside[i], out_row = static_cast<int32_t>(i);
            const Cost* row = &cost[i * cols];
            // Relax the unsettled columns and pick the nearest in the same pass; on a tie a free column first.
            Cost lowest = kInf;
            size_t index = 0;
            for (size_t k = 0; k < left; ++k) {
                const uint32_t j = remaining[k];
                const Cost r = base + row[j] - v[j];
                if (r < dist[j]) dist[j] = r, pred[j] = static_cast<int32_t>(i);
                if (dist[j] < lowest || (dist[j] == lowest && row_of_col[j] == kNone)) lowest = dist[j], index = k;
            }
            // The outside option wins when it is no dearer than the nearest column.
            if (best_out <= lowest) {
                min = best_out;
                break;
            }
            min = lowest;
            const uint32_t j = remaining[index];
            remaining[index] = remaining[--left];
            settled_cols.push_back(j);
            if (row_of_col[j] == kNone) {
                sink = static_cast<int32_t>(j);
                break;
            }
            i = static_cast<uint32_t>(row_of_col[j]);
        }
        // Potentials: shift by the distance settled, as in Dijkstra-based augmentation.
        u[start] += min;
        for (const uint32_t r : scanned_rows) {
            if (r != start) u[r] += min - dist[static_cast<size_t>(col_of_row[r])];
        }
        for (const uint32_t j : settled_cols) v[j] -= min - dist[j];
        // Flip the path back to the start row.
        int32_t j = sink;
        if (sink == kNone) {
            const auto r = static_cast<uint32_t>(out_row);
            j = col_of_row[r];
            col_of_row[r] = kNone;
            if (j == kNone) continue;  // the start row itself goes outside
        }
        for (;;) {
            const auto r = static_cast<uint32_t>(pred[static_cast<size_t>(j)]);
            row_of_col[static_cast<size_t>(j)] = static_cast<int32_t>(r);
            const int32_t prev = col_of_row[r];
            col_of_row[r] = j;
            if (r == start) break;
            j = prev;
        }
    }
    return col_of_row;
}

std::vector<std::vector<TimeMs>> TravelTable(const ContractionHierarchy& ch,
                                             const std::vector<UnitState>& units,
                                             const std::vector<TaskSpec>& tasks) {
    std::vector<NodeId> targets;
    targets.reserve(tasks.size());
    for (const auto& t : tasks) targets.push_back(t.node);
    const auto table = ch.BuildTable(targets);
    std::vector<std::vector<TimeMs>> out;
    out.reserve(units.size());
    for (const auto& u : units) out.push_back(table.Row(u.node));
    return out;
}

AssignmentProblem GenerateAssignmentProblem(
    const RoadGraph& graph, size_t units, size_t tasks, uint64_t seed, bool mixed) {
    std::mt19937_64 rng(seed);
    const std::vector<NodeId> component = MainComponent(graph);
    std::uniform_int_distribution<size_t> pick(0, component.size() - 1);
    const auto node = [&](std::mt19937_64& r) { return component[pick(r)]; };
    AssignmentProblem p;
    p.units.resize(units);
    for (auto& u : p.units) {
        u.node = node(rng);
        if (!mixed) continue;
        u.kind = static_cast<UnitKind>(rng() % kUnitKinds);
        // Robots run on batteries (20 to 60 minutes of driving left); crews and drones are not range-bound here.
        if (u.kind == UnitKind::kRobotDog || u.kind == UnitKind::kSanitationRobot) {
            u.range_s = 1200.0 + static_cast<double>(rng() % 2400);
        }
        u.available = rng() % 5 != 0;
    }
    static constexpr KindMask kNeeds[] = {
        MaskOf(UnitKind::kRobotDog) | MaskOf(UnitKind::kCrew),         // street vendor, campus safety
        MaskOf(UnitKind::kSanitationRobot) | MaskOf(UnitKind::kCrew),  // waterlogging, exposed rubbish
        MaskOf(UnitKind::kCrew),                                       // broken manhole cover, signal fault
        MaskOf(UnitKind::kDrone) | MaskOf(UnitKind::kRobotDog),        // look first: smoke, crowd
    };
    p.tasks.resize(tasks);
    for (auto& t : p.tasks) {
        t.node = node(rng);
        t.priority = static_cast<int>(1 + rng() % 4);
        if (mixed) t.kinds = kNeeds[rng() % std::size(kNeeds)];
    }
    return p;
}

}  // namespace citybrain::dispatch
