// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the citizen-message front end: normalisation (OpenCC), featurisation and urgency on any
// bytes give a clean error or well-formed output.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/utf8.hpp"
#include "nlp/text.hpp"
#include "nlp/urgency.hpp"

using namespace citybrain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const nlp::Normalizer norm = nlp::Normalizer::Create().value();
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto n = norm.Normalize(text);
    if (!n.ok()) {
        if (n.error().message.empty()) __builtin_trap();
        return 0;
    }
    if (n->empty() || !core::ValidUtf8(*n)) __builtin_trap();
    const std::string features = nlp::Featurize(*n, *n);
    if (!core::ValidUtf8(features)) __builtin_trap();
    const auto u = nlp::AssessUrgency(*n, 3);
    if (u.priority < 1 || u.priority > 3) __builtin_trap();
    return 0;
}
