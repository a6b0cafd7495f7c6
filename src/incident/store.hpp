// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "incident/model.hpp"

namespace citybrain::incident {

/// Everything one intake batch or one transition changed. Committed in one transaction: all or nothing.
struct WriteBatch {
    std::vector<Report> reports;  // new reports
    std::vector<Case> cases;      // new or changed cases (upsert by id)
    std::vector<Event> events;    // audit events to append
    bool empty() const { return reports.empty() && cases.empty() && events.empty(); }
};

struct CaseFilter {
    std::optional<CaseStatus> status;
    std::optional<bool> open;  // open = still in the flow
    std::string category;
    std::string department;
    std::string grid_cell;
    std::optional<TimeMs> since;  // created_ms >= since
    std::optional<TimeMs> until;  // created_ms < until
    bool overdue_only = false;
    int limit = 100;
    int offset = 0;
};

/// Open311 `GET requests` filters.
struct RequestFilter {
    std::vector<ReportId> ids;
    std::vector<std::string> service_codes;
    std::vector<std::string> idempotency_keys;  // as stored (a key's scope included)
    std::optional<TimeMs> since;
    std::optional<TimeMs> until;
    std::optional<bool> open;
    int limit = 1000;
};

/// A report with what Open311 shows of its case.
struct RequestView {
    Report report;
    CaseStatus case_status = CaseStatus::kReported;
    std::string department;
    TimeMs case_updated_ms = 0;
    TimeMs deadline_ms = 0;
    ReportId parent_report = 0;  // the case's first report when this one is a duplicate (Chicago-style)
};

struct Stats {
    int64_t reports = 0;
    int64_t duplicates = 0;
    int64_t cases = 0;
    int64_t open = 0;
    int64_t overdue = 0;
    int64_t escalated = 0;
    std::map<std::string, int64_t> open_per_department;
    std::map<std::string, int64_t> cases_per_status;
    std::optional<double> median_close_s;  // over closed and evaluated cases
};

/// The durable store behind the incident engine. SQLite (one WAL file) is the embedded default; PostgreSQL
/// serves several nodes. Writes come from one thread at a time (the engine serialises them); reads may come
/// from any thread concurrently with writes.
class Store {
public:
    virtual ~Store() = default;
    virtual const char* Kind() const = 0;

    /// Commits the whole batch or nothing; returns only once it is durable.
    virtual Status Commit(const WriteBatch& batch) = 0;

    /// Makes this store the only one that writes the database (or schema) it opened: from now on a commit through
    /// a store that claimed it earlier fails with Conflict, naming who took it over. A state that moves between
    /// nodes with a lease needs this (a fencing token): the lease says who should write, and the claim makes sure
    /// that a node which lost the lease without noticing (stalled, or cut off from the bus) cannot write anyway. A
    /// claim waits for the commits in progress, and a claimant loads the state after its claim. Returns the claim's
    /// number, larger than any before it.
    virtual Result<int64_t> ClaimWriter(const std::string& holder, TimeMs now) = 0;

    // Recovery after a restart.
    struct Counters {
        ReportId max_report = 0;
        CaseId max_case = 0;
    };
    virtual Result<Counters> MaxIds() = 0;
    virtual Result<std::vector<Case>> LoadOpenCases() = 0;
    /// Idempotency keys of the reports received within `window_ms` of the newest one.
    struct KeyEntry {
        std::string key;
        ReportId report = 0;
        CaseId case_id = 0;
        bool duplicate = false;
        TimeMs received_ms = 0;
    };
    virtual Result<std::vector<KeyEntry>> LoadIdempotencyKeys(TimeMs window_ms) = 0;

    // Reads.
    virtual Result<std::optional<Case>> GetCase(CaseId id) = 0;
    virtual Result<std::vector<Case>> ListCases(const CaseFilter& filter, TimeMs now) = 0;
    virtual Result<std::vector<Event>> CaseEvents(CaseId id) = 0;
    virtual Result<std::vector<Report>> CaseReports(CaseId id) = 0;
    virtual Result<std::vector<RequestView>> ListRequests(const RequestFilter& filter) = 0;
    virtual Result<Stats> ComputeStats(TimeMs now) = 0;
};

/// SQLite in WAL mode with synchronous=FULL: a commit has reached the disk before it returns. `durable = false`
/// (synchronous=OFF) is for scratch files only, such as a replay's working database.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, bool durable = true);

/// PostgreSQL through libpqxx; `url` is a libpq connection string. Creates its tables when missing, in `schema`
/// when one is given (created too: one database can hold many stores, such as a city's zones).
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url, const std::string& schema = "");

}  // namespace citybrain::incident
