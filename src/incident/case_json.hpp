// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <nlohmann/json.hpp>

#include "incident/model.hpp"
#include "incident/taxonomy.hpp"

namespace citybrain::incident {

/// The one JSON shape of a case: what `/api/v1/cases` returns and what the console's live feed carries. `now`
/// decides `overdue`.
nlohmann::json CaseJson(const Case& c, const Taxonomy& taxonomy, TimeMs now);

}  // namespace citybrain::incident
