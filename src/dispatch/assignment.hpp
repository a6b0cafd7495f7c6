// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "dispatch/contraction.hpp"

namespace citybrain::dispatch {

/// Assignment costs: integers, so the solver is exact.
using Cost = int64_t;

/// A cost at or above this is no edge: the pair may not be matched.
inline constexpr Cost kNoEdge = Cost{1} << 50;

/// The linear assignment problem, rows to columns, where each row may instead take an outside option of its own (a
/// task left unserved). `cost` is rows × cols, row-major, non-negative; `kNoEdge` marks pairs that may not be
/// matched, and every outside option must be below kNoEdge / 4 so that none is ever used. Returns each row's
/// column, or -1 for its outside option. Exact.
///
/// Shortest augmenting paths, one row at a time, Dijkstra over the columns on reduced costs (the augmentation of
/// Jonker–Volgenant, in the rectangular form of Crouse 2016). Each search step is one pass over the row's unsettled
/// columns that relaxes them and picks the next together. O(rows² · cols) at worst.
std::vector<int32_t> SolveLapWithOutside(const std::vector<Cost>& cost,
                                         size_t rows,
                                         size_t cols,
                                         const std::vector<Cost>& outside);

/// What a unit is; a task says which kinds can handle it.
enum class UnitKind : uint8_t { kRobotDog = 0, kSanitationRobot = 1, kCrew = 2, kDrone = 3 };
inline constexpr size_t kUnitKinds = 4;
const char* UnitKindName(UnitKind kind);
Result<UnitKind> ParseUnitKind(const std::string& name);
using KindMask = uint8_t;
constexpr KindMask MaskOf(UnitKind kind) { return static_cast<KindMask>(1u << static_cast<unsigned>(kind)); }

struct UnitState {
    UnitKind kind = UnitKind::kCrew;
    NodeId node = 0;
    /// How much further the unit can travel on its battery or shift, in seconds of driving.
    double range_s = std::numeric_limits<double>::infinity();
    /// False while on site handling a task, charging, offline or lost: not to be assigned.
    bool available = true;
    /// The task the unit is on its way to (-1 for none): a re-plan may divert it, at a price.
    int32_t current_task = -1;
};

struct TaskSpec {
    NodeId node = 0;
    KindMask kinds = 0xff;
    /// 1 (urgent: school safety, a fire) … 4 (low: litter). Sets the weight of waiting and of leaving it unserved.
    int priority = 3;
};

struct AssignmentOptions {
    /// Per priority 1..4: how much a second of travel costs, and what leaving the task unserved costs, in seconds
    /// of weighted travel. Leaving one urgent task unserved costs as much as leaving 200 of priority 2 (2,000 of
    /// priority 3, 8,000 of priority 4), so an urgent task gets a unit before any of those.
    double weight[4] = {8, 4, 2, 1};
    double unserved_s[4] = {1e7, 1e5, 2e4, 1e4};
    /// Taking a unit off the task it is driving to costs this much (seconds), so a re-plan only diverts a unit for a
    /// real gain; a unit keeps its task otherwise.
    double divert_s = 120;
};

struct AssignmentResult {
    /// For each task, the unit sent (-1: none). For each unit, its task (-1: none).
    std::vector<int32_t> unit_of_task;
    std::vector<int32_t> task_of_unit;
    /// The objective: weighted seconds of travel plus unserved penalties plus diversions.
    double cost = 0;
    /// Travel time (s) of each assigned unit to its task; 0 where none.
    std::vector<double> eta_s;
    size_t assigned = 0;
    size_t diverted = 0;
};

/// Sends units to tasks at minimum total cost. A unit can serve a task when it is available, its kind is one the
/// task accepts, the task is reachable and within its range. `table` holds travel times from each unit (rows) to
/// each task (columns), e.g. from `ContractionHierarchy::Table`. Leaving a task unserved is priced exactly (its
/// own outside option), not forced.
AssignmentResult Assign(const std::vector<UnitState>& units,
                        const std::vector<TaskSpec>& tasks,
                        const std::vector<std::vector<TimeMs>>& table,
                        const AssignmentOptions& options = {});

/// Travel times from every unit to every task through a many-to-many table (one bucket build over the tasks).
std::vector<std::vector<TimeMs>> TravelTable(const ContractionHierarchy& ch,
                                             const std::vector<UnitState>& units,
                                             const std::vector<TaskSpec>& tasks);

/// A generated problem on a network, for the CLI and the benchmarks. Same seed, same problem.
/// - `mixed`: units of four kinds with battery ranges, a fifth of them busy; tasks of every priority, each accepting
///   the kinds that fit it (a vendor: robot dog or crew; flooding: sanitation robot or crew; …). Units of a kind are
///   scarce, so many tasks go unserved and the solver must search widely to decide which.
/// - otherwise: one kind of unit, all free and unlimited, tasks of every priority: the classic square problem.
struct AssignmentProblem {
    std::vector<UnitState> units;
    std::vector<TaskSpec> tasks;
};
AssignmentProblem GenerateAssignmentProblem(
    const RoadGraph& graph, size_t units, size_t tasks, uint64_t seed, bool mixed);

}  // namespace citybrain::dispatch
