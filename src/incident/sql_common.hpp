// SPDX-License-Identifier: Apache-2.0
// What the SQLite and PostgreSQL stores share: column lists and the text of statuses in SQL.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "incident/model.hpp"
#include "incident/store.hpp"

namespace citybrain::incident::sql {

inline constexpr const char* kReportColumns =
    "id, idem_key, source, time_ms, received_ms, lat, lon, address, category, description, media_url, confidence, "
    "external_id, case_id, duplicate, address_id, via";
/// Columns of a report row, where a request row's case columns begin.
inline constexpr int kReportFields = 17;
inline constexpr const char* kCaseColumns =
    "id, category, department, priority, lat, lon, address, grid_cell, description, status, created_ms, updated_ms, "
    "last_report_ms, deadline_ms, closed_ms, escalations, overdue, report_count, primary_report, merged_into";
/// What a later write of a case replaces (all but its identity, place, text and creation).
inline constexpr const char* kCaseUpsert =
    " ON CONFLICT(id) DO UPDATE SET category=excluded.category, department=excluded.department, "
    "priority=excluded.priority, status=excluded.status, updated_ms=excluded.updated_ms, "
    "last_report_ms=excluded.last_report_ms, deadline_ms=excluded.deadline_ms, closed_ms=excluded.closed_ms, "
    "escalations=excluded.escalations, overdue=excluded.overdue, report_count=excluded.report_count, "
    "merged_into=excluded.merged_into";
inline constexpr const char* kEventColumns = "case_id, time_ms, actor, action, from_status, to_status, note, via";
/// Statuses that are out of the flow, as an SQL list.
inline constexpr const char* kClosedList = "('closed','evaluated','rejected','merged')";

/// Who may write (`Store::ClaimWriter`): one row, whose epoch each claim raises.
inline constexpr const char* kWriterTable =
    "CREATE TABLE IF NOT EXISTS writer (one INTEGER PRIMARY KEY CHECK (one = 1), epoch BIGINT NOT NULL, "
    "holder TEXT NOT NULL, since_ms BIGINT NOT NULL)";
/// A claim: the first makes epoch 1, each later one the next.
inline constexpr const char* kClaimWriter =
    "INSERT INTO writer(one, epoch, holder, since_ms) VALUES(1, 1, $1, $2) ON CONFLICT(one) DO UPDATE SET "
    "epoch = writer.epoch + 1, holder = excluded.holder, since_ms = excluded.since_ms RETURNING epoch";

/// A commit by a store whose claim (`mine`) a later one (`epoch`, by `holder`) replaced.
inline Error Fenced(int64_t mine, int64_t epoch, const std::string& holder) {
    return Error{ErrorCode::kConflict,
                 "fenced: " + holder + " took over this store (claim " + std::to_string(epoch) +
                     ") after this writer's claim " + std::to_string(mine) + "; nothing was written",
                 "store"};
}

/// Open311 requests: a report's columns, then its case's status, department, updated, deadline, first report.
inline constexpr const char* kRequestSelect =
    "SELECT r.id, r.idem_key, r.source, r.time_ms, r.received_ms, r.lat, r.lon, r.address, "
    "r.category, r.description, r.media_url, r.confidence, r.external_id, r.case_id, r.duplicate, r.address_id, r.via, "
    "c.status, c.department, c.updated_ms, c.deadline_ms, c.primary_report "
    "FROM reports r JOIN cases c ON c.id = r.case_id WHERE 1=1";

/// Columns added after the first release, with their definition: a store opened on an older file adds them.
struct AddedColumn {
    const char* table;
    const char* column;
    const char* definition;
};
inline constexpr AddedColumn kAddedColumns[] = {
    {"reports", "address_id", "TEXT NOT NULL DEFAULT ''"},
    {"reports", "via", "TEXT NOT NULL DEFAULT ''"},
    {"events", "via", "TEXT NOT NULL DEFAULT ''"},
};

/// What every store refuses alike: PostgreSQL cannot keep a NUL character in text, so neither store takes one
/// (SQLite would, and the two must not differ). Names the field.
inline Status CheckStorable(const WriteBatch& batch) {
    const auto nul = [](const std::string& s) { return s.find('\0') != std::string::npos; };
    const auto refuse = [](const char* field) {
        return InvalidArgument(field, "contains a NUL character (U+0000), which the store does not keep");
    };
    for (const Report& r : batch.reports) {
        if (nul(r.idempotency_key)) return refuse("idempotency_key");
        if (nul(r.address)) return refuse("address_string");
        if (nul(r.address_id)) return refuse("address_id");
        if (nul(r.category)) return refuse("service_code");
        if (nul(r.description)) return refuse("description");
        if (nul(r.media_url)) return refuse("media_url");
        if (nul(r.external_id)) return refuse("external_id");
        if (nul(r.via)) return refuse("via");
    }
    for (const Case& c : batch.cases) {
        if (nul(c.address)) return refuse("address");
        if (nul(c.description)) return refuse("description");
        if (nul(c.category) || nul(c.department) || nul(c.grid_cell)) return refuse("case");
    }
    for (const Event& e : batch.events) {
        if (nul(e.actor)) return refuse("actor");
        if (nul(e.note)) return refuse("note");
        if (nul(e.via)) return refuse("via");
    }
    return {};
}

// Names the store wrote itself; a row it cannot read back falls to the first value rather than failing a read.
inline Source StoredSource(std::string_view text) {
    auto v = ParseSource(text);
    return v.ok() ? *v : Source::kCitizen;
}
inline CaseStatus StoredStatus(std::string_view text) {
    auto v = ParseStatus(text);
    return v.ok() ? *v : CaseStatus::kReported;
}
inline Action StoredAction(std::string_view text) {
    auto v = ParseAction(text);
    return v.ok() ? *v : Action::kFile;
}

/// The parent Open311 shows for a report: its case's first report, when this one joined the case later.
inline ReportId ParentReport(const Report& r, ReportId case_primary) {
    return r.duplicate && case_primary != r.id ? case_primary : 0;
}

/// Adds one row of `SELECT status, department, COUNT(*), overdue, escalated … GROUP BY status, department`.
inline void AddCaseGroup(Stats& out,
                         const std::string& status,
                         const std::string& department,
                         int64_t n,
                         int64_t overdue,
                         int64_t escalated) {
    out.cases += n;
    out.cases_per_status[status] += n;
    out.escalated += escalated;
    auto parsed = ParseStatus(status);
    if (parsed.ok() && IsOpen(*parsed)) {
        out.open += n;
        out.open_per_department[department] += n;
        out.overdue += overdue;
    }
}

}  // namespace citybrain::incident::sql
