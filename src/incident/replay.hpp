// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <map>
#include <string>
#include <vector>

#include "incident/engine.hpp"

namespace citybrain::incident {

struct ReplayOptions {
    double speedup = 0;   // 0 = as fast as possible; X = X seconds of data per wall second
    size_t batch = 1024;  // rows per transaction (reports with their cases' steps)
};

/// Duplicate detection measured against the weak labels of a 311 export: rows the city closed as "a duplicate
/// of" another complaint. The original may lie outside the sample, so recall is bounded by the sample.
struct DedupEval {
    int64_t labelled = 0;       // rows whose resolution says duplicate
    int64_t predicted = 0;      // rows the engine merged into an open case
    int64_t true_positive = 0;  // both
    double precision() const { return predicted ? double(true_positive) / double(predicted) : 0; }
    double recall() const { return labelled ? double(true_positive) / double(labelled) : 0; }
};

struct ReplayResult {
    std::string format;  // "nyc311" or "la311"
    int64_t rows = 0;
    int64_t reports = 0;
    int64_t rows_skipped = 0;  // already in the store from an earlier run (by their idempotency key)
    int64_t rows_rejected = 0;
    std::vector<std::string> rejected_examples;  // the first few, each naming the line and the field
    int64_t cases = 0;
    int64_t duplicates_merged = 0;
    std::map<std::string, int64_t> cases_per_department;
    std::map<std::string, int64_t> cases_per_category;
    int64_t closed = 0;          // cases closed by the export's Closed Date
    int64_t closed_in_time = 0;  // … before any deadline passed
    int64_t escalated = 0;       // cases that missed at least one step deadline
    int64_t open_at_end = 0;
    int64_t overdue_at_end = 0;
    int64_t closures_ignored = 0;  // Closed Date before Created Date (export noise)
    std::optional<double> median_close_s;
    bool has_labels = false;
    DedupEval dedup;
    std::map<std::string, DedupEval> dedup_by_category;  // the agencies label duplicates for some categories only
    TimeMs first_ms = 0;
    TimeMs last_ms = 0;
    double wall_s = 0;
};

/// Replays a 311-style CSV (NYC "311 Service Requests", MyLA311) through `engine` in time order: each row is a
/// report (hotline or citizen app by its channel), routed by the taxonomy's aliases for the complaint type; a
/// row's Closed Date closes its case (the 311 system files and dispatches on receipt). Bad rows are counted and
/// named, not guessed. A file without the needed columns is an error naming them.
Result<ReplayResult> ReplayCsv(const std::string& path, IncidentEngine& engine, const ReplayOptions& options);

/// The rows of a 311-style CSV as reports, in time order (what `ReplayCsv` feeds an engine), each with its stable
/// idempotency key; rows that cannot be read are counted, with the first few errors.
struct CsvReports {
    std::vector<Report> reports;
    size_t rows = 0, rejected = 0;
    std::vector<std::string> rejected_examples;
};
Result<CsvReports> ReadCsvReports(const std::string& path, const Taxonomy& taxonomy);

/// The first row's coordinates, to centre the engine's local frame on the replayed city.
Result<std::optional<std::pair<double, double>>> CsvOrigin(const std::string& path);

}  // namespace citybrain::incident
