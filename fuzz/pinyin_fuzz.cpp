// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the Chinese-to-pinyin front end of spoken notices: any bytes give pinyin made only of
// lower-case letters, tone digits, spaces and pause marks, or a clean error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dispatch/speech.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto r = citybrain::dispatch::ToPinyin(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!r.ok()) {
        if (r.error().message.empty()) __builtin_trap();
        return 0;
    }
    if (r->empty()) __builtin_trap();
    for (const char c : *r) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '1' && c <= '5') || c == ' ' || c == ',' || c == '.';
        if (!ok) __builtin_trap();
    }
    return 0;
}
