// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace citybrain::core {

/// Strict UTF-8 check (no overlongs, no surrogates, nothing past U+10FFFF): text from the edges is checked once,
/// so everything inside (JSON output, the store) can trust it.
inline bool ValidUtf8(std::string_view s) {
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t n = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1Fu;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0Fu;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07u;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;
        for (size_t k = 1; k <= n; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if ((b & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (b & 0x3Fu);
        }
        if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

/// The longest prefix of `s` of at most `max_bytes` bytes that does not cut a character in half: for echoing a
/// client's text back in an error message.
inline std::string Utf8Prefix(std::string_view s, size_t max_bytes) {
    if (s.size() <= max_bytes) return std::string(s);
    size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    return std::string(s.substr(0, cut));
}

/// `s` as text any client can parse, JSON or XML: each byte of a malformed UTF-8 sequence, each control character
/// but tab, newline and return, and U+FFFE/U+FFFF (which XML forbids) become U+FFFD.
inline std::string SanitizeText(std::string_view s) {
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
                out += kReplacement;
            } else {
                out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        size_t n = 0;
        uint32_t cp = 0;
        if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1Fu;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0Fu;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07u;
        }
        bool ok = n > 0 && i + n < s.size();  // the whole sequence is there
        for (size_t k = 1; ok && k <= n; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if ((b & 0xC0) != 0x80) ok = false;
            cp = (cp << 6) | (b & 0x3Fu);
        }
        ok = ok && cp >= kMin[n] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) && cp != 0xFFFE && cp != 0xFFFF;
        if (!ok) {
            out += kReplacement;
            ++i;
            continue;
        }
        out.append(s.substr(i, n + 1));
        i += n + 1;
    }
    return out;
}

/// Code points in valid UTF-8.
inline size_t Utf8Length(std::string_view s) {
    return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

/// The length in bytes of the UTF-8 sequence that `lead` starts (read loosely: a continuation byte counts as 1…4
/// by its high bits; callers bound the result by the string's end).
inline size_t Utf8SequenceLength(unsigned char lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

/// Code points of valid UTF-8 (check with ValidUtf8 first: a malformed sequence is read loosely, never past the end).
inline std::u32string DecodeUtf8(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        const size_t len = Utf8SequenceLength(b);
        char32_t c = len == 1 ? b : len == 2 ? (b & 0x1Fu) : len == 3 ? (b & 0x0Fu) : (b & 0x07u);
        for (size_t k = 1; k < len && i + k < s.size(); ++k) {
            c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
        }
        out.push_back(c);
        i += len;
    }
    return out;
}

/// UTF-8 of code points.
inline std::string EncodeUtf8(std::u32string_view s) {
    std::string out;
    out.reserve(s.size() * 3);
    for (const char32_t c : s) {
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (c < 0x800) {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out += static_cast<char>(0xE0 | (c >> 12));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (c >> 18));
            out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        }
    }
    return out;
}

/// ASCII letters lower-cased, every other byte (UTF-8 included) kept: for matching codes and English labels.
inline std::string AsciiLower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

}  // namespace citybrain::core
