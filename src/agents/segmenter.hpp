// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"

namespace citybrain::agents {

/// jieba's dictionary as Debian ships it (python3-jieba): 349,046 words with their frequencies.
inline constexpr const char* kJiebaDict = "/usr/lib/python3/dist-packages/jieba/dict.txt";

/// Chinese word segmentation by jieba's method over jieba's dictionary: every dictionary word that starts at each
/// character forms a DAG, and the path of greatest total log-frequency is the segmentation. (cppjieba, the C++
/// port, is not packaged in Debian 12; the dictionary is.) Latin letters and digits form one token per run,
/// lower-cased; punctuation and spaces separate. Unknown characters stand alone (jieba's HMM for unseen words is
/// left out: policy texts and citizens' questions are dictionary words). Thread-safe after Load.
class Segmenter {
public:
    static Result<Segmenter> Load(const std::string& dict_path = kJiebaDict);
    std::vector<std::string> Cut(std::string_view text) const;
    /// For search (jieba's cut_for_search): Cut, and after each word of three or more characters the dictionary
    /// words of two and three characters inside it, so that "摆摊" finds "摆摊设点".
    std::vector<std::string> CutForSearch(std::string_view text) const;
    size_t words() const { return logp_.size(); }

private:
    std::unordered_map<std::string, double> logp_;  // log(freq / total)
    double unknown_logp_ = 0;
    size_t max_chars_ = 1;
};

}  // namespace citybrain::agents
