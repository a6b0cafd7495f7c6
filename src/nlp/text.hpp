// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace opencc {
class SimpleConverter;
}

namespace citybrain::nlp {

inline constexpr size_t kMaxMessageChars = 4000;

/// Normalises a citizen's message: traditional to simplified Chinese (OpenCC t2s), full-width ASCII to half-width,
/// runs of whitespace to one space, trimmed. Empty text, text over 4,000 characters and invalid UTF-8 are errors
/// naming `field`.
class Normalizer {
public:
    /// `config`: an OpenCC configuration (Debian's libopencc-data ships /usr/share/opencc/t2s.json).
    static Result<Normalizer> Create(const std::string& config = "/usr/share/opencc/t2s.json");
    Result<std::string> Normalize(std::string_view text, const std::string& field = "text") const;

private:
    std::shared_ptr<const opencc::SimpleConverter> converter_;
};

/// The model's view of a message: one token per Chinese character, Latin words lower-cased, digit runs as "0";
/// URLs and punctuation dropped. The title's tokens come first and once more with a "t:" mark, so the title
/// weighs more than the detail, which is cut at `max_detail` characters.
std::string Featurize(std::string_view title, std::string_view detail, size_t max_detail = 150);

}  // namespace citybrain::nlp
