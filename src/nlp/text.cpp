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

void Tokens(std::u32string_view s, size_t limit, std::vector<std::string>& out) {
    size_t used = 0;
    for (size_t i = 0; i < s.size() && used < limit;) {
        const char32_t c = s[i];
        if (c == U'h' && s.substr(i, 4) == U"http") {
            while (i < s.size() && s[i] != U' ' && !IsHan(s[i])) ++i;  // a URL
            continue;
        }
        if (IsHan(c)) {
            out.push_back(core::EncodeUtf8(s.substr(i, 1)));
            ++i, ++used;
        } else if (IsAsciiAlnum(c)) {
            std::string word;
            bool digits = true;
            while (i < s.size() && IsAsciiAlnum(s[i])) {
                digits = digits && s[i] >= U'0' && s[i] <= U'9';
                word += static_cast<char>(s[i] >= U'A' && s[i] <= U'Z' ? s[i] + 32 : s[i]);
                ++i, ++used;
            }
            out.push_back(digits ? "0" : word);
        } else {
            ++i;  // punctuation, symbols
        }
    }
}
}  // namespace

std::string Featurize(std::string_view title, std::string_view detail, size_t max_detail) {
    std::vector<std::string> t, d;
    Tokens(core::DecodeUtf8(title), 200, t);
    Tokens(core::DecodeUtf8(detail), max_detail, d);
    std::string out;
    for (const auto& tok : t) out += tok + ' ';
    for (const auto& tok : t) out += "t:" + tok + ' ';
    for (const auto& tok : d) out += tok + ' ';
    if (!out.empty()) out.pop_back();
    return out;
}

}  // namespace citybrain::nlp
