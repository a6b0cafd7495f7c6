// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <nlohmann/json.hpp>

#include "incident/model.hpp"
#include "incident/taxonomy.hpp"

namespace citybrain::incident {

/// The one JSON shape of a case: what `/api/v1/cases` returns and what the console's live feed carries. `now`
/// decides `overdue`.
nlohmann::json CaseJson(const Case& c, const Taxonomy& taxonomy, TimeMs now);

/// A classifier's guesses, best first: `[{"category", "category_name", "confidence"}]`.
nlohmann::json GuessesJson(const std::vector<CategoryGuess>& guesses, const Taxonomy& taxonomy);

}  // namespace citybrain::incident
