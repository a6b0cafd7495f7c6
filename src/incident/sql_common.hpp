// SPDX-License-Identifier: Apache-2.0
// What the SQLite and PostgreSQL stores share: column lists and the text of statuses in SQL.
#pragma once

#include <string>

#include "incident/model.hpp"

namespace citybrain::incident::sql {

inline constexpr const char* kReportColumns =
    "id, idem_key, source, time_ms, received_ms, lat, lon, address, category, description, media_url, confidence, "
    "external_id, case_id, duplicate";
inline constexpr const char* kCaseColumns =
    "id, category, department, priority, lat, lon, address, grid_cell, description, status, created_ms, updated_ms, "
    "last_report_ms, deadline_ms, closed_ms, escalations, overdue, report_count, primary_report, merged_into";
inline constexpr const char* kEventColumns = "case_id, time_ms, actor, action, from_status, to_status, note";
/// Statuses that are out of the flow, as an SQL list.
inline constexpr const char* kClosedList = "('closed','evaluated','rejected','merged')";

}  // namespace citybrain::incident::sql
