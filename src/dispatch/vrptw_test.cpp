// SPDX-License-Identifier: Apache-2.0
#include "dispatch/vrptw.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/file.hpp"

namespace citybrain::dispatch {
namespace {

const std::string kTiny = std::string(CB_SOURCE_DIR) + "/tests/scenarios/vrp/tiny.txt";
const std::string kSolomon = std::string(CB_DATA_DIR) + "/dispatch/solomon";

std::string Tiny() { return core::ReadFile(kTiny).value(); }

std::string Replace(std::string s, const std::string& from, const std::string& to) {
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
}

TEST(Solomon, ParsesTheFormat) {
    auto inst = ParseSolomon(Tiny(), "tiny.txt");
    ASSERT_TRUE(inst.ok()) << inst.error().ToString();
    EXPECT_EQ(inst->name, "TINY");
    EXPECT_EQ(inst->vehicles, 2);
    EXPECT_EQ(inst->capacity, 10);
    ASSERT_EQ(inst->customers(), 4u);
    EXPECT_EQ(inst->sites[4].y, 20);
    EXPECT_EQ(inst->sites[4].due, 40);
    EXPECT_EQ(inst->sites[2].service, 5);
}

TEST(Solomon, BadInputNamesLineAndField) {
    const auto err = [](const std::string& text) {
        auto r = ParseSolomon(text, "x.txt");
        return r.ok() ? std::string("parsed") : r.error().ToString();
    };
    EXPECT_EQ(err(""), "x.txt: empty file: expected a Solomon instance");
    EXPECT_NE(err(Replace(Tiny(), "  2         10", "  2         -10")).find("x.txt:5: CAPACITY: must be a positive"),
              std::string::npos);
    EXPECT_NE(err(Replace(Tiny(), "  2         10", "  2")).find("x.txt:5: VEHICLE: expected NUMBER and CAPACITY"),
              std::string::npos);
    EXPECT_NE(
        err(Replace(Tiny(), "1000          5\n    2", "1000\n    2")).find("x.txt:11: CUSTOMER: expected 7 numbers"),
        std::string::npos);
    EXPECT_NE(err(Replace(Tiny(), "    3      0", "    7      0")).find("x.txt:13: CUST NO.: expected 3"),
              std::string::npos);
    EXPECT_NE(err(Replace(Tiny(), "0         40", "0         -4")).find("x.txt:14: DUE DATE: must not be negative"),
              std::string::npos);
    EXPECT_NE(err(Replace(Tiny(), "0         40", "50         40")).find("x.txt:14: DUE DATE: is before READY TIME"),
              std::string::npos);
    EXPECT_NE(err(Replace(Tiny(), "20         0          4", "20         0          x"))
                  .find("x.txt:12: CUSTOMER: not a row"),
              std::string::npos);
    EXPECT_NE(err(Replace(Tiny(), "CUSTOMER\n", "CUSTARD\n")).find("no CUSTOMER section"), std::string::npos);
    // Found by vrp_fuzz: a demand too large for an int.
    EXPECT_NE(err(Replace(Tiny(), "20         0          4", "20         0          5e28"))
                  .find("x.txt:12: DEMAND: beyond 1e9"),
              std::string::npos);
}

TEST(Vrptw, SolvesTheTinyInstanceToOptimality) {
    auto inst = ParseSolomon(Tiny(), "tiny.txt");
    ASSERT_TRUE(inst.ok());
    VrpOptions opt;
    opt.iterations = 500;
    const auto sol = SolveVrptw(*inst, opt);
    ASSERT_TRUE(CheckVrpSolution(*inst, sol).ok()) << CheckVrpSolution(*inst, sol).error().ToString();
    // Capacity 10 and demands of 4: two per vehicle; out and back along each axis is 40 + 40.
    EXPECT_NEAR(sol.distance, 80, 1e-9);
    EXPECT_EQ(sol.routes.size(), 2u);
    EXPECT_TRUE(sol.unassigned.empty());
}

TEST(Vrptw, UnreachableWindowsAndOverweightDemandsAreLeftOut) {
    std::string text = Replace(Tiny(), "0         40", "0         15");           // 20 away, due at 15
    text = Replace(text, "20         0          4", "20         0          11");  // over capacity
    auto inst = ParseSolomon(text, "tiny.txt");
    ASSERT_TRUE(inst.ok());
    VrpOptions opt;
    opt.iterations = 200;
    const auto sol = SolveVrptw(*inst, opt);
    ASSERT_TRUE(CheckVrpSolution(*inst, sol).ok());
    EXPECT_EQ(sol.unassigned, (std::vector<int>{2, 4}));
}

TEST(Vrptw, DepotServiceTimeCountsForReachability) {
    // Found by vrp_fuzz: with a service time at the depot, customer 4 (40 away, due at 40) cannot be reached.
    auto inst = LoadSolomon(std::string(CB_SOURCE_DIR) + "/tests/scenarios/vrp/depot_service.txt");
    ASSERT_TRUE(inst.ok()) << inst.error().ToString();
    VrpOptions opt;
    opt.iterations = 100;
    const auto sol = SolveVrptw(*inst, opt);
    ASSERT_TRUE(CheckVrpSolution(*inst, sol).ok()) << CheckVrpSolution(*inst, sol).error().ToString();
    EXPECT_EQ(sol.unassigned, (std::vector<int>{2, 4}));
}

TEST(Vrptw, CheckerCatchesViolations) {
    auto inst = ParseSolomon(Tiny(), "tiny.txt");
    ASSERT_TRUE(inst.ok());
    VrpSolution sol;
    sol.routes = {{1, 2}, {3, 4}};
    sol.distance = 80;
    EXPECT_TRUE(CheckVrpSolution(*inst, sol).ok());
    sol.routes = {{1, 2, 3}, {4}};
    EXPECT_NE(CheckVrpSolution(*inst, sol).error().message.find("over capacity"), std::string::npos);
    sol.routes = {{1, 2}, {4, 3}};  // 4 first is as good: arrive at 20, due at 40
    EXPECT_TRUE(CheckVrpSolution(*inst, sol).ok());
    sol.distance = 81;
    EXPECT_EQ(CheckVrpSolution(*inst, sol).error().where, "distance");
    sol.distance = 80;
    sol.routes = {{1, 2}, {3}};
    EXPECT_NE(CheckVrpSolution(*inst, sol).error().message.find("customer 4 is missing"), std::string::npos);
    sol.routes = {{1, 2}, {3, 4}, {}};
    EXPECT_NE(CheckVrpSolution(*inst, sol).error().message.find("3 vehicles used, 2 available"), std::string::npos);
}

TEST(Vrptw, SolomonC101NearBestKnownAndDeterministic) {
    const std::string path = kSolomon + "/C101.txt";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is missing";
    auto inst = LoadSolomon(path);
    ASSERT_TRUE(inst.ok()) << inst.error().ToString();
    ASSERT_EQ(inst->customers(), 100u);
    VrpOptions opt;
    opt.iterations = 4000;
    opt.seed = 3;
    const auto a = SolveVrptw(*inst, opt);
    ASSERT_TRUE(CheckVrpSolution(*inst, a).ok()) << CheckVrpSolution(*inst, a).error().ToString();
    EXPECT_TRUE(a.unassigned.empty());
    // Best known distance 828.94 (10 vehicles); a short run must come within 3 %.
    EXPECT_LT(a.distance, 828.94 * 1.03);
    EXPECT_GE(a.distance, 828.93);
    const auto b = SolveVrptw(*inst, opt);
    EXPECT_EQ(a.routes, b.routes);
    EXPECT_EQ(a.distance, b.distance);
}

TEST(Vrptw, EverySolomonClassParsesAndSolvesFeasibly) {
    if (!std::filesystem::exists(kSolomon)) GTEST_SKIP() << kSolomon << " is missing";
    for (const char* name : {"R101", "R211", "RC105", "C208"}) {
        auto inst = LoadSolomon(kSolomon + "/" + name + ".txt");
        ASSERT_TRUE(inst.ok()) << inst.error().ToString();
        VrpOptions opt;
        opt.iterations = 300;
        const auto sol = SolveVrptw(*inst, opt);
        EXPECT_TRUE(CheckVrpSolution(*inst, sol).ok())
            << name << ": " << CheckVrpSolution(*inst, sol).error().ToString();
        EXPECT_TRUE(sol.unassigned.empty()) << name;
    }
}

}  // namespace
}  // namespace citybrain::dispatch
