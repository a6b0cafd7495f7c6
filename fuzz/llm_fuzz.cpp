// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for what the large-model backend reads from outside: the endpoint URL (configuration) and the
// chat-completions answer body. Any bytes give a clean error or valid UTF-8 content; nothing crashes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/utf8.hpp"
#include "nlp/llm.hpp"

using namespace citybrain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const auto content = nlp::ParseChatCompletion(text);
    if (content.ok() ? !core::ValidUtf8(*content) : content.error().message.empty()) __builtin_trap();
    nlp::LlmOptions options;
    options.url = text;
    const Status s = nlp::ValidateLlmOptions(options);
    if (!s.ok() && s.error().where != "--llm-url") __builtin_trap();
    return 0;
}
