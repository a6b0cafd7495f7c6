// SPDX-License-Identifier: Apache-2.0
#include "server/form.hpp"

#include "core/utf8.hpp"

namespace citybrain::server {

namespace {

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

Result<std::string> Decode(std::string_view s, std::string_view name) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%') {
            const int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
            const int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                return InvalidArgument(std::string(name.empty() ? core::Utf8Prefix(s, 32) : core::Utf8Prefix(name, 64)),
                                       "bad percent-escape in form data");
            }
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

}  // namespace

Result<Params> ParseForm(std::string_view text) {
    Params out;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find('&', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view pair = text.substr(start, end - start);
        if (!pair.empty()) {
            const size_t eq = pair.find('=');
            CB_TRY_ASSIGN(std::string key, Decode(pair.substr(0, eq), {}));
            std::string value;
            if (eq != std::string_view::npos) {
                CB_TRY_ASSIGN(value, Decode(pair.substr(eq + 1), key));
            }
            out.emplace_back(std::move(key), std::move(value));
        }
        start = end + 1;
    }
    return out;
}

const std::string* Find(const Params& params, std::string_view key) {
    for (const auto& [k, v] : params) {
        if (k == key) return &v;
    }
    return nullptr;
}

}  // namespace citybrain::server
