// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "incident/taxonomy.hpp"
#include "nlp/gazetteer.hpp"
#include "nlp/text.hpp"

namespace citybrain::agents {

/// A place a message names, as the district's gazetteer finds it.
struct LocalPlace {
    std::string name;
    double x = 0;
    double y = 0;
};

/// A category and its probability, from a trained classifier.
struct LocalGuess {
    std::string category;  // the taxonomy's service code
    double confidence = 0;
};

/// A `locate` for LocalModelOptions from a district's gazetteer (which must outlive it).
std::function<std::optional<LocalPlace>(std::string_view)> LocateWith(const nlp::Gazetteer& gazetteer);

struct LocalModelOptions {
    const incident::Taxonomy* taxonomy = nullptr;  // the embedded default when null
    /// The district's gazetteer; without it no place is named.
    std::function<std::optional<LocalPlace>(std::string_view)> locate;
    /// A trained classifier mapped to service codes, best first; without it the taxonomy's keywords decide.
    std::function<std::vector<LocalGuess>(std::string_view)> classify;
    std::string classifier_name = "keywords";
};

/// What citybrain-local makes of one message.
struct LocalAnalysis {
    std::string category;  // service code
    std::string category_name;
    std::string department;  // code
    std::string department_name;
    double confidence = 0;  // 0 when nothing pointed anywhere (the fallback category)
    std::string classifier;
    int priority = 3;
    std::vector<std::string> cues;
    std::optional<LocalPlace> place;
    int64_t handle_within_ms = 0;  // the category's limits from report to handled
    std::string reply;
};

/// citybrain-local: the deterministic citizen-message pipeline (normalise, classify, locate, urgency, template
/// reply) as a model, so that the gateway and the agents work with no external model at all. Thread-safe.
class LocalModel {
public:
    static Result<LocalModel> Create(LocalModelOptions options);
    Result<LocalAnalysis> Analyse(std::string_view text) const;
    /// The chat answer: the analysis as JSON (for response_format json_object) or as a short Chinese note with the
    /// reply a citizen would get.
    static std::string Content(const LocalAnalysis& a, bool json);
    /// A deterministic 256-dimension embedding (hashed character unigrams and bigrams, L2-normalised): enough for
    /// near-duplicate search and tests, not a semantic model.
    static std::vector<float> Embed(std::string_view text);
    static constexpr size_t kEmbeddingDim = 256;

private:
    LocalModelOptions options_;
    nlp::Normalizer normalizer_;
    const incident::Taxonomy* taxonomy_ = nullptr;
    LocalModel(LocalModelOptions options, nlp::Normalizer normalizer);
};

}  // namespace citybrain::agents
