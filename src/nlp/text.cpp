// SPDX-License-Identifier: Apache-2.0
#include "nlp/text.hpp"

#include <opencc/opencc.h>

#include "core/utf8.hpp"

namespace citybrain::nlp {

Result<Normalizer> Normalizer::Create(const std::string& config) {
    Normalizer n;
    try {
        n.converter_ = std::make_shared<const opencc::SimpleConverter>(config);
    } catch (const std::exception& e) {
        return Error{ErrorCode::kUnavailable, std::string("OpenCC: ") + e.what(), config};
    }
    return n;
}

Result<std::string> Normalizer::Normalize(std::string_view text, const std::string& field) const {
    if (!core::ValidUtf8(text)) return InvalidArgument(field, "is not valid UTF-8");
    std::u32string s = core::DecodeUtf8(text);
    if (s.size() > kMaxMessageChars) {
        return InvalidArgument(field, "has " + std::to_string(s.size()) + " characters; at most 4000");
    }
    std::u32string out;
    out.reserve(s.size());
    for (char32_t c : s) {
        if (c >= 0xFF01 && c <= 0xFF5E) c -= 0xFEE0;  // full-width ASCII
        const bool space = c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || c == 0x3000 || c == 0xA0;
        if (space) {
            if (!out.empty() && out.back() != U' ') out.push_back(U' ');
            continue;
        }
        if (c < 0x20 || c == 0x7F) continue;  // control characters
        out.push_back(c);
    }
    while (!out.empty() && out.back() == U' ') out.pop_back();
    if (out.empty()) return InvalidArgument(field, "is empty");
    return converter_->Convert(core::EncodeUtf8(out));
}

namespace {
bool IsHan(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0xF900 && c <= 0xFAFF);
}
bool IsAsciiAlnum(char32_t c) {
    return (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z') || (c >= U'0' && c <= U'9');
}

void AppendUtf8(char32_t c, std::string& out) {
    if (c < 0x80) {
        out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (c >> 6)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (c >> 12)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (c >> 18)));
        out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
}

/// Appends the tokens of `s` to `out`, each after `prefix` and followed by a space: one per Han character, one per
/// Latin word (lower-cased; a run of digits is "0"); URLs and punctuation are dropped. Written straight into the
/// line, with no string per token: featurising is on the classification hot path.
void AppendTokens(std::u32string_view s, size_t limit, std::string_view prefix, std::string& out) {
    size_t used = 0;
    for (size_t i = 0; i < s.size() && used < limit;) {
        const char32_t c = s[i];
        if (c == U'h' && s.substr(i, 4) == U"http") {
            while (i < s.size() && s[i] != U' ' && !IsHan(s[i])) ++i;  // a URL
            continue;
        }
        if (IsHan(c)) {
            out.append(prefix);
            AppendUtf8(c, out);
            out.push_back(' ');
            ++i, ++used;
        } else if (IsAsciiAlnum(c)) {
            out.append(prefix);
            const size_t start = out.size();
            bool digits = true;
            while (i < s.size() && IsAsciiAlnum(s[i])) {
                digits = digits && s[i] >= U'0' && s[i] <= U'9';
                out.push_back(static_cast<char>(s[i] >= U'A' && s[i] <= U'Z' ? s[i] + 32 : s[i]));
                ++i, ++used;
            }
            if (digits) {
                out.resize(start);
                out.push_back('0');
            }
            out.push_back(' ');
        } else {
            ++i;  // punctuation, symbols
        }
    }
}
}  // namespace

std::string Featurize(std::string_view title, std::string_view detail, size_t max_detail) {
    const std::u32string t = core::DecodeUtf8(title);
    const std::u32string d = core::DecodeUtf8(detail);
    std::string out;
    out.reserve(4 * (2 * std::min<size_t>(t.size(), 200) + std::min(d.size(), max_detail)) + 16);
    AppendTokens(t, 200, "", out);
    AppendTokens(t, 200, "t:", out);
    AppendTokens(d, max_detail, "", out);
    if (!out.empty()) out.pop_back();
    return out;
}

}  // namespace citybrain::nlp
