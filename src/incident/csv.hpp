// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace citybrain::incident {

/// RFC 4180 CSV: quoted fields with "" escapes and embedded newlines, CRLF or LF. Small enough to own (see
/// docs/DEPENDENCIES.md), fuzzed by csv_fuzz. An unterminated quote is an error naming the line it opened on.
class CsvReader {
public:
    CsvReader(std::string_view text, std::string source) : text_(text), source_(std::move(source)) {}
    /// Reads the next record into `fields`; false at the end. Errors come back through `status`.
    bool Next(std::vector<std::string>& fields, Status& status);
    /// The 1-based line the last record started on.
    size_t line() const { return record_line_; }

private:
    std::string_view text_;
    std::string source_;
    size_t pos_ = 0;
    size_t line_ = 1;
    size_t record_line_ = 0;
};

}  // namespace citybrain::incident
