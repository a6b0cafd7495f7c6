// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/geometry.hpp"
#include "incident/store.hpp"
#include "incident/taxonomy.hpp"

namespace citybrain::incident {

/// What the brain answers when it acknowledges a report.
struct Receipt {
    ReportId report_id = 0;
    CaseId case_id = 0;
    bool duplicate = false;   // joined an open case
    bool retried = false;     // the idempotency key was seen before: nothing new was stored
    bool classified = false;  // it came without a category and intake chose one from its text
    std::string category;
    std::string department;
    TimeMs deadline_ms = 0;
};

struct EngineOptions {
    /// How long an idempotency key is remembered (Stripe keeps keys 24 h too); a retry after that is a new report.
    TimeMs idempotency_window_ms = 24LL * 3600 * 1000;
    /// Local frame origin for distances and grid cells; the taxonomy's origin when not set.
    std::optional<std::pair<double, double>> origin;
    /// Classifies a report that arrives without a category but with a description: returns a service code, or ""
    /// when unsure. Unset, or unsure, the taxonomy's keywords decide; with no keyword either, the fallback category.
    /// (A fastText model from `src/nlp` plugs in here; the incident engine does not depend on it.)
    std::function<std::string(const Report&)> classify;
    /// The top `k` guesses at a text's category, best first, for the operator who must decide (the human queue).
    /// Unset, the taxonomy's keywords rank the categories. Set it together with `classify`, from the same model.
    std::function<std::vector<CategoryGuess>(std::string_view text, size_t k)> rank;
    /// Places a report that arrives without coordinates (a citizen's message naming a junction or a landmark):
    /// sets lat, lon and the address (the place's name); false when it cannot. Runs before validation, so a message
    /// that names a known place needs no address of its own. (The gazetteer of `src/nlp` plugs in here.)
    std::function<bool(Report&)> locate;
    /// Names the place of a report that has coordinates but no address (a camera's or a sensor's): sets the
    /// address to a junction, landmark or street name, so that a case never shows only a device's id.
    std::function<void(Report&)> name_place;
    /// The priority of a new case from its first report, given the category's: danger words in a citizen's text
    /// raise it (a missing manhole cover near a school). Unset, the category's priority stands.
    std::function<int(const Report&, int category_priority)> assess;
    /// Keep a feed of case changes for DrainChanges (the brain's dispatcher follows it). Off by default, so
    /// that a server nobody drains does not grow it.
    bool change_feed = false;
};

/// One change to a case, in commit order: what the brain's dispatcher follows instead of keeping copies.
struct CaseChange {
    enum class What : uint8_t { kCreated, kJoined, kTransition, kEscalated };
    CaseId case_id = 0;
    What what = What::kCreated;
    CaseStatus status = CaseStatus::kReported;  // after the change
    // kCreated and kJoined: the report's source and confidence, and whether intake chose its category.
    Source source = Source::kCitizen;
    double confidence = 1;
    bool classified = false;
    // kTransition: the step that ended had a deadline and ended after it.
    bool late = false;
};

/// A case with its reports and events, read as one snapshot (no commit lands between the three reads).
struct CaseDetail {
    Case c;
    std::vector<Report> reports;
    std::vector<Event> events;
};

/// Limits at the edge (Open311's description limit is 4,000 characters).
inline constexpr size_t kMaxDescriptionChars = 4000;
inline constexpr size_t kMaxFieldBytes = 2048;

/// Checks one report; the error's `where` is the Open311 field name (lat, long, address_string, service_code, …).
Status ValidateReport(const Report& report, const Taxonomy& taxonomy);

/// The incident engine's facade: intake → route → de-duplicate → lifecycle → deadlines, persisted in a Store.
/// Open cases live in memory (the de-duplication index and deadline heap); everything is in the store, which is
/// the truth after a restart. Thread-safe: writers are serialised; reads go straight to the store.
class IncidentEngine {
public:
    static Result<std::unique_ptr<IncidentEngine>> Open(std::unique_ptr<Store> store,
                                                        const Taxonomy& taxonomy,
                                                        EngineOptions options = {});

    /// Ingests a batch in one transaction. The i-th result belongs to the i-th report: a receipt, or the error
    /// that names the bad field. When the commit fails, every report of the batch gets that error and nothing
    /// of it is kept, in the store or in memory.
    std::vector<Result<Receipt>> Ingest(std::vector<Report> reports, TimeMs now);

    /// One lifecycle step on a case by `actor`; kMerge needs `merge_into`. Illegal steps return kConflict. `via`
    /// names the API key the step came through (recorded on its events). `category`, only when filing a reported
    /// case: the category an operator confirmed; the case takes its department, priority and step limits, and the
    /// event's note records the change.
    Result<Case> Apply(CaseId id,
                       Action action,
                       const std::string& actor,
                       const std::string& note,
                       TimeMs now,
                       CaseId merge_into = 0,
                       const std::string& via = {},
                       const std::string& category = {});

    /// The classifier's top `k` guesses at a case's category from its text (`EngineOptions::rank`).
    std::vector<CategoryGuess> Guesses(std::string_view text, size_t k = 3) const;

