// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"

namespace citybrain::clinic {

/// A patient's answer about one symptom. `kUnsure` is an answer too: the patient was asked and does not know.
enum class Answer : uint8_t { kYes = 0, kNo = 1, kUnsure = 2 };
const char* AnswerName(Answer a);
/// "yes" | "no" | "unsure" (also 是/有, 否/没有, 不确定/不知道); InvalidArgument naming `field` otherwise.
Result<Answer> ParseAnswer(std::string_view text, const std::string& field);

struct Finding {
    std::string symptom;  // canonical name
    Answer answer = Answer::kYes;
    int duration_days = -1;  // -1: not said
};

/// What one text (or a dataset case) says: findings, and the facts the red-flag rules need.
struct Findings {
    std::vector<Finding> items;
    std::optional<double> age_months;  // from "3岁", "七个月大", or given
    bool elderly = false;              // ≥ 65 years, or said so (老人, 奶奶 …)
    std::optional<double> max_temp_c;  // the highest temperature said ("39度", "38.5℃")

    const Finding* Find(std::string_view symptom) const;
    bool Has(std::string_view symptom) const;  // said yes
    /// Adds or overwrites a finding (a later answer wins).
    void Set(std::string symptom, Answer answer, int duration_days = -1);
};

/// The symptom vocabulary (config/clinic/vocabulary.json): canonical names, the words patients use for each, the
/// question to ask, and the negation cues. Matching is longest-first over the text, so "流鼻涕" is one mention.
class Vocabulary {
public:
    static Result<Vocabulary> Parse(std::string_view json, const std::string& where);
    static Result<Vocabulary> Load(const std::string& path);
    /// The vocabulary shipped in config/ (compiled in, so the engine works from any directory).
    static const Vocabulary& Default();

    /// A dataset's or user's name → the canonical name (itself when unknown).
    std::string Canonical(std::string_view name) const;
    bool Known(std::string_view name) const;
    /// The question for a symptom ("有没有咳嗽？"); a generic one for names without a question.
    std::string Question(std::string_view symptom) const;
    const std::vector<std::string>& names() const { return names_; }

    /// Symptoms, negations, durations, age, temperature in free text (already normalised: simplified Chinese,
    /// half-width digits). Never fails: text with no symptom gives no findings.
    Findings Extract(std::string_view text) const;

private:
    struct Term {
        std::string text;
        uint32_t symptom;
    };
    std::vector<std::string> names_;
    std::vector<std::string> questions_;
    std::unordered_map<std::string, uint32_t> by_word_;  // synonyms and names → symptom
    std::vector<Term> terms_;                            // longest first
    std::vector<std::vector<uint32_t>> by_first_byte_;   // 256 lists of indices into terms_, longest first
    std::vector<std::string> negations_;
    std::vector<std::string> not_negations_;
};

/// Age in months → the model's age band: 0 unknown, 1 under 6 months, 2 to 12 months, 3 to 3 years, 4 older.
int AgeBand(std::optional<double> age_months);
inline constexpr int kAgeBands = 5;

}  // namespace citybrain::clinic
