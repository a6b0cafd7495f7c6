// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "nlp/text.hpp"

namespace fasttext {
class FastText;
}

namespace citybrain::nlp {

struct Message {
    std::string label;  // label_l1
    std::string title;
    std::string detail;
};

/// A labelled TSV with a header naming at least `label_l1`, `title` and `detail` (other columns ignored). Errors
/// name the file and the row: `train.tsv:17: expected 6 fields, got 4`. Texts are normalised.
Result<std::vector<Message>> ReadMessagesTsv(const std::string& path, const Normalizer& normalizer);

struct Prediction {
    std::string label;
    double confidence = 0;
};

struct TrainOptions {
    int epochs = 100;
    double learning_rate = 1.0;
    int dim = 32;
    int word_ngrams = 2;  // character bigrams, since each Chinese character is a token
    /// Hash buckets for the n-grams: the model is (vocabulary + buckets) × dim floats, about 3 MB here.
    int buckets = 20000;
    uint64_t seed = 1;
};

/// A fastText supervised classifier over `Featurize`d messages (one thread while training, so a seed gives the same
/// model every time).
class TextClassifier {
public:
    static Result<TextClassifier> Train(const std::vector<Message>& data, const TrainOptions& options = {});
    static Result<TextClassifier> Load(const std::string& path);
    Status Save(const std::string& path) const;

    /// Top-k labels with their probabilities, best first, for a normalised message.
    std::vector<Prediction> Predict(const std::string& title, const std::string& detail, int k = 1) const;
    /// The same through fastText's own line reader (`predictLine`): the reference the fast path is tested against.
    std::vector<Prediction> PredictReference(const std::string& title, const std::string& detail, int k = 1) const;
    std::vector<std::string> labels() const;

private:
    struct Index;
    void BuildIndex();

    std::shared_ptr<fasttext::FastText> model_;
    /// Word ids and hashes in a small table of our own: fastText's dictionary probes a 30-million-slot array, a
    /// cache miss per token, which was a fifth of the time per message. Null when the model is not plain
    /// (quantised, or with subwords), and then Predict takes fastText's own path.
    std::shared_ptr<const Index> index_;
};

/// The plain bag-of-characters baseline: multinomial naive Bayes over the same tokens, Laplace smoothing.
class NaiveBayes {
public:
    static NaiveBayes Train(const std::vector<Message>& data);
    std::string Predict(const std::string& title, const std::string& detail) const;

private:
    std::vector<std::string> labels_;
    std::vector<double> log_prior_;
    std::map<std::string, std::vector<double>> counts_;
    std::vector<double> totals_;
};

struct Evaluation {
    size_t n = 0;
    double accuracy = 0;
    double macro_f1 = 0;
    std::vector<std::string> labels;
    std::vector<std::vector<size_t>> confusion;  // [true][predicted]
};
Evaluation Evaluate(const std::vector<std::string>& truth, const std::vector<std::string>& predicted);

/// `data` without the messages that are near-duplicates of one in `held` (kept apart for evaluation): a message
/// goes when at least `threshold` of its character trigrams occur in a single held message. Containment, not
/// similarity, because a training text may be a held message with its stop words removed. Sets `*removed`.
std::vector<Message> ExcludeNearDuplicates(std::vector<Message> data,
                                           const std::vector<Message>& held,
                                           double threshold,
                                           size_t* removed);

/// k-fold cross-validation with a seeded shuffle, stratified by label: fastText, the TF-IDF linear model, naive
/// Bayes and the majority class, each trained on k-1 folds and scored on the held-out one; the scores pool all
/// held-out predictions.
struct CrossValidation {
    Evaluation fasttext, tfidf_svm, naive_bayes, majority;
};
struct SvmOptions;
/// Cross-validates fastText (`options`), the TF-IDF linear model (`svm`; see tfidf_svm.hpp) and the baselines.
Result<CrossValidation> CrossValidate(const std::vector<Message>& data,
                                      int folds,
                                      const TrainOptions& options,
                                      const SvmOptions& svm);

}  // namespace citybrain::nlp
