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
    /// Fit a softmax temperature on out-of-fold decision values (3 internal folds of the training set), so that a
    /// prediction's confidence is a probability an intake threshold can mean something by. Off in
    /// cross-validation, which only ranks, and for tiny sets (under 30 messages).
    bool calibrate = true;
};

/// TF-IDF over token 1-3-grams (`Featurize`'s tokens: one per Chinese character, a Latin word, a digit run),
/// sublinear term frequency, L2-normalised, with a class-weighted linear model trained by liblinear (Debian's
/// `liblinear-dev`). Training is deterministic (liblinear's dual solvers visit instances in a seeded order).
/// Scores are one-vs-rest decision values turned into probabilities by a softmax whose temperature was fitted on
/// held-out folds of the training set (SvmOptions::calibrate; the log-loss of those folds is the criterion). A
/// model saved without a temperature (format 1) normalises logistic functions of the scores, uncalibrated.
class TfidfSvm {
public:
    static Result<TfidfSvm> Train(const std::vector<Message>& data, const SvmOptions& options = {});
    static Result<TfidfSvm> Load(const std::string& path);
    Status Save(const std::string& path) const;
    /// Whether `path` starts with this model's file signature (else it is a fastText model).
    static bool IsModelFile(const std::string& path);
    /// The fitted softmax temperature (0: none, format 1).
    double temperature() const { return temperature_; }

    /// Top-k labels with their scores, best first, for a normalised message.
    std::vector<Prediction> Predict(const std::string& title, const std::string& detail, int k = 1) const;
    const std::vector<std::string>& labels() const { return labels_; }
    size_t features() const { return idf_.size(); }

private:
    /// The message's features as (index, tf-idf) pairs, sorted by index, L2-normalised; unknown n-grams dropped.
    std::vector<std::pair<uint32_t, float>> Vector(const std::string& title, const std::string& detail) const;
    /// One-vs-rest decision values, per label.
    std::vector<double> Scores(const std::string& title, const std::string& detail) const;
    /// The feature of an n-gram key, or -1.
    int64_t Feature(uint64_t key) const;
    void BuildIndex();
    /// The temperature whose softmax gives the out-of-fold scores the least log-loss.
    static double FitTemperature(const std::vector<Message>& data,
                                 const SvmOptions& options,
                                 const std::vector<std::string>& labels);

    std::vector<std::string> labels_;
    size_t max_tokens_ = 300;
    std::vector<uint64_t> keys_;  // per feature: its n-gram key
    // n-gram key -> feature, open addressing with linear probing (a node-based map cost a cache miss per n-gram,
    // most of the time per message): slots of keys and features, kEmpty where free.
    std::vector<uint64_t> slot_key_;
    std::vector<uint32_t> slot_feature_;
    double temperature_ = 0;
    std::vector<float> idf_;      // per feature
    std::vector<float> weights_;  // [feature * classes + class]
    std::vector<float> bias_;     // per class
};

}  // namespace citybrain::nlp
