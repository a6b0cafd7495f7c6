// SPDX-License-Identifier: Apache-2.0
#include "clinic/findings.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/file.hpp"
#include "core/utf8.hpp"

namespace citybrain::clinic {

extern const char* const kDefaultVocabularyJson;

const char* AnswerName(Answer a) {
    switch (a) {
        case Answer::kYes:
            return "yes";
        case Answer::kNo:
            return "no";
        case Answer::kUnsure:
            return "unsure";
    }
    return "unsure";
}

Result<Answer> ParseAnswer(std::string_view text, const std::string& field) {
    static const std::pair<std::string_view, Answer> kWords[] = {{"yes", Answer::kYes},
                                                                 {"y", Answer::kYes},
                                                                 {"true", Answer::kYes},
                                                                 {"是", Answer::kYes},
                                                                 {"有", Answer::kYes},
                                                                 {"是的", Answer::kYes},
                                                                 {"no", Answer::kNo},
                                                                 {"n", Answer::kNo},
                                                                 {"false", Answer::kNo},
                                                                 {"否", Answer::kNo},
                                                                 {"没有", Answer::kNo},
                                                                 {"不是", Answer::kNo},
                                                                 {"unsure", Answer::kUnsure},
                                                                 {"?", Answer::kUnsure},
                                                                 {"不确定", Answer::kUnsure},
                                                                 {"不知道", Answer::kUnsure},
                                                                 {"not sure", Answer::kUnsure}};
    for (const auto& [w, a] : kWords)
        if (text == w) return a;
    return InvalidArgument(field, "must be yes, no or unsure (是/没有/不确定)");
}

const Finding* Findings::Find(std::string_view symptom) const {
    for (const auto& f : items)
        if (f.symptom == symptom) return &f;
    return nullptr;
}

bool Findings::Has(std::string_view symptom) const {
    const Finding* f = Find(symptom);
    return f != nullptr && f->answer == Answer::kYes;
}

void Findings::Set(std::string symptom, Answer answer, int duration_days) {
    for (auto& f : items) {
        if (f.symptom == symptom) {
            f.answer = answer;
            if (duration_days >= 0) f.duration_days = duration_days;
            return;
        }
    }
    items.push_back(Finding{std::move(symptom), answer, duration_days});
}

Result<Vocabulary> Vocabulary::Parse(std::string_view json, const std::string& where) {
    nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return InvalidArgument(where, "not a JSON object");
    const auto it = doc.find("symptoms");
    if (it == doc.end() || !it->is_array() || it->empty())
        return InvalidArgument(where + ": symptoms", "must be a non-empty array");
    Vocabulary v;
    for (size_t i = 0; i < it->size(); ++i) {
        const auto& s = (*it)[i];
        const std::string at = where + ": symptoms[" + std::to_string(i) + "]";
        if (!s.is_object() || !s.contains("name") || !s["name"].is_string() || s["name"].get<std::string>().empty())
            return InvalidArgument(at + ".name", "must be a non-empty string");
        const std::string name = s["name"].get<std::string>();
        if (!core::ValidUtf8(name)) return InvalidArgument(at + ".name", "is not valid UTF-8");
        if (v.by_word_.count(name) != 0) return InvalidArgument(at + ".name", "'" + name + "' is listed twice");
        const auto id = static_cast<uint32_t>(v.names_.size());
        v.names_.push_back(name);
        if (s.contains("question") && !s["question"].is_string())
            return InvalidArgument(at + ".question", "must be a string");
        v.questions_.push_back(s.contains("question") ? s["question"].get<std::string>() : std::string{});
        v.by_word_[name] = id;
        v.terms_.push_back(Term{name, id});
        if (s.contains("synonyms")) {
            if (!s["synonyms"].is_array()) return InvalidArgument(at + ".synonyms", "must be an array of strings");
            for (size_t k = 0; k < s["synonyms"].size(); ++k) {
                const auto& w = s["synonyms"][k];
                const std::string wat = at + ".synonyms[" + std::to_string(k) + "]";
                if (!w.is_string() || w.get<std::string>().empty())
                    return InvalidArgument(wat, "must be a non-empty string");
                const std::string word = w.get<std::string>();
                if (word == name) continue;
                auto [pos, fresh] = v.by_word_.emplace(word, id);
                if (!fresh && pos->second != id)
                    return InvalidArgument(wat, "'" + word + "' already names " + v.names_[pos->second]);
                if (fresh) v.terms_.push_back(Term{word, id});
            }
        }
    }
    for (const char* key : {"negations", "not_negations"}) {
        auto& out = std::string_view(key) == "negations" ? v.negations_ : v.not_negations_;
        if (!doc.contains(key)) continue;
        if (!doc[key].is_array()) return InvalidArgument(where + ": " + key, "must be an array of strings");
        for (const auto& w : doc[key]) {
            if (!w.is_string() || w.get<std::string>().empty())
                return InvalidArgument(where + ": " + key, "must hold non-empty strings");
            out.push_back(w.get<std::string>());
        }
    }
    // Longest first: "流鼻涕" must win over "鼻涕", and a longer negation cue over its prefix.
    std::stable_sort(
        v.terms_.begin(), v.terms_.end(), [](const Term& a, const Term& b) { return a.text.size() > b.text.size(); });
    auto longest = [](const std::string& a, const std::string& b) { return a.size() > b.size(); };
    std::stable_sort(v.negations_.begin(), v.negations_.end(), longest);
    v.by_first_byte_.assign(256, {});
    for (uint32_t k = 0; k < v.terms_.size(); ++k)
        v.by_first_byte_[static_cast<unsigned char>(v.terms_[k].text[0])].push_back(k);
    return v;
}

Result<Vocabulary> Vocabulary::Load(const std::string& path) {
    auto text = core::ReadFile(path);
    if (!text.ok()) return text.error();
    return Parse(*text, path);
}

const Vocabulary& Vocabulary::Default() {
    static const Vocabulary v = [] {
        auto r = Parse(kDefaultVocabularyJson, "config/clinic/vocabulary.json");
        CB_ASSERT(r.ok(), "the embedded clinic configuration parses");
        return std::move(r).value();
    }();
    return v;
}

std::string Vocabulary::Canonical(std::string_view name) const {
    const auto it = by_word_.find(std::string(name));
    return it == by_word_.end() ? std::string(name) : names_[it->second];
}

bool Vocabulary::Known(std::string_view name) const { return by_word_.count(std::string(name)) != 0; }

std::string Vocabulary::Question(std::string_view symptom) const {
    const auto it = by_word_.find(std::string(symptom));
    if (it != by_word_.end() && !questions_[it->second].empty()) return questions_[it->second];
    return "有没有" + std::string(symptom) + "？";
}

namespace {

size_t CharLen(unsigned char c) {
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

bool StartsWith(std::string_view s, size_t at, std::string_view w) { return s.substr(at, w.size()) == w; }

// Clause ends: a negation or duration does not reach over them.
bool IsClauseEnd(std::string_view s, size_t at) {
    static const std::string_view kMarks[] = {
        "，", "。", "；", "！", "？", "、", ",", ".", ";", "!", "?", "\n", "但", "可是", "不过"};
    if (StartsWith(s, at, "不过敏")) return false;  // "not allergic", not "but"
    for (auto m : kMarks)
        if (StartsWith(s, at, m)) return true;
    return false;
}

// Chinese numerals up to 99 and ASCII digits (with a decimal point); "半" is a half.
std::optional<double> NumberAt(std::string_view s, size_t at, size_t* end) {
    size_t i = at;
    if (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        double v = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
        if (i + 1 < s.size() && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
            double scale = 0.1;
            for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, scale /= 10) v += (s[i] - '0') * scale;
        }
        *end = i;
        return v;
    }
    static const std::pair<std::string_view, int> kDigits[] = {
        {"一", 1}, {"二", 2}, {"两", 2}, {"三", 3}, {"四", 4}, {"五", 5}, {"六", 6}, {"七", 7}, {"八", 8}, {"九", 9}};
    double v = 0;
    bool any = false;
    int pending = 0;
    while (i < s.size()) {
        bool hit = false;
        for (const auto& [w, d] : kDigits) {
            if (StartsWith(s, i, w)) {
                pending = d, i += w.size(), hit = any = true;
                break;
            }
        }
        if (hit) continue;
        if (StartsWith(s, i, "十")) {
            v += (pending == 0 ? 1 : pending) * 10, pending = 0, i += 3, any = true;
            continue;
        }
        if (StartsWith(s, i, "半")) {
            if (!any) {
                *end = i + 3;
                return 0.5;
            }
            break;
        }
        break;
    }
    if (!any) return std::nullopt;
    *end = i;
    return v + pending;
}

struct Span {
    double value;
    size_t begin, end;
};

}  // namespace

Findings Vocabulary::Extract(std::string_view text) const {
    Findings out;
    // Clause boundaries first, so cues stay inside the clause they are said in.
    std::vector<size_t> clause_of(text.size() + 1, 0);
    size_t clause = 0;
    for (size_t i = 0; i < text.size(); i += CharLen(static_cast<unsigned char>(text[i]))) {
        if (IsClauseEnd(text, i)) ++clause;
        const size_t n = std::min(CharLen(static_cast<unsigned char>(text[i])), text.size() - i);
        for (size_t k = 0; k < n; ++k) clause_of[i + k] = clause;
    }
    clause_of[text.size()] = clause + 1;

    // Durations ("三天", "2周", "一个多月", "半个月") per clause, in days; ages; temperatures.
    std::vector<int> clause_days(clause + 2, -1);
    for (size_t i = 0; i < text.size();) {
        size_t end = 0;
        auto num = NumberAt(text, i, &end);
        if (!num) {
            i += CharLen(static_cast<unsigned char>(text[i]));
            continue;
        }
        size_t j = end;
        if (StartsWith(text, j, "多")) j += 3;
        const bool ge = StartsWith(text, j, "个");
        if (ge) j += 3;
        if (StartsWith(text, j, "半")) {  // "一个半月"
            *num += 0.5, j += 3;
        }
        if (StartsWith(text, j, "多")) j += 3;
        const size_t unit_at = j;
        double days = -1;
        double months = -1;
        if (StartsWith(text, j, "天") || StartsWith(text, j, "日")) {
            days = *num, j += 3;
        } else if (StartsWith(text, j, "周") || StartsWith(text, j, "星期") || StartsWith(text, j, "礼拜")) {
            days = *num * 7, j += StartsWith(text, j, "周") ? 3 : 6;
        } else if (StartsWith(text, j, "月")) {
            months = *num, j += 3;
        } else if (StartsWith(text, j, "年")) {
            days = *num * 365, j += 3;
        } else if (StartsWith(text, j, "岁") || StartsWith(text, j, "周岁")) {
            const double years = *num;
            if (!out.age_months) out.age_months = years * 12;
            j += StartsWith(text, j, "岁") ? 3 : 6;
        } else if (StartsWith(text, j, "度") || StartsWith(text, j, "℃") || StartsWith(text, j, "°")) {
            if (*num >= 35 && *num <= 43) out.max_temp_c = std::max(out.max_temp_c.value_or(0), *num);
            j = unit_at + CharLen(static_cast<unsigned char>(text[unit_at]));
        }
        // "七个月大", "宝宝5个月", "出生20天": an age, not how long a symptom lasted.
        const std::string_view before = text.substr(i >= 9 ? i - 9 : 0, i >= 9 ? 9 : i);
        const bool age_cue =
            StartsWith(text, j, "大") || StartsWith(text, j, "的宝宝") || StartsWith(text, j, "的孩子") ||
            StartsWith(text, j, "男") || StartsWith(text, j, "女") || before.find("宝宝") != std::string_view::npos ||
            before.find("孩子") != std::string_view::npos || before.find("出生") != std::string_view::npos ||
            before.find("小儿") != std::string_view::npos || before.find("婴儿") != std::string_view::npos ||
            before.find("生儿") != std::string_view::npos || before.find("儿子") != std::string_view::npos ||
            before.find("女儿") != std::string_view::npos || before.find("今年") != std::string_view::npos;
        if (months >= 0 || days >= 0) {
            if (age_cue && !out.age_months) {
                out.age_months = months >= 0 ? months : days / 30.0;
            } else {
                const double d = months >= 0 ? months * 30 : days;
                clause_days[clause_of[i]] = static_cast<int>(std::lround(d));
            }
        }
        i = std::max(j, end);
    }
    if (!out.age_months && text.find("新生儿") != std::string_view::npos) out.age_months = 0.5;
    if (out.age_months && *out.age_months >= 65 * 12) out.elderly = true;
    for (std::string_view w : {"老人", "老年", "爷爷", "奶奶", "外公", "外婆", "老伴", "老父亲", "老母亲"})
        if (text.find(w) != std::string_view::npos) out.elderly = true;
    if (!out.max_temp_c && (text.find("高烧") != std::string_view::npos || text.find("高热") != std::string_view::npos))
        out.max_temp_c = 39.0;

    // Symptom mentions, longest first at each position; a negation cue just before, inside the clause, says no.
    for (size_t i = 0; i < text.size();) {
        const Term* hit = nullptr;
        for (uint32_t k : by_first_byte_[static_cast<unsigned char>(text[i])]) {
            if (StartsWith(text, i, terms_[k].text)) {
                hit = &terms_[k];
                break;
            }
        }
        if (hit == nullptr) {
            i += CharLen(static_cast<unsigned char>(text[i]));
            continue;
        }
        bool negated = false;
        const size_t window = std::min<size_t>(i, 12);  // up to four characters back
        for (size_t back = 3; back <= window && !negated; back += 3) {
            const size_t at = i - back;
            if (clause_of[at] != clause_of[i]) break;
            for (const auto& cue : negations_) {
                if (!StartsWith(text, at, cue)) continue;
                bool exempt = false;
                // A phrase like 不停 or 不过 (but) is no negation, unless the mention itself starts inside it: 不过敏.
                for (const auto& nn : not_negations_)
                    if (StartsWith(text, at, nn) && at + nn.size() <= i) exempt = true;
                if (!exempt) negated = true;
                break;
            }
        }
        const uint32_t id = hit->symptom;
        const Answer a = negated ? Answer::kNo : Answer::kYes;
        const Finding* old = out.Find(names_[id]);
        // "咳嗽，不发烧，没有痰。咳得厉害": once said yes, a later yes keeps it; a later no after a yes also keeps yes
        // (patients negate qualities, not the symptom, after naming it).
        if (old == nullptr || (old->answer == Answer::kNo && a == Answer::kYes))
            out.Set(names_[id], a, a == Answer::kYes ? clause_days[clause_of[i]] : -1);
        i += hit->text.size();
    }
    if (out.max_temp_c && *out.max_temp_c >= 37.3 && !out.Has("发烧")) out.Set("发烧", Answer::kYes);
    if (out.max_temp_c && *out.max_temp_c >= 39.0 && !out.Has("高热")) out.Set("高热", Answer::kYes);
    if (out.Has("高热") && !out.Has("发烧")) out.Set("发烧", Answer::kYes, out.Find("高热")->duration_days);
    return out;
}

int AgeBand(std::optional<double> age_months) {
    if (!age_months) return 0;
    if (*age_months < 6) return 1;
    if (*age_months < 12) return 2;
    if (*age_months < 36) return 3;
    return 4;
}

}  // namespace citybrain::clinic
