// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clinic/findings.hpp"
#include "clinic/model.hpp"
#include "clinic/triage.hpp"
#include "core/error.hpp"

namespace citybrain::clinic {

/// One screening conversation: what the patient said and answered so far. Holds no name, phone or id of a person.
struct Session {
    Findings findings;
    std::vector<std::string> asked;  // symptoms asked, in order
    int questions = 0;               // diagnostic questions asked (the safety questions are not counted)
    std::vector<double> text;        // Model::TextScores of the opening words: numbers per disease, not the words
};

struct Question {
    std::string symptom;
    std::string text;
    bool safety = false;  // a danger-sign question, asked whatever the ranking
};

/// What the assistant says after each turn.
struct Turn {
    std::vector<std::pair<std::string, double>> ranking;  // diseases, most likely first
    std::vector<Reason> because;                          // for the leading disease
    /// How much the patient's own words favour the leading disease over the others (a log-ratio, as in `because`);
    /// empty when the words were not read (the model has no text part).
    std::optional<double> words_log_ratio;
    Triage triage;
    std::optional<Question> question;  // none: the screening is over
};

struct ScreenerOptions {
    int max_questions = 5;  // diagnostic questions
    double stop = 0.9;      // stop asking when the leading disease is this likely
    bool safety_questions = true;
};

/// A turn as JSON (the CLI's and the API's shape): findings, age, ranking, reasons, triage, the next question.
nlohmann::json TurnJson(const Session& session, const Turn& turn);

/// The clinic engine's facade: text in, a ranked differential, the next question and the triage out.
class Screener {
public:
    Screener(const Model& model, const Vocabulary& vocabulary, ScreenerOptions options)
        : model_(&model), vocabulary_(&vocabulary), options_(options) {}

    /// Opens a session from the patient's own words; an age given apart (months) overrides one in the text.
    /// Empty text, text over 2,000 characters and invalid UTF-8 are refused, naming `text`.
    Result<Session> Start(std::string_view text, std::optional<double> age_months) const;
    /// Records an answer to a symptom (a canonical name or a synonym); unknown symptoms are refused by name.
    Status Answer(Session& session, std::string_view symptom, clinic::Answer answer) const;
    /// The ranking, the triage and the next question (if any).
    Turn Next(const Session& session) const;

    const Model& model() const { return *model_; }
    const Vocabulary& vocabulary() const { return *vocabulary_; }

private:
    const Model* model_;
    const Vocabulary* vocabulary_;
    ScreenerOptions options_;
};

}  // namespace citybrain::clinic
