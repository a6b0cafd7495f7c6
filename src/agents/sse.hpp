// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace citybrain::agents {

/// Splits a server-sent-events byte stream into events' data, whatever the pieces it arrives in: events end at a
/// blank line (LF or CRLF); an event's `data:` lines are joined with LF; comments and other fields are skipped.
class SseSplitter {
public:
    /// Appends bytes and returns the data of each event completed by them.
    std::vector<std::string> Feed(std::string_view bytes);
    /// Bytes held that do not yet end an event.
    size_t pending() const { return buffer_.size(); }

private:
    std::string buffer_;
};

}  // namespace citybrain::agents
