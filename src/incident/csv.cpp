// SPDX-License-Identifier: Apache-2.0
#include "incident/csv.hpp"

namespace citybrain::incident {

bool CsvReader::Next(std::vector<std::string>& fields, Status& status) {
    fields.clear();
    if (pos_ >= text_.size()) return false;
    if (pos_ == 0 && text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // UTF-8 byte order mark
    record_line_ = line_;
    std::string field;
    for (;;) {
        if (pos_ < text_.size() && text_[pos_] == '"') {
            const size_t opened = line_;
            ++pos_;
            for (;;) {
                if (pos_ >= text_.size()) {
                    status = InvalidArgument(source_ + ":" + std::to_string(opened), "unterminated quoted field");
                    return false;
                }
                const char c = text_[pos_++];
                if (c == '"') {
                    if (pos_ < text_.size() && text_[pos_] == '"') {
                        field += '"';
                        ++pos_;
                        continue;
                    }
                    break;
                }
                if (c == '\n') ++line_;
                field += c;
            }
        }
        // Unquoted part (or text after a closing quote, kept as is: real exports have stray quotes).
        while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' && text_[pos_] != '\r') {
            field += text_[pos_++];
        }
        fields.push_back(std::move(field));
        field.clear();
        if (pos_ >= text_.size()) return true;
        const char c = text_[pos_++];
        if (c == ',') continue;
        if (c == '\r' && pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
        ++line_;
        return true;
    }
}

}  // namespace citybrain::incident
