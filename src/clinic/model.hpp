// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clinic/findings.hpp"
#include "core/error.hpp"

namespace citybrain::clinic {

/// One consultation of a dataset file (../shared/data/health/*/train.json): the disease, the symptoms the patient
/// volunteered (`explicit`), those the doctor's questions found (`implicit`), and the parent's own text if any.
struct Case {
    std::string id;
    std::string disease;
    std::vector<std::pair<std::string, bool>> volunteered;  // `explicit`, canonical names
    std::vector<std::pair<std::string, bool>> elicited;     // `implicit`, canonical names
    std::string self_report;
    std::optional<Findings> words;  // Vocabulary::Extract of self_report, read once by ParseCases

    /// What the parent's words say: `words` when ParseCases read them, else read now.
    Findings Words(const Vocabulary& vocabulary) const { return words ? *words : vocabulary.Extract(self_report); }
};

/// How strongly per-disease log-scores favour `lead` over the other diseases, each weighted by its share of the
/// posterior among them: scores[lead] - log(sum over d != lead of w_d exp(scores[d])), as a log-sum-exp because a
/// long text's scores differ by hundreds. Nothing when there is no other disease.
std::optional<double> LogRatioAgainstOthers(const std::vector<double>& posterior,
                                            size_t lead,
                                            const std::vector<double>& scores);

/// Reads a dataset file; an entry without a disease or with a symptom that is not true/false is refused by index.
Result<std::vector<Case>> ReadCases(const std::string& path, const Vocabulary& vocabulary);
Result<std::vector<Case>> ParseCases(std::string_view json, const std::string& where, const Vocabulary& vocabulary);

/// What is known in a screening, in the model's terms: per model symptom an answer or nothing asked yet.
struct Evidence {
    static constexpr int kUnknown = -1;
    std::vector<int> answer;  // per model symptom: -1 not asked, else an Answer
    int age_band = 0;
    std::vector<double> text;  // per disease: the weighted log-likelihood of the patient's own words; empty: none
    /// Per model symptom, 1 when its answer came unasked (the patient's words, a record's volunteered list) rather
    /// than from a question; empty: every answer came unasked.
    std::vector<char> volunteered;
};

/// A reason for the ranking: a symptom and how strongly its answer favours the disease over the others.
struct Reason {
    std::string symptom;
    Answer answer = Answer::kYes;
    double log_ratio = 0;  // log P(answer | disease) − log P(answer | the other diseases, posterior-weighted)
};

/// Naive Bayes over symptoms with three answers each (yes, no, unsure: a symptom the record or the patient leaves
/// open is evidence too, learnt like the others), plus the age band. Laplace-smoothed counts; the inquiry asks the
/// symptom with the largest expected information gain over the current posterior.
class Model {
public:
    struct TrainOptions {
        double alpha = 1.0;       // Laplace smoothing
        bool volunteered = true;  // learn what patients say unasked apart from what questions find (below)
    };
    static Result<Model> Train(const std::vector<Case>& cases,
                               const Vocabulary& vocabulary,
                               const TrainOptions& options);
    static Result<Model> Train(const std::vector<Case>& cases, const Vocabulary& vocabulary) {
        return Train(cases, vocabulary, TrainOptions{});
    }
    /// A knowledge base (config/clinic/knowledge.json): per disease a prior, P(symptom) and age weights, written by
    /// hand; "unsure" carries no information there.
    static Result<Model> FromKnowledge(std::string_view json, const std::string& where);
    /// The embedded default: our own knowledge base, compiled in.
    static const Model& Default();
    static Result<Model> Load(const std::string& path);
    Status Save(const std::string& path) const;

    const std::vector<std::string>& diseases() const { return diseases_; }
    const std::vector<std::string>& symptoms() const { return symptoms_; }
    const std::string& source() const { return source_; }
    /// The care a disease needs when it leads the ranking ("self_care" unless the knowledge base says more).
    const std::string& care(size_t disease) const { return care_[disease]; }
    int SymptomIndex(std::string_view name) const;

