// SPDX-License-Identifier: Apache-2.0
// Internal to the text importers (CBEngine, SUMO): a parse failure thrown deep in a parser and turned into an
// Error at its boundary, so the parsers read straight through instead of checking a Result at every field.
#pragma once

#include <string>
#include <utility>

#include "core/error.hpp"

namespace citybrain::io::detail {

struct ParseFailure {
    std::string where;
    std::string message;
};

/// Runs `parse` and returns its value, or InvalidArgument(where, message) for a ParseFailure it threw.
template <typename T, typename F>
Result<T> Guard(F&& parse) {
    try {
        return std::forward<F>(parse)();
    } catch (const ParseFailure& e) {
        return InvalidArgument(e.where, e.message);
    }
}

}  // namespace citybrain::io::detail
