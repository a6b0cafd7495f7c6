// SPDX-License-Identifier: Apache-2.0
// The pacer on a simulated wall clock: no real time passes, so the test asserts the schedule itself.
#include "core/pace.hpp"

#include <gtest/gtest.h>

namespace citybrain::core {
namespace {

using Clock = Pacer::Clock;
using std::chrono::milliseconds;

struct FakeWall {
    Clock::time_point t{};
    Clock::duration slept{};
};

Pacer Make(double speedup, FakeWall& wall) {
    return Pacer(
        speedup,
        [&wall] { return wall.t; },
        [&wall](Clock::duration d) {
            wall.t += d;
            wall.slept += d;
        });
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Issue 13, item 14: a run at speed-up 1 is at real time, and at any speed-up exact, however long each step
// takes to compute (as long as it keeps up).
TEST(Pacer, EachStepIsDueAtSimTimeOverSpeedup) {
    for (const double speedup : {1.0, 7.0, 60.0, 0.5}) {
        FakeWall wall;
        Pacer pacer = Make(speedup, wall);
        for (int step = 1; step <= 600; ++step) {
            wall.t += milliseconds(3 + step % 11);  // the step's own work
            pacer.WaitFor(step * 1.0);
            EXPECT_NEAR(pacer.Elapsed(), step / speedup, 1e-6) << "speedup " << speedup << ", step " << step;
        }
    }
}

TEST(Pacer, ASlowStepIsNotMadeUpByDrift) {
    FakeWall wall;
    Pacer pacer = Make(1.0, wall);
    wall.t += milliseconds(2500);  // one step took 2.5 s: behind, so no sleep
    pacer.WaitFor(1.0);
    EXPECT_EQ(wall.slept.count(), 0);
    pacer.WaitFor(2.0);
    EXPECT_EQ(wall.slept.count(), 0);
    pacer.WaitFor(3.0);  // due at 3 s from the start, not 1 s after the late step
    EXPECT_NEAR(pacer.Elapsed(), 3.0, 1e-6);
    EXPECT_NEAR(Seconds(wall.slept), 0.5, 1e-6);
}

TEST(Pacer, NoSpeedupNeverWaitsAndStopEndsAWait) {
    FakeWall wall;
    Make(0, wall).WaitFor(1e6);
    EXPECT_EQ(wall.slept.count(), 0);
    Pacer pacer = Make(1.0, wall);
    int naps = 0;
    pacer.WaitFor(10.0, [&naps] { return ++naps > 3; });
    EXPECT_LT(pacer.Elapsed(), 1.0);  // three naps of 50 ms, then the stop was seen
}

}  // namespace
}  // namespace citybrain::core
