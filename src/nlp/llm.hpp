// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace citybrain::nlp {

/// A large-model backend for friendlier replies: any OpenAI-compatible chat-completions endpoint (a government
/// compute centre's vLLM or similar). Off unless a URL is given.
struct LlmOptions {
    /// Base URL, e.g. "http://10.0.0.5:8000/v1"; the client POSTs to {url}/chat/completions. http only.
    std::string url;
    std::string api_key;  // sent as "Authorization: Bearer …" when set
    std::string model = "qwen2.5-7b-instruct";
    double timeout_s = 3;  // the whole exchange: connect, send, answer
};

/// Checks the options; the error names the field (--llm-url, --llm-timeout).
Status ValidateLlmOptions(const LlmOptions& options);

/// The first choice's content of a chat-completions answer body; errors name what is missing or wrong.
Result<std::string> ParseChatCompletion(std::string_view body);

/// One chat completion: the system and user messages in, the first choice's content out. Errors say what failed
/// (connection, timeout, HTTP status, a body that is not the protocol's JSON).
Result<std::string> ChatCompletion(const LlmOptions& options, const std::string& system, const std::string& user);

struct DraftedReply {
    std::string text;
    bool from_model = false;
    std::string fallback_reason;  // why the template was used, when it was
};

/// Asks the model to rewrite the template reply for this citizen's message, more warmly and to the point. The
/// template stays the answer when the model is off, fails, times out, or drops a fact the citizen must get
/// (each of `facts`, e.g. the case number and the deadline, must appear verbatim in the draft).
DraftedReply DraftReply(const LlmOptions& options,
                        const std::string& message,
                        const std::string& template_reply,
                        const std::vector<std::string>& facts);

}  // namespace citybrain::nlp