    /// Holds the writes of Ingest, Apply and Tick in memory until Flush, which commits them as one transaction:
    /// for bulk loads (a replay), where a commit per step would dominate. Until the flush nothing held is
    /// durable, so a bulk load keys its reports (idempotency) to rerun after a crash. A failed flush drops what
    /// was held and reloads the engine from the store.
    void Hold();
    /// Commits what is held (if anything) and stops holding.
    Status Flush();

    /// Escalates every open case whose current deadline has passed (flag, priority up one level, event).
    /// Returns how many were escalated.
    Result<int> Tick(TimeMs now);

    // Reads. The store answers them; the engine is the only way in (nobody else holds the Store).
    const char* StoreKind() const { return store_->Kind(); }
    Result<std::optional<Case>> GetCase(CaseId id) const { return store_->GetCase(id); }
    Result<std::optional<CaseDetail>> GetCaseDetail(CaseId id) const;
    Result<std::vector<Case>> ListCases(const CaseFilter& filter, TimeMs now) const {
        return store_->ListCases(filter, now);
    }
    Result<std::vector<RequestView>> ListRequests(const RequestFilter& filter) const {
        return store_->ListRequests(filter);
    }
    Result<Stats> ComputeStats(TimeMs now) const { return store_->ComputeStats(now); }
    /// An open case as the engine holds it now (no store query); nullopt once it left the flow.
    std::optional<Case> OpenCase(CaseId id) const;
    /// Whether a report with this idempotency key was committed within the idempotency window (its repeat would
    /// be answered with the first report, not applied again).
    bool KnowsKey(const std::string& key) const;
    /// The open cases in `status`, by id.
    std::vector<Case> OpenCasesIn(CaseStatus status) const;
    /// Moves the changes since the last call into `out` (cleared first); empty unless options.change_feed.
    void DrainChanges(std::vector<CaseChange>& out);

    const Taxonomy& taxonomy() const { return taxonomy_; }
    size_t open_cases() const;
    /// The grid cell (网格) of a point, e.g. "G3_-2": cells of the taxonomy's grid_cell_m from its origin.
    std::string GridCell(double lat, double lon) const;

private:
    IncidentEngine(std::unique_ptr<Store> store, const Taxonomy& taxonomy, EngineOptions options);
    Status Reload();
    Status EnsureFresh();
    Case* FindDuplicate(const Report& report, const Category& category, const core::Point& at);
    void IndexCase(const Case& c);
    void UnindexCase(const Case& c);
    uint64_t CellKey(size_t category_index, int64_t cx, int64_t cy) const;
    std::string AddressKey(const std::string& category, const std::string& address) const;
    void ForgetOldKeys(TimeMs now);
    /// Commits `batch`, or adds it to the held batch while holding.
    Status Write(WriteBatch& batch);

    std::unique_ptr<Store> store_;
    const Taxonomy& taxonomy_;
    EngineOptions options_;
    core::LocalFrame frame_;
    mutable std::mutex mu_;
    bool stale_ = false;  // a failed commit could not be undone in memory: reload before the next write
    bool holding_ = false;
    WriteBatch held_;
    std::unordered_map<CaseId, size_t> held_case_;  // a case's row in held_.cases (the newest version wins)
    ReportId next_report_ = 1;
    CaseId next_case_ = 1;

    std::unordered_map<CaseId, Case> open_;
    struct Indexed {
        CaseId id;
        core::Point at;
    };
    std::unordered_map<uint64_t, std::vector<Indexed>> cells_;         // (category, 100 m cell) → open cases
    std::unordered_map<std::string, std::vector<CaseId>> by_address_;  // address-only cases
    std::unordered_map<std::string, Store::KeyEntry> keys_;
    std::deque<std::pair<TimeMs, std::string>> key_order_;
    std::priority_queue<std::pair<TimeMs, CaseId>, std::vector<std::pair<TimeMs, CaseId>>, std::greater<>> deadlines_;
    std::vector<CaseChange> changes_;
};

/// Group commit in front of the engine: producers (HTTP handlers, sensor feeds) submit reports with a callback;
/// one writer thread takes everything queued, ingests it as one transaction (one fsync) and then calls back.
/// Under load batches grow by themselves, so throughput rises while each report waits at most one commit.
class IntakeQueue {
public:
    using Callback = std::function<void(Result<Receipt>)>;

    /// `clock` stamps each batch's receipt time: the wall clock by default, the simulated clock under `run`.
    explicit IntakeQueue(IncidentEngine& engine, size_t max_batch = 4096, std::function<TimeMs()> clock = core::NowMs);
    ~IntakeQueue();
    IntakeQueue(const IntakeQueue&) = delete;
    IntakeQueue& operator=(const IntakeQueue&) = delete;

    void Submit(Report report, Callback done);
    /// Finishes what is queued, then stops the writer.
    void Stop();
    uint64_t batches() const { return batches_; }

private:
    void Run();

    IncidentEngine& engine_;
    size_t max_batch_;
    std::function<TimeMs()> clock_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<Report, Callback>> queue_;
    bool stopping_ = false;
    std::atomic<uint64_t> batches_{0};
    std::thread writer_;
};

}  // namespace citybrain::incident
