// SPDX-License-Identifier: Apache-2.0
#include "agents/knowledge.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/file.hpp"
#include "core/utf8.hpp"

namespace citybrain::agents {

namespace {

const std::set<std::string>& StopWords() {
    static const std::set<std::string> kWords{
        "的",   "了",   "是",   "在", "我", "你", "他", "吗", "呢",   "啊", "吧", "和",   "与",   "及",
        "或",   "都",   "也",   "就", "要", "有", "这", "那", "请问", "请", "问", "一下", "怎么", "如何",
        "什么", "哪些", "可以", "能", "会", "去", "到", "给", "把",   "被", "对", "之",   "等"};
    return kWords;
}

}  // namespace

std::vector<std::string> KnowledgeBase::Terms(std::string_view text) const {
    std::vector<std::string> terms;
    for (std::string& w : segmenter_->CutForSearch(text)) {
        if (StopWords().count(w) == 0) terms.push_back(std::move(w));
    }
    return terms;
}

bool KnowledgeBase::Has(const std::string& source) const {
    return std::any_of(passages_.begin(), passages_.end(), [&](const Passage& p) { return p.source == source; });
}

Status KnowledgeBase::AddFile(const std::string& path) {
    if (Has(path)) return {};
    CB_TRY_ASSIGN(const std::string text, core::ReadFile(path));
    return AddText(text, path);
}

Status KnowledgeBase::AddText(std::string_view markdown, const std::string& source) {
    if (!core::ValidUtf8(markdown)) return InvalidArgument(source, "not valid UTF-8");
    std::string title = source.substr(source.find_last_of('/') + 1);
    Passage current;
    bool in_section = false;
    auto flush = [&] {
        if (in_section && !current.text.empty()) {
            current.document = title;
            current.source = source;
            Index(current);
        }
        current = Passage();
    };
    size_t start = 0;
    while (start <= markdown.size()) {
        size_t end = markdown.find('\n', start);
        if (end == std::string_view::npos) end = markdown.size();
        std::string_view line = markdown.substr(start, end - start);
        start = end + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.rfind("## ", 0) == 0) {
            flush();
            current.heading = std::string(line.substr(3));
            in_section = true;
        } else if (line.rfind("# ", 0) == 0) {
            title = std::string(line.substr(2));
        } else if (in_section && !line.empty()) {
            if (!current.text.empty()) current.text += '\n';
            current.text += line;
        }
        if (end == markdown.size()) break;
    }
    flush();
    return {};
}

void KnowledgeBase::Index(Passage p) {
    std::unordered_map<std::string, int> tf;
    // The heading counts three times (it says what the section is about) and the document's title once (every
    // section of the residence-permit guide is about residence permits, whether or not its text says so).
    size_t length = 0;
    for (const std::string& t :
         Terms(p.document + " " + p.heading + " " + p.heading + " " + p.heading + " " + p.text)) {
        ++tf[t];
        ++length;
    }
    for (const auto& [t, n] : tf) ++df_[t];
    tf_.push_back(std::move(tf));
    length_.push_back(length);
    total_length_ += length;
    passages_.push_back(std::move(p));
}

std::vector<Hit> KnowledgeBase::Search(std::string_view query,
                                       size_t k,
                                       const std::vector<std::string>& sources) const {
    std::vector<Hit> hits;
    if (passages_.empty()) return hits;
    std::vector<std::string> terms = Terms(query);
    // A question word says which section answers it: "where" is the place to go, "how long" the time limit.
    static const std::vector<std::pair<std::string, std::vector<std::string>>> kAsks{{"哪里", {"地点"}},
                                                                                     {"哪儿", {"地点"}},
                                                                                     {"在哪", {"地点"}},
                                                                                     {"多久", {"时限"}},
                                                                                     {"几天", {"时限"}},
                                                                                     {"多长", {"时限"}},
                                                                                     {"几点", {"时间"}},
                                                                                     {"什么时候", {"时间"}},
                                                                                     {"需要", {"所需"}}};
    for (const auto& [ask, adds] : kAsks) {
        if (query.find(ask) != std::string_view::npos) terms.insert(terms.end(), adds.begin(), adds.end());
    }
    std::sort(terms.begin(), terms.end());
    terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
    constexpr double kK1 = 1.5, kB = 0.75;
    const double n = static_cast<double>(passages_.size());
    const double avg = static_cast<double>(total_length_) / n;
    for (size_t i = 0; i < passages_.size(); ++i) {
        if (!sources.empty() && std::find(sources.begin(), sources.end(), passages_[i].source) == sources.end()) {
            continue;
        }
        double score = 0;
        for (const std::string& t : terms) {
            const auto it = tf_[i].find(t);
            if (it == tf_[i].end()) continue;
            const double df = df_.at(t);
            const double idf = std::log(1 + (n - df + 0.5) / (df + 0.5));
            const double f = it->second;
            score += idf * f * (kK1 + 1) / (f + kK1 * (1 - kB + kB * static_cast<double>(length_[i]) / avg));
        }
        if (score > 0) hits.push_back({i, score});
    }
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
        return a.score != b.score ? a.score > b.score : a.passage < b.passage;
    });
    if (hits.size() > k) hits.resize(k);
    return hits;
}

}  // namespace citybrain::agents
