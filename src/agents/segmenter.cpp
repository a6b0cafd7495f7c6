// SPDX-License-Identifier: Apache-2.0
#include "agents/segmenter.hpp"

#include <cmath>
#include <fstream>

#include "core/utf8.hpp"

namespace citybrain::agents {

namespace {

bool IsAsciiWord(unsigned char c) { return std::isalnum(c) != 0; }

/// CJK ideographs (the basic block and extension A), the characters jieba's dictionary is made of.
bool IsHan(std::string_view s, size_t i) {
    if (core::Utf8SequenceLength(static_cast<unsigned char>(s[i])) != 3 || i + 2 >= s.size()) return false;
    const uint32_t cp = ((static_cast<unsigned char>(s[i]) & 0x0F) << 12) |
                        ((static_cast<unsigned char>(s[i + 1]) & 0x3F) << 6) |
                        (static_cast<unsigned char>(s[i + 2]) & 0x3F);
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF);
}

}  // namespace

Result<Segmenter> Segmenter::Load(const std::string& dict_path) {
    std::ifstream in(dict_path);
    if (!in) {
        return InvalidArgument(
            "--jieba-dict", "cannot read '" + dict_path + "' (Debian's python3-jieba ships it; make deps installs it)");
    }
    Segmenter s;
    std::string line;
    double total = 0;
    std::vector<std::pair<std::string, double>> entries;
    entries.reserve(360000);
    while (std::getline(in, line)) {
        const size_t a = line.find(' ');
        if (a == std::string::npos || a == 0) continue;
        const size_t b = line.find(' ', a + 1);
        const double freq =
            std::atof(line.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1).c_str());
        if (!(freq > 0)) continue;
        std::string word = line.substr(0, a);
        for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t chars = 0;
        for (size_t i = 0; i < word.size(); i += core::Utf8SequenceLength(static_cast<unsigned char>(word[i]))) ++chars;
        s.max_chars_ = std::max(s.max_chars_, std::min<size_t>(chars, 16));
        total += freq;
        entries.emplace_back(std::move(word), freq);
    }
    if (entries.empty()) return InvalidArgument("--jieba-dict", "'" + dict_path + "' has no 'word freq' lines");
    s.logp_.reserve(entries.size());
    const double log_total = std::log(total);
    for (auto& [w, f] : entries) s.logp_[std::move(w)] = std::log(f) - log_total;
    s.unknown_logp_ = std::log(0.5) - log_total;  // below any word the dictionary has
    return s;
}

std::vector<std::string> Segmenter::Cut(std::string_view text) const {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            if (!IsAsciiWord(c)) {
                ++i;
                continue;
            }
            size_t j = i;
            std::string token;
            while (j < text.size() && static_cast<unsigned char>(text[j]) < 0x80 &&
                   IsAsciiWord(static_cast<unsigned char>(text[j]))) {
                token += static_cast<char>(std::tolower(static_cast<unsigned char>(text[j])));
                ++j;
            }
            out.push_back(std::move(token));
            i = j;
            continue;
        }
        if (!IsHan(text, i)) {
            i += core::Utf8SequenceLength(c);  // other symbols (full-width punctuation …) separate
            continue;
        }
        // A run of Han characters: the DAG of dictionary words and the best path through it, from the right.
        std::vector<size_t> starts;
        size_t j = i;
        while (j < text.size() && IsHan(text, j)) {
            starts.push_back(j);
            j += 3;
        }
        const size_t n = starts.size();
        starts.push_back(j);
        std::vector<double> best(n + 1, 0.0);
        std::vector<size_t> next(n + 1, n);
        for (size_t k = n; k-- > 0;) {
            best[k] = unknown_logp_ + best[k + 1];
            next[k] = k + 1;
            for (size_t len = 2; len <= max_chars_ && k + len <= n; ++len) {
                const auto it = logp_.find(std::string(text.substr(starts[k], starts[k + len] - starts[k])));
                if (it == logp_.end()) continue;
                if (it->second + best[k + len] > best[k]) {
                    best[k] = it->second + best[k + len];
                    next[k] = k + len;
                }
            }
            if (const auto one = logp_.find(std::string(text.substr(starts[k], 3)));
                one != logp_.end() && one->second + best[k + 1] > best[k]) {
                best[k] = one->second + best[k + 1];
                next[k] = k + 1;
            }
        }
        for (size_t k = 0; k < n; k = next[k]) out.emplace_back(text.substr(starts[k], starts[next[k]] - starts[k]));
        i = j;
    }
    return out;
}

std::vector<std::string> Segmenter::CutForSearch(std::string_view text) const {
    std::vector<std::string> out;
    for (std::string& w : Cut(text)) {
        std::vector<size_t> starts;
        for (size_t i = 0; i < w.size(); i += core::Utf8SequenceLength(static_cast<unsigned char>(w[i])))
            starts.push_back(i);
        starts.push_back(w.size());
        const size_t n = starts.size() - 1;
        if (n >= 3) {
            for (size_t len = 2; len <= 3 && len < n; ++len) {
                for (size_t k = 0; k + len <= n; ++k) {
                    std::string sub = w.substr(starts[k], starts[k + len] - starts[k]);
                    if (logp_.count(sub) != 0) out.push_back(std::move(sub));
                }
            }
        }
        out.push_back(std::move(w));
    }
    return out;
}

}  // namespace citybrain::agents
