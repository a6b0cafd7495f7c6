// SPDX-License-Identifier: Apache-2.0
#include "incident/replay.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <queue>
#include <thread>

#include "core/file.hpp"
#include "core/utf8.hpp"
#include "incident/csv.hpp"

namespace citybrain::incident {

namespace {

using core::AsciiLower;

/// Where each needed column sits; the NYC and LA exports name them differently.
struct Columns {
    std::string format;
    int id = -1, created = -1, closed = -1, type = -1, descriptor = -1, lat = -1, lon = -1, address = -1,
        resolution = -1, channel = -1;
};

Result<Columns> FindColumns(const std::vector<std::string>& header, const std::string& path) {
    Columns c;
    auto find = [&](std::initializer_list<const char*> names) {
        for (size_t i = 0; i < header.size(); ++i) {
            for (const char* n : names) {
                if (AsciiLower(header[i]) == n) return static_cast<int>(i);
            }
        }
        return -1;
    };
    c.id = find({"unique key", "srnumber"});
    c.created = find({"created date", "createddate"});
    c.closed = find({"closed date", "closeddate"});
    c.type = find({"complaint type", "requesttype"});
    c.descriptor = find({"descriptor"});
    c.lat = find({"latitude"});
    c.lon = find({"longitude"});
    c.address = find({"incident address", "address"});
    c.resolution = find({"resolution description"});
    c.channel = find({"open data channel type", "requestsource"});
    c.format = find({"unique key"}) >= 0 ? "nyc311" : "la311";
    std::string missing;
    if (c.id < 0) missing += " 'Unique Key'/'SRNumber'";
    if (c.created < 0) missing += " 'Created Date'/'CreatedDate'";
    if (c.type < 0) missing += " 'Complaint Type'/'RequestType'";
    if (c.lat < 0 && c.address < 0) missing += " 'Latitude'+'Longitude' or an address column";
    if (!missing.empty()) return InvalidArgument(path + ":1", "not a 311 export: missing column" + missing);
    return c;
}

Source ChannelToSource(const std::string& channel) {
    const std::string c = AsciiLower(channel);
    if (c == "phone" || c == "call" || c == "voicemail") return Source::kHotline;
    if (c == "driver self report" || c == "city attorney" || c == "council's office") return Source::kInspector;
    return Source::kCitizen;
}

struct Row {
    Report report;
    TimeMs closed_ms = 0;
    bool labelled_duplicate = false;
    size_t line = 0;
};

Result<std::optional<double>> ParseCoordinate(const std::string& text, const char* field, double limit) {
    if (text.empty()) return std::optional<double>();
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end != '\0' || !(v >= -limit && v <= limit)) {
        return InvalidArgument(field, "'" + text.substr(0, 32) + "' is not a coordinate");
    }
    return std::optional<double>(v);
}

Result<Row> ParseRow(const std::vector<std::string>& f,
                     const Columns& c,
                     const Taxonomy& taxonomy,
                     size_t line,
                     const std::string& path) {
    const std::string where = path + ":" + std::to_string(line);
    auto col = [&](int i) -> const std::string& {
        static const std::string kEmpty;
        return i >= 0 && static_cast<size_t>(i) < f.size() ? f[static_cast<size_t>(i)] : kEmpty;
    };
    auto fail = [&](const Error& e) { return InvalidArgument(where, e.ToString()); };
    Row row;
    row.line = line;
    Report& r = row.report;
    r.external_id = col(c.id);
    // Stable across runs of the same export, so that a replay run again after a crash adds nothing twice.
    r.idempotency_key =
        "replay:" + c.format + ":" + (r.external_id.empty() ? "line " + std::to_string(line) : r.external_id);
    r.source = ChannelToSource(col(c.channel));
    auto created = core::ParseTimestamp(col(c.created), c.format == "nyc311" ? "Created Date" : "CreatedDate");
    if (!created.ok()) return fail(created.error());
    r.time_ms = *created;
    if (!col(c.closed).empty()) {
        auto closed = core::ParseTimestamp(col(c.closed), c.format == "nyc311" ? "Closed Date" : "ClosedDate");
        if (!closed.ok()) return fail(closed.error());
        row.closed_ms = *closed;
    }
    auto lat = ParseCoordinate(col(c.lat), "Latitude", 90);
    if (!lat.ok()) return fail(lat.error());
    auto lon = ParseCoordinate(col(c.lon), "Longitude", 180);
    if (!lon.ok()) return fail(lon.error());
    // Exports write 0,0 for "unknown"; that is no location, not the Gulf of Guinea.
    if (lat->has_value() && lon->has_value() && **lat != 0 && **lon != 0) {
        r.lat = *lat;
        r.lon = *lon;
    }
    r.address = col(c.address);
    const std::string& type = col(c.type);
    r.category = taxonomy.FromAlias(type).code;
    r.description = col(c.descriptor).empty() ? type : type + ": " + col(c.descriptor);
    if (r.description.size() > kMaxDescriptionChars) r.description.resize(kMaxDescriptionChars);
    const std::string resolution = AsciiLower(col(c.resolution));
    row.labelled_duplicate =
        resolution.find("is a duplicate") != std::string::npos || resolution.find("duplicate of") != std::string::npos;
    if (Status s = ValidateReport(r, taxonomy); !s.ok()) return fail(s.error());
    return row;
}

/// Reads the header record and finds the export's columns in it.
Result<Columns> ReadHeader(CsvReader& reader, const std::string& path) {
    std::vector<std::string> fields;
    Status status;
    if (!reader.Next(fields, status)) {
        CB_TRY(status);
        return InvalidArgument(path, "empty file");
    }
    return FindColumns(fields, path);
}

}  // namespace

