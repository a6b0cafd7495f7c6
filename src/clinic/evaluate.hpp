// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "clinic/findings.hpp"
#include "clinic/model.hpp"
#include "core/error.hpp"

namespace citybrain::clinic {

/// The literature's protocol (Wei et al. 2018; Xu et al. 2019): the agent sees the volunteered symptoms, asks up to
/// `max_questions`, a simulated patient answers from the recorded elicited symptoms and says "unsure" for anything
/// unrecorded; then the agent names its ranking.
struct EvalOptions {
    int max_questions = 5;
    double stop = 0.9;           // stop asking when the leading disease is this likely
    bool use_text = true;        // read the age in `self_report` when a case has one
    bool text_symptoms = false;  // and the symptoms named there that the volunteered list leaves out
    bool text_model = true;      // and its words as evidence (Model::TextScores), where the model has a text part
};

struct ReliabilityBin {
    double low = 0, high = 0;
    size_t n = 0;
    double confidence = 0;  // mean top-1 probability in the bin
    double accuracy = 0;
};

struct EvalResult {
    size_t n = 0;
    size_t skipped = 0;  // consultations whose disease the model does not know (not counted in n)
    double top1 = 0, top3 = 0;
    double avg_questions = 0;
    double brier = 0;          // multi-class Brier score of the final posterior (0 best, 2 worst)
    double ece = 0;            // expected calibration error of the top-1 probability
    double full_top1 = 0;      // the same model given every recorded symptom, no questions (a reference)
    double explicit_top1 = 0;  // given only what was volunteered (no questions)
    std::vector<ReliabilityBin> reliability;
    nlohmann::json ToJson() const;
};

EvalResult Evaluate(const Model& model,
                    const std::vector<Case>& cases,
                    const Vocabulary& vocabulary,
                    const EvalOptions& options);

/// The model of `cases`, with the temperature that calibrates its shown probabilities: naive Bayes trained on all of
/// them, and the temperature that minimises the log-loss of the true disease at the end of the simulated inquiry
/// (`options`) in a 5-fold cross-validation over the same cases. Only these cases are read, so cross-validation
/// that calls this per fold keeps its held-out fold out of the temperature too.
Result<Model> TrainCalibrated(const std::vector<Case>& cases,
                              const Vocabulary& vocabulary,
                              const Model::TrainOptions& train,
                              const EvalOptions& options);

/// k-fold cross-validation on one file (folds drawn with `seed`): TrainCalibrated on k−1, evaluate on the rest,
/// pooled.
Result<EvalResult> CrossValidate(const std::vector<Case>& cases,
                                 const Vocabulary& vocabulary,
                                 int folds,
                                 uint64_t seed,
                                 const Model::TrainOptions& train,
                                 const EvalOptions& options);

}  // namespace citybrain::clinic
