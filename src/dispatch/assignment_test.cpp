// SPDX-License-Identifier: Apache-2.0
#include "dispatch/assignment.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <numeric>
#include <random>

namespace citybrain::dispatch {
namespace {

Cost Total(const std::vector<Cost>& c, size_t n, const std::vector<uint32_t>& col) {
    Cost sum = 0;
    for (size_t i = 0; i < n; ++i) sum += c[i * n + col[i]];
    return sum;
}

bool IsPermutation(std::vector<uint32_t> col) {
    std::sort(col.begin(), col.end());
    for (size_t i = 0; i < col.size(); ++i) {
        if (col[i] != i) return false;
    }
    return true;
}

Cost BruteForce(const std::vector<Cost>& c, size_t n) {
    std::vector<uint32_t> p(n);
    std::iota(p.begin(), p.end(), 0);
    Cost best = std::numeric_limits<Cost>::max();
    do {
        best = std::min(best, Total(c, n, p));
    } while (std::next_permutation(p.begin(), p.end()));
    return best;
}

/// An independent reference: the O(n^3) Hungarian method with row and column potentials (Kuhn–Munkres in the
/// shortest-augmenting-path form), 1-based as usually written.
Cost Hungarian(const std::vector<Cost>& c, size_t n) {
    const Cost inf = std::numeric_limits<Cost>::max() / 4;
    std::vector<Cost> u(n + 1), v(n + 1);
    std::vector<size_t> p(n + 1), way(n + 1);
    for (size_t i = 1; i <= n; ++i) {
        p[0] = i;
        size_t j0 = 0;
        std::vector<Cost> minv(n + 1, inf);
        std::vector<char> used(n + 1, 0);
        do {
            used[j0] = 1;
            const size_t i0 = p[j0];
            Cost delta = inf;
            size_t j1 = 0;
            for (size_t j = 1; j <= n; ++j) {
                if (used[j]) continue;
                const Cost cur = c[(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
                if (cur < minv[j]) minv[j] = cur, way[j] = j0;
                if (minv[j] < delta) delta = minv[j], j1 = j;
            }
            for (size_t j = 0; j <= n; ++j) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            const size_t j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0 != 0);
    }
    Cost total = 0;
    for (size_t j = 1; j <= n; ++j) total += c[(p[j] - 1) * n + (j - 1)];
    return total;
}

/// The square problem: no row may go outside.
std::vector<uint32_t> SolveLap(const std::vector<Cost>& c, size_t n) {
    const auto col = SolveLapWithOutside(c, n, n, std::vector<Cost>(n, kNoEdge / 8));
    return {col.begin(), col.end()};
}

TEST(Lap, MatchesBruteForceOnSmallMatricesWithTies) {
    std::mt19937_64 rng(7);
    for (int trial = 0; trial < 3000; ++trial) {
        const size_t n = 1 + trial % 7;
        // Few distinct values: many ties, which is where JV's row reduction can loop.
        const Cost range = trial % 3 == 0 ? 3 : 100;
        std::uniform_int_distribution<Cost> dist(0, range);
        std::vector<Cost> c(n * n);
        for (auto& x : c) x = dist(rng);
        const auto col = SolveLap(c, n);
        ASSERT_TRUE(IsPermutation(col)) << "trial " << trial;
        ASSERT_EQ(Total(c, n, col), BruteForce(c, n)) << "trial " << trial << " n " << n;
    }
}

TEST(Lap, MatchesHungarianOnLargerMatrices) {
    std::mt19937_64 rng(11);
    for (size_t n : {10u, 50u, 120u, 300u}) {
        for (int trial = 0; trial < 4; ++trial) {
            std::uniform_int_distribution<Cost> dist(0, trial % 2 == 0 ? 10 : 1'000'000);
            std::vector<Cost> c(n * n);
            for (auto& x : c) x = dist(rng);
            const auto col = SolveLap(c, n);
            ASSERT_TRUE(IsPermutation(col));
            EXPECT_EQ(Total(c, n, col), Hungarian(c, n)) << "n " << n << " trial " << trial;
        }
    }
}

TEST(Lap, HandlesForbiddenBlocksAndEmpty) {
    EXPECT_TRUE(SolveLap({}, 0).empty());
    EXPECT_EQ(SolveLap({5}, 1), std::vector<uint32_t>{0});
    // Geometric costs (points on a line) plus huge entries, like the padded dispatch problem.
    const size_t n = 40;
    std::vector<Cost> c(n * n);
    std::mt19937_64 rng(3);
    std::uniform_int_distribution<Cost> pos(0, 10'000);
    for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < n; ++j) {
            c[i * n + j] = (i + j) % 5 == 0 ? Cost{1} << 40 : std::abs(pos(rng) - pos(rng));
        }
    }
    const auto col = SolveLap(c, n);
    ASSERT_TRUE(IsPermutation(col));
    EXPECT_EQ(Total(c, n, col), Hungarian(c, n));
}

TEST(Lap, OutsideOptionsMatchPaddedHungarian) {
    // Rows may stay outside at a price of their own; the reference pads to (rows + cols) square: each row gets a
    // private outside column, each column an idle row.
    std::mt19937_64 rng(13);
    const Cost forbidden = kNoEdge;
    for (int trial = 0; trial < 40; ++trial) {
        const size_t rows = 20 + trial % 7 * 9, cols = 15 + trial % 5 * 13, n = rows + cols;
        std::vector<Cost> c(rows * cols), outside(rows);
        for (auto& x : c) x = rng() % 4 == 0 ? forbidden : static_cast<Cost>(rng() % 1000);
        for (auto& x : outside) x = static_cast<Cost>(200 + rng() % 2000);
        const auto col = SolveLapWithOutside(c, rows, cols, outside);
        Cost got = 0;
        std::vector<int> used(cols, 0);
        for (size_t i = 0; i < rows; ++i) {
            if (col[i] < 0) {
                got += outside[i];
                continue;
            }
            ASSERT_LT(static_cast<size_t>(col[i]), cols);
            ASSERT_NE(c[i * cols + static_cast<size_t>(col[i])], forbidden);
            ASSERT_EQ(used[static_cast<size_t>(col[i])]++, 0) << "a column used twice";
            got += c[i * cols + static_cast<size_t>(col[i])];
        }
        const Cost big = Cost{1} << 40;
        std::vector<Cost> padded(n * n, 0);
        for (size_t i = 0; i < rows; ++i) {
            for (size_t j = 0; j < cols; ++j) padded[i * n + j] = c[i * cols + j] == forbidden ? big : c[i * cols + j];
            for (size_t k = 0; k < rows; ++k) padded[i * n + cols + k] = k == i ? outside[i] : big;
        }
        EXPECT_EQ(got, Hungarian(padded, n)) << "trial " << trial;
    }
}

// A tiny world with the travel table written out: units are rows, tasks columns, in milliseconds.
TimeMs S(double s) { return static_cast<TimeMs>(s * 1000); }

TEST(Assign, NearestSuitableUnitGoes) {
    std::vector<UnitState> units(3);
    units[0].kind = UnitKind::kRobotDog;
    units[1].kind = UnitKind::kCrew;
    units[2].kind = UnitKind::kRobotDog;
    std::vector<TaskSpec> tasks(1);
    tasks[0].kinds = MaskOf(UnitKind::kRobotDog);
    // The crew is closest but the task wants a robot dog.
    const std::vector<std::vector<TimeMs>> table = {{S(300)}, {S(10)}, {S(200)}};
    const auto r = Assign(units, tasks, table);
    EXPECT_EQ(r.unit_of_task[0], 2);
    EXPECT_EQ(r.task_of_unit[2], 0);
    EXPECT_EQ(r.task_of_unit[1], -1);
    EXPECT_DOUBLE_EQ(r.eta_s[0], 200);
    EXPECT_EQ(r.assigned, 1u);
}

TEST(Assign, RangeAvailabilityAndReachabilityAreHonoured) {
    std::vector<UnitState> units(3);
    units[0].range_s = 100;      // too little battery for 150 s
    units[1].available = false;  // busy on site
    units[2].range_s = 1000;
    std::vector<TaskSpec> tasks(2);
    const std::vector<std::vector<TimeMs>> table = {{S(150), S(50)}, {S(1), S(1)}, {kUnreachable, S(900)}};
    const auto r = Assign(units, tasks, table);
    EXPECT_EQ(r.unit_of_task[0], -1) << "no unit can reach task 0 in range";
    // Task 1: unit 0 (50 s) beats unit 2 (900 s).
    EXPECT_EQ(r.unit_of_task[1], 0);
    EXPECT_EQ(r.assigned, 1u);
}

TEST(Assign, UrgentTaskOutranksCloserLowPriorityTask) {
    // One unit, two tasks: a litter case next door and a school-safety case far away.
    std::vector<UnitState> units(1);
    std::vector<TaskSpec> tasks(2);
    tasks[0].priority = 4;
    tasks[1].priority = 1;
    const std::vector<std::vector<TimeMs>> table = {{S(30), S(1500)}};
    const auto r = Assign(units, tasks, table);
    EXPECT_EQ(r.unit_of_task[1], 0);
    EXPECT_EQ(r.unit_of_task[0], -1);
}

TEST(Assign, UrgentArrivalDivertsAUnitAndHysteresisKeepsOthers) {
    std::vector<UnitState> units(2);
    std::vector<TaskSpec> tasks(1);
    tasks[0].priority = 4;
    // First plan: unit 0 is closer to the litter case.
    auto r = Assign(units, tasks, {{S(100)}, {S(300)}});
    ASSERT_EQ(r.unit_of_task[0], 0);
    units[0].current_task = 0;

    // A slightly better unit appears (50 s closer): not worth a diversion.
    r = Assign(units, tasks, {{S(100)}, {S(50)}});
    EXPECT_EQ(r.unit_of_task[0], 0);
    EXPECT_EQ(r.diverted, 0u);

    // A school-safety case arrives next to unit 0; unit 1 is far from it: unit 0 is diverted, unit 1 takes the
    // litter case.
    tasks.push_back(TaskSpec{0, 0xff, 1});
    r = Assign(units, tasks, {{S(100), S(20)}, {S(300), S(900)}});
    EXPECT_EQ(r.unit_of_task[1], 0);
    EXPECT_EQ(r.unit_of_task[0], 1);
    EXPECT_EQ(r.diverted, 1u);
}

TEST(Assign, MatchesBruteForceOnRandomProblems) {
    std::mt19937_64 rng(5);
    for (int trial = 0; trial < 2000; ++trial) {
        const size_t nu = 1 + trial % 5, nt = 1 + (trial / 5) % 5;
        std::vector<UnitState> units(nu);
        std::vector<TaskSpec> tasks(nt);
        std::vector<std::vector<TimeMs>> table(nu, std::vector<TimeMs>(nt));
        for (auto& u : units) {
            u.kind = static_cast<UnitKind>(rng() % 3);
            u.range_s = rng() % 2 ? 1e9 : 400;
            u.available = rng() % 5 != 0;
            u.current_task = rng() % 3 == 0 ? static_cast<int32_t>(rng() % nt) : -1;
        }
        for (auto& t : tasks) {
            t.priority = static_cast<int>(1 + rng() % 4);
            t.kinds = static_cast<KindMask>(1 + rng() % 7);
        }
        for (auto& row : table) {
            for (auto& x : row) x = rng() % 10 == 0 ? kUnreachable : S(static_cast<double>(rng() % 600));
        }
        const AssignmentOptions opt;
        const auto r = Assign(units, tasks, table, opt);
        // Brute force over every injective map of tasks to units-or-nothing.
        double best = 1e300;
        std::vector<int> pick(nt, -1);
        const auto level = [](int p) { return static_cast<size_t>(p - 1); };
        std::vector<int> task_of(nu, -1);
        std::function<void(size_t, std::vector<char>&, double)> go =
            [&](size_t t, std::vector<char>& used, double acc) {
                if (t == nt) {
                    for (size_t u = 0; u < nu; ++u) {
                        if (units[u].current_task >= 0 && task_of[u] != units[u].current_task) acc += opt.divert_s;
                    }
                    best = std::min(best, acc);
                    return;
                }
                const size_t l = level(tasks[t].priority);
                go(t + 1, used, acc + opt.unserved_s[l] * opt.weight[l]);
                for (size_t u = 0; u < nu; ++u) {
                    const bool ok = !used[u] && units[u].available && (tasks[t].kinds & MaskOf(units[u].kind)) &&
                                    table[u][t] != kUnreachable &&
                                    static_cast<double>(table[u][t]) <= units[u].range_s * 1000;
                    if (!ok) continue;
                    used[u] = 1;
                    task_of[u] = static_cast<int>(t);
                    go(t + 1, used, acc + static_cast<double>(table[u][t]) / 1000.0 * opt.weight[l]);
                    task_of[u] = -1;
                    used[u] = 0;
                }
            };
        std::vector<char> used(nu, 0);
        go(0, used, 0);
        ASSERT_NEAR(r.cost, best, 1e-6) << "trial " << trial;
    }
}

}  // namespace
}  // namespace citybrain::dispatch
