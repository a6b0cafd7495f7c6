// SPDX-License-Identifier: Apache-2.0
#include "agents/sse.hpp"

namespace citybrain::agents {

std::vector<std::string> SseSplitter::Feed(std::string_view bytes) {
    buffer_.append(bytes);
    std::vector<std::string> events;
    size_t start = 0;
    std::string data;
    bool has_data = false;
    size_t consumed = 0;
    while (true) {
        const size_t nl = buffer_.find('\n', start);
        if (nl == std::string::npos) break;
        std::string_view line(buffer_.data() + start, nl - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        start = nl + 1;
        if (line.empty()) {
            if (has_data) events.push_back(std::move(data));
            data.clear();
            has_data = false;
            consumed = start;
            continue;
        }
        if (line.rfind("data:", 0) == 0) {
            std::string_view value = line.substr(5);
            if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
            if (has_data) data += '\n';
            data.append(value);
            has_data = true;
        }
        // Comments (":…") and other fields (event:, id:, retry:) carry nothing the gateway relays.
    }
    buffer_.erase(0, consumed);
    return events;
}

}  // namespace citybrain::agents
