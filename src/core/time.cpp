// SPDX-License-Identifier: Apache-2.0
#include "core/time.hpp"

#include <chrono>
#include <cstdio>

namespace citybrain::core {

namespace {

// A tiny cursor over the text: each Take* consumes exactly what it promises or fails.
struct Cursor {
    std::string_view s;
    size_t i = 0;

    bool Done() const { return i == s.size(); }
    bool Peek(char c) const { return i < s.size() && s[i] == c; }
    bool Take(char c) {
        if (!Peek(c)) return false;
        ++i;
        return true;
    }
    bool TakeInt(int digits, int& out) {
        if (i + static_cast<size_t>(digits) > s.size()) return false;
        int v = 0;
        for (int k = 0; k < digits; ++k) {
            const char c = s[i + static_cast<size_t>(k)];
            if (c < '0' || c > '9') return false;
            v = v * 10 + (c - '0');
        }
        i += static_cast<size_t>(digits);
        out = v;
        return true;
    }
};

// Built with append: gcc 12 raises a false -Wrestrict on `"'" + std::string(...)` chains.
std::string Quoted(std::string_view text) {
    std::string out = "'";
    out.append(text.substr(0, 64));
    out += '\'';
    return out;
}

Result<TimeMs> Compose(int y,
                       int mo,
                       int d,
                       int h,
                       int mi,
                       int sec,
                       int ms,
                       int offset_min,
                       std::string_view text,
                       std::string_view where) {
    using namespace std::chrono;
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || y < 1970 || y > 9999) {
        return InvalidArgument(std::string(where), Quoted(text).append(" is not a valid calendar date"));
    }
    if (h > 23 || mi > 59 || sec > 60) {
        return InvalidArgument(std::string(where), Quoted(text).append(" is not a valid time of day"));
    }
    const int64_t days = sys_days{ymd}.time_since_epoch().count();
    const int64_t secs = days * 86400 + int64_t{h} * 3600 + int64_t{mi} * 60 + sec - int64_t{offset_min} * 60;
    if (secs < 0) return InvalidArgument(std::string(where), Quoted(text).append(" is before 1970 (UTC)"));
    return secs * 1000 + ms;
}

Result<TimeMs> BadFormat(std::string_view text, std::string_view where) {
    return InvalidArgument(std::string(where),
                           Quoted(text).append(" is not a timestamp (expected ISO 8601, e.g. 2023-02-28T23:45:00Z)"));
}

}  // namespace

Result<TimeMs> ParseTimestamp(std::string_view text, std::string_view where) {
    Cursor c{text};
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0, offset_min = 0;
    if (text.size() >= 3 && text[2] == '/') {  // NYC: MM/DD/YYYY hh:mm:ss AM
        if (!(c.TakeInt(2, mo) && c.Take('/') && c.TakeInt(2, d) && c.Take('/') && c.TakeInt(4, y) && c.Take(' ') &&
              c.TakeInt(2, h) && c.Take(':') && c.TakeInt(2, mi) && c.Take(':') && c.TakeInt(2, sec) && c.Take(' '))) {
            return BadFormat(text, where);
        }
        const bool pm = c.Take('P');
        if (!pm && !c.Take('A')) return BadFormat(text, where);
        if (!c.Take('M') || !c.Done() || h < 1 || h > 12) return BadFormat(text, where);
        h = (h % 12) + (pm ? 12 : 0);
        return Compose(y, mo, d, h, mi, sec, 0, 0, text, where);
    }
    if (!(c.TakeInt(4, y) && c.Take('-') && c.TakeInt(2, mo) && c.Take('-') && c.TakeInt(2, d))) {
        return BadFormat(text, where);
    }
    if (!c.Done()) {
        if (!(c.Take('T') || c.Take(' '))) return BadFormat(text, where);
        if (!(c.TakeInt(2, h) && c.Take(':') && c.TakeInt(2, mi))) return BadFormat(text, where);
        if (c.Take(':') && !c.TakeInt(2, sec)) return BadFormat(text, where);
        if (c.Take('.')) {
            int digits = 0;
            while (!c.Done() && c.s[c.i] >= '0' && c.s[c.i] <= '9') {
                if (digits < 3) ms = ms * 10 + (c.s[c.i] - '0');
                ++digits;
                ++c.i;
            }
            if (digits == 0) return BadFormat(text, where);
            for (int k = digits; k < 3; ++k) ms *= 10;
        }
        if (c.Take('Z')) {
        } else if (c.Peek('+') || c.Peek('-')) {
            const int sign = c.Take('-') ? -1 : (c.Take('+'), 1);
            int oh = 0, om = 0;
            if (!c.TakeInt(2, oh)) return BadFormat(text, where);
            c.Take(':');
            if (!c.TakeInt(2, om) || oh > 14 || om > 59) return BadFormat(text, where);
            offset_min = sign * (oh * 60 + om);
        }
        if (!c.Done()) return BadFormat(text, where);
    }
    return Compose(y, mo, d, h, mi, sec, ms, offset_min, text, where);
}

std::string FormatTimestamp(TimeMs t) {
    using namespace std::chrono;
    const int64_t secs = t >= 0 ? t / 1000 : (t - 999) / 1000;
    const int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    const int64_t rem = secs - days * 86400;
    const year_month_day ymd{sys_days{std::chrono::days{days}}};
    char buf[32];
    std::snprintf(buf,
                  sizeof buf,
                  "%04d-%02u-%02uT%02d:%02d:%02dZ",
                  static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()),
                  static_cast<int>(rem / 3600),
                  static_cast<int>(rem / 60 % 60),
                  static_cast<int>(rem % 60));
    return buf;
}

TimeMs NowMs() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace citybrain::core
