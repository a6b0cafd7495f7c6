// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "nlp/classifier.hpp"

namespace citybrain::nlp {

struct SvmOptions {
    /// liblinear's cost: larger fits the training set more closely.
    double c = 0.5;
    /// Logistic regression instead of the L2-loss SVM (both L2-regularised, one-vs-rest).
    bool logistic = false;
    /// Tokens read per message (title first, then detail).
    size_t max_tokens = 300;
    /// An n-gram seen in fewer training messages is not a feature (5 keeps the model near 3 MB on the full
    /// labelled set, under the 10 MB target; 2 makes it 16 MB).
    int min_df = 5;
};

/// TF-IDF over token 1-3-grams (`Featurize`'s tokens: one per Chinese character, a Latin word, a digit run),
/// sublinear term frequency, L2-normalised, with a class-weighted linear model trained by liblinear (Debian's
/// `liblinear-dev`). Training is deterministic (liblinear's dual solvers visit instances in a seeded order).
/// Scores are one-vs-rest decision values turned into probabilities by a logistic function and normalised:
/// liblinear's own estimate for logistic regression, an uncalibrated score for the SVM.
class TfidfSvm {
public:
    static Result<TfidfSvm> Train(const std::vector<Message>& data, const SvmOptions& options = {});
    static Result<TfidfSvm> Load(const std::string& path);
    Status Save(const std::string& path) const;
    /// Whether `path` starts with this model's file signature (else it is a fastText model).
    static bool IsModelFile(const std::string& path);

    /// Top-k labels with their scores, best first, for a normalised message.
    std::vector<Prediction> Predict(const std::string& title, const std::string& detail, int k = 1) const;
    const std::vector<std::string>& labels() const { return labels_; }
    size_t features() const { return idf_.size(); }

private:
    /// The message's features as (index, tf-idf) pairs, sorted by index, L2-normalised; unknown n-grams dropped.
    std::vector<std::pair<uint32_t, float>> Vector(const std::string& title, const std::string& detail) const;

    std::vector<std::string> labels_;
    size_t max_tokens_ = 300;
    std::unordered_map<uint64_t, uint32_t> index_;  // n-gram key -> feature
    std::vector<float> idf_;                        // per feature
    std::vector<float> weights_;                    // [feature * classes + class]
    std::vector<float> bias_;                       // per class
};

}  // namespace citybrain::nlp
