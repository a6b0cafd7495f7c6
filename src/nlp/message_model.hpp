// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "nlp/classifier.hpp"
#include "nlp/text.hpp"

namespace citybrain::nlp {

/// A trained message classifier as intake uses it: a model file of either kind (the TF-IDF linear model by its
/// signature, else fastText), with the normaliser its training text went through, so that raw text goes in.
class MessageModel {
public:
    static Result<MessageModel> Load(const std::string& path);

    /// Top-k labels of a normalised message, best first.
    std::vector<Prediction> Predict(const std::string& title, const std::string& detail, int k = 1) const;
    /// Top-k labels of a citizen's raw text (normalised first); empty when the text cannot be normalised (empty,
    /// too long, invalid UTF-8), which intake treats as "unsure".
    std::vector<Prediction> PredictRaw(std::string_view text, int k = 1) const;

    const std::vector<std::string>& labels() const { return labels_; }
    /// "tfidf" or "fasttext".
    const std::string& kind() const { return kind_; }
    const std::string& path() const { return path_; }

private:
    using PredictFn = std::function<std::vector<Prediction>(const std::string&, const std::string&, int)>;
    PredictFn predict_;
    std::shared_ptr<const Normalizer> normalizer_;
    std::vector<std::string> labels_;
    std::string kind_;
    std::string path_;
};

}  // namespace citybrain::nlp