Result<std::optional<std::pair<double, double>>> CsvOrigin(const std::string& path) {
    CB_TRY_ASSIGN(std::string text, core::ReadFile(path));
    CsvReader reader(text, path);
    CB_TRY_ASSIGN(Columns c, ReadHeader(reader, path));
    std::vector<std::string> fields;
    Status status;
    while (reader.Next(fields, status)) {
        if (c.lat < 0 || c.lon < 0 || static_cast<size_t>(std::max(c.lat, c.lon)) >= fields.size()) continue;
        auto lat = ParseCoordinate(fields[static_cast<size_t>(c.lat)], "Latitude", 90);
        auto lon = ParseCoordinate(fields[static_cast<size_t>(c.lon)], "Longitude", 180);
        if (lat.ok() && lon.ok() && lat->has_value() && lon->has_value() && **lat != 0) {
            return std::optional<std::pair<double, double>>(std::make_pair(**lat, **lon));
        }
    }
    CB_TRY(status);
    return std::optional<std::pair<double, double>>();
}

/// An export's readable rows in the order they happened (exports come newest first), and what was refused.
struct ReadRows {
    Columns cols;
    std::vector<Row> rows;
    size_t read = 0, rejected = 0;
    std::vector<std::string> rejected_examples;  // the first few, each naming the line and the field
};

Result<ReadRows> ReadExport(const std::string& path, const Taxonomy& taxonomy) {
    CB_TRY_ASSIGN(std::string text, core::ReadFile(path));
    CsvReader reader(text, path);
    ReadRows out;
    CB_TRY_ASSIGN(out.cols, ReadHeader(reader, path));
    std::vector<std::string> fields;
    Status status;
    while (reader.Next(fields, status)) {
        ++out.read;
        auto row = ParseRow(fields, out.cols, taxonomy, reader.line(), path);
        if (!row.ok()) {
            ++out.rejected;
            if (out.rejected_examples.size() < 5) out.rejected_examples.push_back(row.error().ToString());
            continue;
        }
        out.rows.push_back(std::move(row).value());
    }
    CB_TRY(status);
    std::stable_sort(out.rows.begin(), out.rows.end(), [](const Row& a, const Row& b) {
        return a.report.time_ms < b.report.time_ms;
    });
    return out;
}

Result<CsvReports> ReadCsvReports(const std::string& path, const Taxonomy& taxonomy) {
    CB_TRY_ASSIGN(ReadRows read, ReadExport(path, taxonomy));
    CsvReports out;
    out.rows = read.read;
    out.rejected = read.rejected;
    out.rejected_examples = std::move(read.rejected_examples);
    out.reports.reserve(read.rows.size());
    for (Row& r : read.rows) out.reports.push_back(std::move(r.report));
    return out;
}

