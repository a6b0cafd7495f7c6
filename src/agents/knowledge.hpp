// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agents/segmenter.hpp"
#include "core/error.hpp"

namespace citybrain::agents {

/// One passage of a knowledge document: a section under a "## " heading of a Markdown file.
struct Passage {
    std::string document;  // the file's "# " title, else its name
    std::string heading;
    std::string text;
    std::string source;  // the file it came from
};

struct Hit {
    size_t passage = 0;
    double score = 0;
};

/// Policy documents for the agents, searched by BM25 (k1 1.5, b 0.75) over jieba words, with a few function words
/// left out. Documents are Markdown: "# " gives the title, each "## " section is a passage.
class KnowledgeBase {
public:
    explicit KnowledgeBase(std::shared_ptr<const Segmenter> segmenter) : segmenter_(std::move(segmenter)) {}
    /// Adds a Markdown file; errors name the file.
    Status AddFile(const std::string& path);
    Status AddText(std::string_view markdown, const std::string& source);
    /// The best passages for `query`, best first, among those of `sources` (all when empty).
    std::vector<Hit> Search(std::string_view query, size_t k, const std::vector<std::string>& sources = {}) const;
    const Passage& passage(size_t i) const { return passages_[i]; }
    size_t size() const { return passages_.size(); }
    bool Has(const std::string& source) const;

private:
    void Index(Passage p);
    std::vector<std::string> Terms(std::string_view text) const;

    std::shared_ptr<const Segmenter> segmenter_;
    std::vector<Passage> passages_;
    std::vector<std::unordered_map<std::string, int>> tf_;
    std::vector<size_t> length_;
    std::unordered_map<std::string, int> df_;
    size_t total_length_ = 0;
};

}  // namespace citybrain::agents
