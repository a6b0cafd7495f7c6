// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace citybrain::dispatch {

/// A vehicle routing problem with time windows: customer 0 is the depot. Times and distances share one unit
/// (Solomon: Euclidean distance, one time unit per distance unit).
struct VrpInstance {
    struct Site {
        double x = 0, y = 0;
        int demand = 0;
        double ready = 0, due = 0, service = 0;
    };
    std::string name;
    int vehicles = 0;
    int capacity = 0;
    std::vector<Site> sites;  // [0] is the depot

    size_t customers() const { return sites.empty() ? 0 : sites.size() - 1; }
};

/// The Solomon / Gehring–Homberger text format (name, VEHICLE NUMBER CAPACITY, CUSTOMER rows of CUST NO. XCOORD.
/// YCOORD. DEMAND READY TIME DUE DATE SERVICE TIME). `where` names the source in errors, which give the line:
/// `C101.txt:14: DUE DATE: 50 is before READY TIME 60`.
Result<VrpInstance> ParseSolomon(std::string_view text, const std::string& where);
Result<VrpInstance> LoadSolomon(const std::string& path);

struct VrpOptions {
    /// Stop after this many seconds, or after `iterations` ruin-and-recreate steps if that is set (then the result
    /// depends only on the seed, not on the machine's speed).
    double time_limit_s = 2.0;
    uint64_t iterations = 0;
    uint64_t seed = 1;
};

struct VrpSolution {
    /// Customers in visiting order per vehicle used; the depot is implicit at both ends.
    std::vector<std::vector<int>> routes;
    double distance = 0;
    /// Customers no vehicle could take (demand above capacity, a window no vehicle can reach, or out of vehicles).
    std::vector<int> unassigned;
    uint64_t iterations = 0;
    double wall_s = 0;
};

/// Slack Induction by String Removals (Christiaens & Vanden Berghe 2020): each step removes a few strings of
/// consecutive customers from routes near a random customer and reinserts them greedily (cheapest feasible place,
/// skipping a position now and then), accepted by simulated annealing. Minimises total distance with at most the
/// instance's vehicles; no customer is left out while a feasible place exists.
VrpSolution SolveVrptw(const VrpInstance& instance, const VrpOptions& options = {});

/// Checks a solution against the instance: capacity, windows, every customer once, the vehicle count, and the
/// distance. Returns the first violation found.
Status CheckVrpSolution(const VrpInstance& instance, const VrpSolution& solution);

}  // namespace citybrain::dispatch
