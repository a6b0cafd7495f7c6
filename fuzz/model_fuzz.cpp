// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the detector's model reader: any bytes given as an ONNX model load into the XNNPACK runtime
// and run on a small frame, or give a clean error; nothing crashes, and nothing allocates past the runtime's bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vision/xnn_net.hpp"

using namespace citybrain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto net = vision::XnnNet::FromBytes(std::string_view(reinterpret_cast<const char*>(data), size), 32, 32, 1);
    if (!net.ok()) {
        if (net.error().message.empty()) __builtin_trap();
        return 0;
    }
    // A model that loads runs; its outputs are there.
    if (!(*net)->Run().ok()) return 0;
    for (const auto& name : (*net)->output_names())
        if ((*net)->output(name).data == nullptr) __builtin_trap();
    return 0;
}
