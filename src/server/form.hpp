// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace citybrain::server {

using Params = std::vector<std::pair<std::string, std::string>>;

/// Decodes `application/x-www-form-urlencoded` text (a query string or a POST body): `+` is a space, `%XX` a
/// byte. A bad escape is an error naming the parameter. (Boost.URL would do this but arrives in Boost 1.81;
/// Debian 12 has 1.74.)
Result<Params> ParseForm(std::string_view text);

/// The first value of `key`, or nullptr.
const std::string* Find(const Params& params, std::string_view key);

}  // namespace citybrain::server
