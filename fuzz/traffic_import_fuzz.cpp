// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the CBEngine and SUMO importers and the learned signal policy's file. The first byte picks
// the parser (0: CBEngine roadnet, 1: CBEngine flow, 2: SUMO .net.xml, 3: SUMO routes, 4: a policy file); the rest
// is the file. Any input must give a network, demand or policy, or a clean Error. A parsed network is simulated for
// a few steps; a parsed policy must survive its own round trip.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "io/cbengine.hpp"
#include "io/sumo.hpp"
#include "traffic/signal/policy.hpp"
#include "traffic/sim/simulator.hpp"

using namespace citybrain;

namespace {

constexpr const char* kRoadnet =
    "3\n30 120 0 1\n30.001 120 1 0\n30 120.001 2 0\n2\n0 1 100 10 2 2 1 2\n"
    "1 0 0 0 1 1\n1 0 0 0 1 1\n0 2 100 10 1 1 3 4\n0 1 1\n1 1 0\n1\n0 1 3 -1 -1\n";
constexpr const char* kNet = R"(<net><junction id="a" x="0" y="0"/><junction id="b" x="100" y="0"/>
<junction id="c" x="200" y="0"/><edge id="ab" from="a" to="b"><lane id="ab_0" index="0" speed="10" length="95"/>
</edge><edge id="bc" from="b" to="c"><lane id="bc_0" index="0" speed="10" length="95"/></edge>
<connection from="ab" to="bc" fromLane="0" toLane="0" dir="s"/></net>)";

template <typename Demand>
void Simulate(const core::RoadNetwork& net, Demand&& demand) {
    if (!demand.ok() || !core::CheckRoutes(net, *demand).empty()) return;
    for (auto& f : demand->flows) {  // bound the work per input
        if (f.interval_s < 1) f.interval_s = 1;
    }
    traffic::Simulator sim(net, *demand, traffic::SimConfig{});
    sim.Run(20);
}

void RoundTrip(const Result<traffic::SignalPolicy>& policy) {
    if (!policy.ok()) return;
    const auto again = traffic::ParsePolicy(traffic::PolicyToJson(*policy), "again");
    if (!again.ok() || again->weights != policy->weights || again->interval_s != policy->interval_s) __builtin_trap();
}

void SimulateNet(const Result<core::RoadNetwork>& net) {
    if (!net.ok() || net->lanes.size() >= 2000 || net->lane_links.size() >= 20000) return;
    core::Demand none;
    traffic::Simulator sim(*net, none, traffic::SimConfig{});
    sim.Run(3);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    static const core::RoadNetwork cbengine = io::ParseCbengineRoadnet(kRoadnet, "seed").value();
    static const core::RoadNetwork sumo = io::ParseSumoNet(kNet, "seed").value();
    switch (data[0] % 5) {
        case 0:
            SimulateNet(io::ParseCbengineRoadnet(text, "fuzz"));
            break;
        case 1:
            Simulate(cbengine, io::ParseCbengineFlows(text, cbengine, "fuzz"));
            break;
        case 2:
            SimulateNet(io::ParseSumoNet(text, "fuzz"));
            break;
        case 3:
            Simulate(sumo, io::ParseSumoRoutes(text, sumo, "fuzz"));
            break;
        default:
            RoundTrip(traffic::ParsePolicy(text, "fuzz"));
            break;
    }
    return 0;
}
