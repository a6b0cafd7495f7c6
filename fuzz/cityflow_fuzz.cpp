// SPDX-License-Identifier: Apache-2.0
// libFuzzer targets for the CityFlow loaders: any input must give a network/demand or a clean Error, never a
// crash, hang or sanitizer report. A parsed network is also simulated for a few steps.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/network_generator.hpp"
#include "io/cityflow.hpp"
#include "traffic/sim/simulator.hpp"

using namespace citybrain;

#ifdef CB_FUZZ_ROADNET
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto net = io::ParseRoadnet(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    if (net.ok() && net->lanes.size() < 2000) {
        core::Demand none;
        traffic::Simulator sim(*net, none, traffic::SimConfig{});
        sim.Run(3);
    }
    return 0;
}
#endif

#ifdef CB_FUZZ_FLOW
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const core::RoadNetwork net = [] {
        core::GridSpec spec;
        spec.rows = 2;
        spec.cols = 2;
        return core::GenerateGrid(spec).value();
    }();
    auto demand = io::ParseFlows(std::string_view(reinterpret_cast<const char*>(data), size), net, "fuzz");
    if (demand.ok() && core::CheckRoutes(net, *demand).empty()) {
        for (auto& f : demand->flows) {  // bound the work per input
            if (f.interval_s < 1) f.interval_s = 1;
        }
        traffic::Simulator sim(net, *demand, traffic::SimConfig{});
        sim.Run(20);
    }
    return 0;
}
#endif
