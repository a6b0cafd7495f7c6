// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the SUMO plain XML loader: arbitrary edges files against a fixed nodes file must load or
// give a clean error; a loaded graph is contracted and queried, and CH must agree with Dijkstra.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "dispatch/contraction.hpp"

using namespace citybrain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string prefix = [] {
        const auto dir = std::filesystem::temp_directory_path() / ("cb_sumo_fuzz_" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        const std::string p = (dir / "f").string();
        std::ofstream(p + ".nod.xml") << R"(<nodes><node id="a" x="0" y="0"/><node id="b" x="100" y="0"/>)"
                                      << R"(<node id="c" x="100" y="100"/><node id="d" x="0" y="100"/></nodes>)";
        return p;
    }();
    {
        std::ofstream out(prefix + ".edg.xml", std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    auto g = dispatch::LoadSumoPlain(prefix + ".edg.xml");
    if (!g.ok()) return 0;
    const auto ch = dispatch::ContractionHierarchy::Build(*g);
    for (dispatch::NodeId s = 0; s < g->nodes(); ++s) {
        for (dispatch::NodeId t = 0; t < g->nodes(); ++t) {
            const auto ref = dispatch::ShortestPath(*g, s, t);
            if (ch.Query(s, t) != (ref ? ref->time_ms : dispatch::kUnreachable)) __builtin_trap();
        }
    }
    return 0;
}
