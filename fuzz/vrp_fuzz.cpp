// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the Solomon instance parser: any text must parse or give a clean error. A small parsed
// instance is solved briefly and the solution must pass the independent checker.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dispatch/vrptw.hpp"

using namespace citybrain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto inst = dispatch::ParseSolomon(text, "fuzz.txt");
    if (!inst.ok()) {
        if (inst.error().message.empty()) __builtin_trap();
        return 0;
    }
    if (inst->sites.size() > 40 || inst->vehicles > 50) return 0;
    dispatch::VrpOptions opt;
    opt.iterations = 50;
    const auto sol = dispatch::SolveVrptw(*inst, opt);
    if (!dispatch::CheckVrpSolution(*inst, sol).ok()) __builtin_trap();
    return 0;
}
