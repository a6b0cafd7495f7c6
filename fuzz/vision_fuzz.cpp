// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the frame decoder: any bytes pushed as a camera frame give an image or a clean error that
// names the frame; nothing crashes.
#include <cstddef>
#include <cstdint>
#include <opencv2/core.hpp>
#include <span>

#include "vision/detector.hpp"

using namespace citybrain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto image = vision::DecodeImage(std::span<const uint8_t>(data, size), "frame");
    if (image.ok() ? image->empty() : image.error().where != "frame") __builtin_trap();
    return 0;
}