    /// Findings onto the model's symptoms (names it does not know are left out); those named in `asked` came from a
    /// question, the others unasked.
    Evidence Observe(const Findings& findings, const std::vector<std::string>& asked = {}) const;
    /// Whether the model learnt what patients volunteer apart from what questions find. Then a symptom not
    /// volunteered is evidence too (a parent who does not mention diarrhoea is unlikely to be there for it), and a
    /// question's answer is read as P(answer | not volunteered, disease).
    bool has_volunteer_model() const { return !vol_.empty(); }
    /// P(disease | evidence), summing to 1, as naive Bayes gives it: the inquiry asks and stops on this.
    std::vector<double> Posterior(const Evidence& evidence) const;
    /// The probabilities shown and triaged on: a posterior raised to 1/temperature and renormalised (temperature
    /// scaling; naive Bayes is over-confident where symptoms go together). The order is unchanged.
    std::vector<double> Calibrated(std::vector<double> posterior) const;
    double temperature() const { return temperature_; }
    /// From 0.2 to 20 (TrainCalibrated fits it on out-of-fold consultations); 1 leaves the posterior as it is.
    Status set_temperature(double t);
    /// The unasked symptom whose answer is expected to lower the posterior's entropy most; -1 when none would.
    int NextQuestion(const Evidence& evidence, const std::vector<double>& posterior) const;
    /// The `k` answers that favour `disease` most.
    std::vector<Reason> Explain(const Evidence& evidence, size_t disease, size_t k) const;

    /// The patient's own words as evidence (Evidence::text): per disease, `text_weight` times the log-likelihood of
    /// the text's characters and character pairs under a multinomial naive Bayes learnt from the consultations'
    /// `self_report`. Words say more than the symptom list extracted from them (how a parent describes a rash, a
    /// stool, a season); the weight, below 1, discounts what the symptoms already count. Empty when the model has no
    /// text part, its weight is 0, or the text has no letters.
    std::vector<double> TextScores(std::string_view text) const;
    bool has_text_model() const { return !grams_.empty(); }
    double text_weight() const { return text_weight_; }
    /// From 0 (the text is not read) to 2; TrainCalibrated chooses it on out-of-fold consultations.
    Status set_text_weight(double w);

private:
    double LogLike(size_t symptom, size_t disease, int answer) const {
        return log_like_[(symptom * diseases_.size() + disease) * 3 + static_cast<size_t>(answer)];
    }
    /// Whether symptom `s`'s answer in `e` is read through vol_ (volunteered yes or no, with a volunteer model).
    bool ReadAsVolunteered(const Evidence& e, size_t s) const {
        return !vol_.empty() && (e.volunteered.empty() || (s < e.volunteered.size() && e.volunteered[s] != 0)) &&
               e.answer[s] != static_cast<int>(Answer::kUnsure);
    }
    /// P(what `e` says of symptom `s` | disease), relative to saying nothing unasked when read through vol_.
    double Like(const Evidence& e, size_t s, size_t disease) const;
    void Finish();
    void TrainText(const std::vector<Case>& cases);
    static Result<Model> FromKnowledgeChecked(std::string_view json, const std::string& where);

    std::string source_;
    std::vector<std::string> diseases_;
    std::vector<std::string> care_;
    std::vector<std::string> symptoms_;
    std::vector<double> prior_;  // per disease
    std::vector<double> like_;   // [symptom][disease][answer] probabilities (given not volunteered, with vol_)
    std::vector<double> vol_;    // [symptom][disease][yes, no, not said]: what is volunteered; empty: not learnt
    std::vector<double> age_;    // [disease][band]
    double temperature_ = 1.0;
    std::vector<uint64_t> grams_;     // sorted: single characters and pairs of the training texts, as numbers
    std::vector<double> gram_log_;    // [gram][disease] log P(gram | disease)
    std::vector<double> unseen_log_;  // [disease] log P(a gram never seen | disease)
    double text_weight_ = 0;
    std::vector<double> log_prior_;
    std::vector<double> log_like_;
    std::vector<double> log_vol_;
    std::vector<double> log_unsaid_;  // [disease]: Σ over symptoms of log vol_(not said)
    std::vector<double> log_age_;
};

}  // namespace citybrain::clinic
