// SPDX-License-Identifier: Apache-2.0
#include "incident/case_json.hpp"

#include <cmath>

namespace citybrain::incident {

namespace {

using json = nlohmann::json;

json Time(TimeMs t) { return t > 0 ? json(core::FormatTimestamp(t)) : json(nullptr); }

}  // namespace

json CaseJson(const Case& c, const Taxonomy& taxonomy, TimeMs now) {
    const Category* cat = taxonomy.Find(c.category);
    const Department* dep = taxonomy.FindDepartment(c.department);
    return {{"id", c.id},
            {"category", c.category},
            {"category_name", cat ? cat->name : c.category},
            {"department", c.department},
            {"department_name", dep ? dep->name : c.department},
            {"priority", c.priority},
            {"status", StatusName(c.status)},
            {"lat", c.lat ? json(*c.lat) : json(nullptr)},
            {"long", c.lon ? json(*c.lon) : json(nullptr)},
            {"address", c.address},
            // Where, as a person says it: the junction, landmark or street (never a device's id).
            {"place", c.address.empty() ? json(nullptr) : json(c.address)},
            {"grid_cell", c.grid_cell},
            {"description", c.description},
            {"created", Time(c.created_ms)},
            {"updated", Time(c.updated_ms)},
            {"deadline", Time(c.deadline_ms)},
            {"closed", Time(c.closed_ms)},
            {"overdue", IsOpen(c.status) && c.deadline_ms > 0 && c.deadline_ms < now},
            {"escalations", c.escalations},
            {"report_count", c.report_count},
            {"primary_report", c.primary_report},
            {"merged_into", c.merged_into ? json(c.merged_into) : json(nullptr)}};
}

json GuessesJson(const std::vector<CategoryGuess>& guesses, const Taxonomy& taxonomy) {
    json out = json::array();
    for (const CategoryGuess& g : guesses) {
        const Category* cat = taxonomy.Find(g.category);
        out.push_back({{"category", g.category},
                       {"category_name", cat ? cat->name : g.category},
                       {"confidence", std::round(g.confidence * 1000) / 1000}});
    }
    return out;
}

}  // namespace citybrain::incident