Result<ReplayResult> ReplayCsv(const std::string& path, IncidentEngine& engine, const ReplayOptions& options) {
    if (options.speedup < 0) return InvalidArgument("--speedup", "must be positive");
    const auto wall_start = std::chrono::steady_clock::now();
    CB_TRY_ASSIGN(ReadRows read, ReadExport(path, engine.taxonomy()));
    ReplayResult out;
    out.format = read.cols.format;
    out.has_labels = read.cols.resolution >= 0;
    out.rows = static_cast<int64_t>(read.read);
    out.rows_rejected = static_cast<int64_t>(read.rejected);
    out.rejected_examples = std::move(read.rejected_examples);
    std::vector<Row>& rows = read.rows;
    if (rows.empty()) return out;
    out.first_ms = rows.front().report.time_ms;
    out.last_ms = rows.back().report.time_ms;

    using Pending = std::pair<TimeMs, CaseId>;
    std::priority_queue<Pending, std::vector<Pending>, std::greater<>> closures;
    const std::string actor = "replay:" + out.format;
    auto apply_closures = [&](TimeMs until) -> Status {
        while (!closures.empty() && closures.top().first <= until) {
            const auto [when, id] = closures.top();
            closures.pop();
            auto ticked = engine.Tick(when);
            if (!ticked.ok()) return ticked.error();
            auto handled = engine.Apply(id, Action::kFeedback, actor, "closed in the export", when);
            if (!handled.ok()) continue;  // merged or closed meanwhile
            CB_TRY_ASSIGN(Case closed, engine.Apply(id, Action::kClose, actor, "closed in the export", when));
            ++out.closed;
            if (closed.escalations == 0) ++out.closed_in_time;
        }
        return {};
    };
    // Writes are held and committed every `batch` rows (and at the end): one transaction instead of one per
    // step. Paced replays (--speedup) commit each batch as it comes, as a live feed would.
    size_t held_rows = 0;
    const auto flush = [&]() -> Status {
        CB_TRY(engine.Flush());
        held_rows = 0;
        engine.Hold();
        return {};
    };
    engine.Hold();
    struct Unhold {
        IncidentEngine& engine;
        ~Unhold() { (void)engine.Flush(); }  // an early error return: what was held so far still lands
    } unhold{engine};
    const auto pace_start = std::chrono::steady_clock::now();
    size_t i = 0;
    while (i < rows.size()) {
        const TimeMs t = rows[i].report.time_ms;
        CB_TRY(apply_closures(t));
        {
            auto ticked = engine.Tick(t);
            if (!ticked.ok()) return ticked.error();
        }
        if (options.speedup > 0) {
            const auto due =
                pace_start + std::chrono::duration<double>(double(t - out.first_ms) / 1000.0 / options.speedup);
            std::this_thread::sleep_until(due);
        }
        // A batch ends before the next closure, pending or of a row already in the batch (that row may open a
        // case), so no report can join a case that was closed before it came: batching never changes the outcome.
        size_t end = i;
        TimeMs stop = closures.empty() ? std::numeric_limits<TimeMs>::max() : closures.top().first;
        std::vector<Report> batch;
        while (end < rows.size() && batch.size() < options.batch && rows[end].report.time_ms < stop &&
               (options.speedup <= 0 || rows[end].report.time_ms == t)) {
            batch.push_back(rows[end].report);
            if (rows[end].closed_ms > rows[end].report.time_ms) stop = std::min(stop, rows[end].closed_ms);
            ++end;
        }
        if (batch.empty()) {  // the next closure is due at exactly this report's time
            batch.push_back(rows[end].report);
            ++end;
        }
        auto results = engine.Ingest(std::move(batch), rows[end - 1].report.time_ms);
        for (size_t k = 0; k < results.size(); ++k) {
            const Row& row = rows[i + k];
            if (!results[k].ok()) return results[k].error();  // validated already: this is the store failing
            const Receipt& rec = *results[k];
            if (rec.retried) {
                // Stored by an earlier run that stopped part-way. Its closure may not have landed: schedule it
                // again (a case already closed refuses it, and is skipped).
                ++out.rows_skipped;
                if (!rec.duplicate && row.closed_ms > row.report.time_ms) closures.emplace(row.closed_ms, rec.case_id);
                continue;
            }
            ++out.reports;
            if (rec.duplicate) {
                ++out.duplicates_merged;
            } else {
                ++out.cases;
                ++out.cases_per_department[rec.department];
                ++out.cases_per_category[rec.category];
                // The 311 system routes a request to its agency on receipt.
                CB_TRY_ASSIGN(Case filed, engine.Apply(rec.case_id, Action::kFile, actor, "", row.report.time_ms));
                CB_TRY_ASSIGN(Case sent,
                              engine.Apply(rec.case_id, Action::kDispatch, actor, rec.department, row.report.time_ms));
                (void)filed;
                (void)sent;
                if (row.closed_ms > row.report.time_ms) {
                    closures.emplace(row.closed_ms, rec.case_id);
                } else if (row.closed_ms != 0) {
                    ++out.closures_ignored;
                }
            }
            if (out.has_labels) {
                for (DedupEval* e : {&out.dedup, &out.dedup_by_category[rec.category]}) {
                    e->labelled += row.labelled_duplicate ? 1 : 0;
                    e->predicted += rec.duplicate ? 1 : 0;
                    e->true_positive += (rec.duplicate && row.labelled_duplicate) ? 1 : 0;
                }
            }
        }
        held_rows += results.size();
        if (held_rows >= options.batch || options.speedup > 0) CB_TRY(flush());
        i = end;
    }
    // The export ends at its last report: closures after that are outside what it shows.
    CB_TRY(apply_closures(out.last_ms));
    {
        auto ticked = engine.Tick(out.last_ms);
        if (!ticked.ok()) return ticked.error();
    }
    CB_TRY(engine.Flush());
    CB_TRY_ASSIGN(Stats stats, engine.ComputeStats(out.last_ms));
    out.escalated = stats.escalated;
    out.open_at_end = stats.open;
    out.overdue_at_end = stats.overdue;
    out.median_close_s = stats.median_close_s;
    out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    return out;
}

}  // namespace citybrain::incident
