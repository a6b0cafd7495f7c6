// SPDX-License-Identifier: Apache-2.0
#include "incident/engine.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "core/utf8.hpp"

namespace citybrain::incident {

namespace {

using core::Utf8Length;
using core::ValidUtf8;

constexpr double kIndexCellM = 100;  // spatial hash cell; a query scans ceil(R / cell) rings

std::string NormaliseAddress(const std::string& address) {
    std::string out;
    bool space = false;
    for (char ch : address) {
        const auto c = static_cast<unsigned char>(ch);
        if (std::isspace(c) || c == ',') {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += static_cast<char>(std::tolower(c));
    }
    return out;
}

/// Where a report without coordinates is: its address, or else the caller's address_id (so that two reports
/// naming the same address_id are the same place, and two naming none are not).
std::string PlaceText(const Report& r) {
    if (!r.address.empty() || r.address_id.empty()) return r.address;
    return "address_id " + r.address_id;
}

Status CheckText(const std::string& value, const char* field, size_t max_bytes) {
    if (value.size() > max_bytes) {
        return InvalidArgument(field, "longer than " + std::to_string(max_bytes) + " bytes");
    }
    if (!ValidUtf8(value)) return InvalidArgument(field, "is not valid UTF-8");
    // PostgreSQL cannot keep a NUL in text; refused here so that every store behaves the same.
    if (value.find('\0') != std::string::npos) return InvalidArgument(field, "contains a NUL character (U+0000)");
    return {};
}

}  // namespace

Status ValidateReport(const Report& r, const Taxonomy& taxonomy) {
    if (r.lat.has_value() != r.lon.has_value()) {
        return InvalidArgument(r.lat ? "long" : "lat", "lat and long must be given together");
    }
    if (r.lat) {
        if (!std::isfinite(*r.lat) || *r.lat < -90 || *r.lat > 90)
            return InvalidArgument("lat", "must be within [-90, 90]");
        if (!std::isfinite(*r.lon) || *r.lon < -180 || *r.lon > 180) {
            return InvalidArgument("long", "must be within [-180, 180]");
        }
    } else if (r.address.empty() && r.address_id.empty()) {
        return InvalidArgument("lat", "a location is required: lat and long, address_string or address_id");
    }
    if (!r.category.empty() && taxonomy.Find(r.category) == nullptr) {
        return InvalidArgument("service_code", "unknown service code '" + core::Utf8Prefix(r.category, 64) + "'");
    }
    CB_TRY(CheckText(r.description, "description", 4 * kMaxDescriptionChars));
    if (Utf8Length(r.description) > kMaxDescriptionChars) {
        return InvalidArgument("description", "longer than " + std::to_string(kMaxDescriptionChars) + " characters");
    }
    CB_TRY(CheckText(r.address, "address_string", kMaxFieldBytes));
    CB_TRY(CheckText(r.address_id, "address_id", 256));
    CB_TRY(CheckText(r.media_url, "media_url", kMaxFieldBytes));
    // 256 bytes of the client's key behind up to 64 of its API key's name (server::Stamp).
    CB_TRY(CheckText(r.idempotency_key, "idempotency_key", 384));
    CB_TRY(CheckText(r.external_id, "external_id", 256));
    if (!std::isfinite(r.confidence) || r.confidence < 0 || r.confidence > 1) {
        return InvalidArgument("confidence", "must be within [0, 1]");
    }
    if (r.time_ms < 0) return InvalidArgument("requested_datetime", "before 1970");
    return {};
}

IncidentEngine::IncidentEngine(std::unique_ptr<Store> store, const Taxonomy& taxonomy, EngineOptions options)
    : store_(std::move(store)),
      taxonomy_(taxonomy),
      options_(std::move(options)),
      // options_ is declared (so initialised) before frame_.
      frame_(options_.origin ? options_.origin->first : taxonomy.origin_lat(),
             options_.origin ? options_.origin->second : taxonomy.origin_lon()) {}

Result<std::unique_ptr<IncidentEngine>> IncidentEngine::Open(std::unique_ptr<Store> store,
                                                             const Taxonomy& taxonomy,
                                                             EngineOptions options) {
    std::unique_ptr<IncidentEngine> engine(new IncidentEngine(std::move(store), taxonomy, std::move(options)));
    std::lock_guard lock(engine->mu_);
    CB_TRY(engine->Reload());
    return engine;
}

Status IncidentEngine::Reload() {
    open_.clear();
    cells_.clear();
    by_address_.clear();
    keys_.clear();
    key_order_.clear();
    deadlines_ = {};
    CB_TRY_ASSIGN(Store::Counters ids, store_->MaxIds());
    next_report_ = ids.max_report + 1;
    next_case_ = ids.max_case + 1;
    CB_TRY_ASSIGN(std::vector<Case> open, store_->LoadOpenCases());
    for (Case& c : open) {
        IndexCase(c);
        if (c.deadline_ms > 0 && !c.overdue) deadlines_.emplace(c.deadline_ms, c.id);
        open_.emplace(c.id, std::move(c));
    }
    // The window is measured back from the newest report stored, not from the wall clock: a replay's clock may
    // be years from now.
    CB_TRY_ASSIGN(std::vector<Store::KeyEntry> keys, store_->LoadIdempotencyKeys(options_.idempotency_window_ms));
    for (auto& k : keys) {
        key_order_.emplace_back(k.received_ms, k.key);
        keys_[k.key] = std::move(k);
    }
    return {};
}

Status IncidentEngine::Write(WriteBatch& batch) {
    if (!holding_) return store_->Commit(batch);
    for (Report& r : batch.reports) held_.reports.push_back(std::move(r));
    for (Case& c : batch.cases) {
        auto [it, fresh] = held_case_.try_emplace(c.id, held_.cases.size());
        if (fresh) {
            held_.cases.push_back(std::move(c));
        } else {
            held_.cases[it->second] = std::move(c);
        }
    }
    for (Event& e : batch.events) held_.events.push_back(std::move(e));
    return {};
}

void IncidentEngine::Hold() {
    std::lock_guard lock(mu_);
    holding_ = true;
}

Status IncidentEngine::Flush() {
    std::lock_guard lock(mu_);
    holding_ = false;
    WriteBatch batch = std::move(held_);
    held_ = {};
    held_case_.clear();
    if (batch.empty()) return {};
    if (Status s = store_->Commit(batch); !s.ok()) {
        stale_ = !Reload().ok();
        changes_.clear();
        return s;
    }
    return {};
}

Status IncidentEngine::EnsureFresh() {
    if (!stale_) return {};
    CB_TRY(Reload());
    stale_ = false;
    return {};
}

size_t IncidentEngine::open_cases() const {
    std::lock_guard lock(mu_);
    return open_.size();
}

std::string IncidentEngine::GridCell(double lat, double lon) const {
    const core::Point p = frame_.ToLocal(lat, lon);
    const double size = taxonomy_.grid_cell_m();
    return "G" + std::to_string(static_cast<int64_t>(std::floor(p.x / size))) + "_" +
           std::to_string(static_cast<int64_t>(std::floor(p.y / size)));
}

uint64_t IncidentEngine::CellKey(size_t category_index, int64_t cx, int64_t cy) const {
    // 16 bits of category, 24 bits per axis: ±838 km at 100 m cells, far beyond any district.
    const auto ux = static_cast<uint64_t>(cx + (1 << 23)) & 0xFFFFFF;
    const auto uy = static_cast<uint64_t>(cy + (1 << 23)) & 0xFFFFFF;
    return (static_cast<uint64_t>(category_index) << 48) | (ux << 24) | uy;
}

std::string IncidentEngine::AddressKey(const std::string& category, const std::string& address) const {
    return category + '\x1f' + NormaliseAddress(address);
}

void IncidentEngine::IndexCase(const Case& c) {
    const Category* cat = taxonomy_.Find(c.category);
    if (cat == nullptr || cat->dedup_radius_m <= 0) return;
    if (c.lat) {
        const core::Point p = frame_.ToLocal(*c.lat, *c.lon);
        const auto index = static_cast<size_t>(cat - taxonomy_.categories().data());
        cells_[CellKey(index,
                       static_cast<int64_t>(std::floor(p.x / kIndexCellM)),
                       static_cast<int64_t>(std::floor(p.y / kIndexCellM)))]
            .push_back({c.id, p});
    } else {
        by_address_[AddressKey(c.category, c.address)].push_back(c.id);
    }
}

void IncidentEngine::UnindexCase(const Case& c) {
    const Category* cat = taxonomy_.Find(c.category);
    if (cat == nullptr || cat->dedup_radius_m <= 0) return;
    if (c.lat) {
        const core::Point p = frame_.ToLocal(*c.lat, *c.lon);
        const auto index = static_cast<size_t>(cat - taxonomy_.categories().data());
        auto it = cells_.find(CellKey(index,
                                      static_cast<int64_t>(std::floor(p.x / kIndexCellM)),
                                      static_cast<int64_t>(std::floor(p.y / kIndexCellM))));
        if (it == cells_.end()) return;
        std::erase_if(it->second, [&](const Indexed& e) { return e.id == c.id; });
        if (it->second.empty()) cells_.erase(it);
    } else {
        auto it = by_address_.find(AddressKey(c.category, c.address));
        if (it == by_address_.end()) return;
        std::erase(it->second, c.id);
        if (it->second.empty()) by_address_.erase(it);
    }
}

Case* IncidentEngine::FindDuplicate(const Report& r, const Category& cat, const core::Point& at) {
    if (cat.dedup_radius_m <= 0) return nullptr;
    auto in_window = [&](const Case& c) {
        return r.time_ms >= c.created_ms - cat.dedup_window_ms && r.time_ms <= c.last_report_ms + cat.dedup_window_ms;
    };
    Case* best = nullptr;
    if (!r.lat) {
        auto it = by_address_.find(AddressKey(cat.code, PlaceText(r)));
        if (it == by_address_.end()) return nullptr;
        for (CaseId id : it->second) {
            Case& c = open_.at(id);
            if (in_window(c) && (best == nullptr || c.last_report_ms > best->last_report_ms)) best = &c;
        }
        return best;
    }
    const auto index = static_cast<size_t>(&cat - taxonomy_.categories().data());
    const auto cx = static_cast<int64_t>(std::floor(at.x / kIndexCellM));
    const auto cy = static_cast<int64_t>(std::floor(at.y / kIndexCellM));
    const auto rings = static_cast<int64_t>(std::ceil(cat.dedup_radius_m / kIndexCellM));
    double best_d2 = cat.dedup_radius_m * cat.dedup_radius_m;
    for (int64_t dx = -rings; dx <= rings; ++dx) {
        for (int64_t dy = -rings; dy <= rings; ++dy) {
            auto it = cells_.find(CellKey(index, cx + dx, cy + dy));
            if (it == cells_.end()) continue;
            for (const Indexed& e : it->second) {
                const core::Point d = e.at - at;
                const double d2 = d.x * d.x + d.y * d.y;
                if (d2 > best_d2) continue;
                Case& c = open_.at(e.id);
                // Nearest wins; equal distance goes to the older case so the choice is deterministic.
                if (!in_window(c)) continue;
                if (best == nullptr || d2 < best_d2 || c.id < best->id) {
                    best = &c;
                    best_d2 = d2;
                }
            }
        }
    }
    return best;
}

void IncidentEngine::ForgetOldKeys(TimeMs now) {
    while (!key_order_.empty() && key_order_.front().first < now - options_.idempotency_window_ms) {
        auto it = keys_.find(key_order_.front().second);
        if (it != keys_.end() && it->second.received_ms == key_order_.front().first) keys_.erase(it);
        key_order_.pop_front();
    }
}

std::vector<Result<Receipt>> IncidentEngine::Ingest(std::vector<Report> reports, TimeMs now) {
    std::lock_guard lock(mu_);
    std::vector<Result<Receipt>> out;
    out.reserve(reports.size());
    if (Status s = EnsureFresh(); !s.ok()) {
        for (size_t i = 0; i < reports.size(); ++i) out.emplace_back(s.error());
        return out;
    }
    ForgetOldKeys(now);
    WriteBatch batch;
    batch.reports.reserve(reports.size());
    std::unordered_set<CaseId> dirty;
    const ReportId first_report = next_report_;
    const CaseId first_case = next_case_;
    const size_t first_change = changes_.size();
    for (Report& r : reports) {
        if (!r.lat && !r.lon && options_.locate) options_.locate(r);
        if (r.lat && r.lon && r.address.empty() && options_.name_place) options_.name_place(r);
        if (Status s = ValidateReport(r, taxonomy_); !s.ok()) {
            out.emplace_back(s.error());
            continue;
        }
        if (!r.idempotency_key.empty()) {
            if (auto it = keys_.find(r.idempotency_key); it != keys_.end()) {
                Receipt rec{it->second.report, it->second.case_id, it->second.duplicate, true, false, {}, {}, 0};
                if (auto c = open_.find(rec.case_id); c != open_.end()) {
                    rec.category = c->second.category;
                    rec.department = c->second.department;
                    rec.deadline_ms = c->second.deadline_ms;
                }
                out.emplace_back(rec);
                continue;
            }
        }
        bool classified = false;
        const Category* chosen = r.category.empty() ? nullptr : taxonomy_.Find(r.category);
        if (chosen == nullptr && !r.description.empty()) {
            if (options_.classify) {
                const std::string code = options_.classify(r);
                if (!code.empty()) chosen = taxonomy_.Find(code);
            }
            if (chosen == nullptr) chosen = taxonomy_.MatchKeywords(r.description);
            classified = chosen != nullptr;
        }
        const Category& cat = chosen != nullptr ? *chosen : taxonomy_.Fallback();
        r.category = cat.code;
        r.id = next_report_++;
        r.received_ms = now;
        if (r.time_ms == 0) r.time_ms = now;
        const core::Point at = r.lat ? frame_.ToLocal(*r.lat, *r.lon) : core::Point{};
        Case* target = FindDuplicate(r, cat, at);
        if (target != nullptr) {
            r.case_id = target->id;
            r.duplicate = true;
            target->report_count += 1;
            target->last_report_ms = std::max(target->last_report_ms, r.time_ms);
            target->updated_ms = std::max(target->updated_ms, now);
        } else {
            Case c;
            c.id = next_case_++;
            c.category = cat.code;
            c.department = cat.department;
            c.priority = options_.assess ? std::clamp(options_.assess(r, cat.priority), 1, 4) : cat.priority;
            c.lat = r.lat;
            c.lon = r.lon;
            c.address = PlaceText(r);
            c.grid_cell = r.lat ? GridCell(*r.lat, *r.lon) : std::string();
            c.description = r.description;
            c.status = CaseStatus::kReported;
            c.created_ms = r.time_ms;
            c.updated_ms = now;
            c.last_report_ms = r.time_ms;
            const TimeMs limit = Taxonomy::StepLimit(cat, CaseStatus::kReported);
            c.deadline_ms = limit > 0 ? r.time_ms + limit : 0;
            c.report_count = 1;
            c.primary_report = r.id;
            r.case_id = c.id;
            // No event row for the creation: the primary report's row is that record (source, time, text).
            IndexCase(c);
            open_.emplace(c.id, std::move(c));
        }
        dirty.insert(r.case_id);
        if (!r.idempotency_key.empty()) {
            keys_[r.idempotency_key] = {r.idempotency_key, r.id, r.case_id, r.duplicate, now};
            key_order_.emplace_back(now, r.idempotency_key);
        }
        const Case& c = open_.at(r.case_id);
        if (options_.change_feed) {
            changes_.push_back({r.case_id,
                                r.duplicate ? CaseChange::What::kJoined : CaseChange::What::kCreated,
                                c.status,
                                r.source,
                                r.confidence,
                                classified,
                                false});
        }
        out.emplace_back(
            Receipt{r.id, r.case_id, r.duplicate, false, classified, c.category, c.department, c.deadline_ms});
        batch.reports.push_back(std::move(r));
    }
    if (batch.reports.empty()) return out;
    std::vector<CaseId> ids(dirty.begin(), dirty.end());
    std::sort(ids.begin(), ids.end());
    batch.cases.reserve(ids.size());
    for (CaseId id : ids) {
        const Case& c = open_.at(id);
        batch.cases.push_back(c);
        if (id >= first_case && c.deadline_ms > 0) deadlines_.emplace(c.deadline_ms, id);
    }
    if (Status s = Write(batch); !s.ok()) {
        // Nothing of the batch is durable, so nothing of it may stay in memory: rebuild from the store.
        // If even the reload fails, `stale_` makes every later write retry it first, and fail while it fails.
        stale_ = !Reload().ok();
        changes_.resize(first_change);
        // A retry stays acknowledged only if its original was committed before this batch.
        for (auto& result : out) {
            if (result.ok() && result->report_id >= first_report) result = s.error();
        }
    }
    return out;
}

Result<Case> IncidentEngine::Apply(CaseId id,
                                   Action action,
                                   const std::string& actor,
                                   const std::string& note,
                                   TimeMs now,
                                   CaseId merge_into,
                                   const std::string& via,
                                   const std::string& category) {
    if (actor.empty() || actor.size() > 128) return InvalidArgument("actor", "must be 1 to 128 characters");
    CB_TRY(CheckText(actor, "actor", 128));
    CB_TRY(CheckText(note, "note", kMaxFieldBytes));
    if (action == Action::kReport || action == Action::kEscalate) {
        return InvalidArgument("action",
                               std::string("'") + ActionName(action) + "' is done by the engine, not by hand");
    }
    std::lock_guard lock(mu_);
    CB_TRY(EnsureFresh());
    Case c;
    if (auto it = open_.find(id); it != open_.end()) {
        c = it->second;
    } else if (auto held = held_case_.find(id); held != held_case_.end()) {
        c = held_.cases[held->second];  // left the flow in a held write: the store has an older version
    } else {
        CB_TRY_ASSIGN(std::optional<Case> stored, store_->GetCase(id));
        if (!stored) return NotFound("case", "no case " + std::to_string(id));
        c = *stored;
    }
    CB_TRY_ASSIGN(CaseStatus next, NextStatus(c.status, action));
    const Category* recategorise = nullptr;
    if (!category.empty() && category != c.category) {
        if (action != Action::kFile) return InvalidArgument("category", "may only be chosen when filing a case");
        recategorise = taxonomy_.Find(category);
        if (recategorise == nullptr) return InvalidArgument("category", "no such service code: " + category);
    }
    WriteBatch batch;
    Case target;
    if (action == Action::kMerge) {
        if (merge_into == id) return InvalidArgument("merge_into", "a case cannot be merged into itself");
        auto t = open_.find(merge_into);
        if (t == open_.end()) return NotFound("merge_into", "no open case " + std::to_string(merge_into));
        target = t->second;
        target.report_count += c.report_count;
        target.last_report_ms = std::max(target.last_report_ms, c.last_report_ms);
        target.updated_ms = now;
        c.merged_into = merge_into;
        batch.cases.push_back(target);
        batch.events.push_back({merge_into,
                                now,
                                actor,
                                Action::kMerge,
                                target.status,
                                target.status,
                                "absorbed case " + std::to_string(id),
                                via});
    }
    std::string event_note = note;
    if (recategorise != nullptr) {
        // Re-indexed under the new category, so that later reports of it join this case.
        if (open_.count(id) != 0) UnindexCase(c);
        const std::string change = "category " + c.category + " -> " + recategorise->code;
        event_note = note.empty() ? change : note + "; " + change;
        c.category = recategorise->code;
        c.department = recategorise->department;
        Report as_filed;
        as_filed.category = c.category;
        as_filed.description = c.description;
        c.priority = options_.assess ? std::clamp(options_.assess(as_filed, recategorise->priority), 1, 4)
                                     : recategorise->priority;
        c.priority = std::max(1, c.priority - c.escalations);
    }
    const Category* cat = taxonomy_.Find(c.category);
    const CaseStatus from = c.status;
    const TimeMs step_deadline_ms = c.deadline_ms;
    c.status = next;
    c.updated_ms = now;
    if (from == CaseStatus::kDispatched && (next == CaseStatus::kHandling || next == CaseStatus::kDispatched)) {
        // Starting work, or sending another unit, does not restart the handling clock that began at dispatch.
    } else {
        const TimeMs limit =
            cat ? Taxonomy::StepLimit(*cat, next == CaseStatus::kHandling ? CaseStatus::kDispatched : next) : 0;
        c.deadline_ms = limit > 0 ? now + limit : 0;
        c.overdue = false;
    }
    if (!IsOpen(next)) {
        c.deadline_ms = 0;
        c.overdue = false;
        if (next != CaseStatus::kEvaluated) c.closed_ms = now;
    }
    // The step that ends now had a deadline and ends after it (Tick may not have seen it between two ticks).
    const bool late = step_deadline_ms > 0 && now > step_deadline_ms;
    batch.cases.push_back(c);
    batch.events.push_back({id, now, actor, action, from, next, event_note, via});
    if (Status s = Write(batch); !s.ok()) {
        if (recategorise != nullptr && open_.count(id) != 0) IndexCase(open_.at(id));
        return s.error();
    }
    if (options_.change_feed) changes_.push_back({id, CaseChange::What::kTransition, next, {}, 1, false, late});
    if (action == Action::kMerge) open_[merge_into] = target;
    if (IsOpen(next)) {
        open_[id] = c;
        if (recategorise != nullptr) IndexCase(c);
        if (c.deadline_ms > 0 && !c.overdue) deadlines_.emplace(c.deadline_ms, id);
    } else if (auto it = open_.find(id); it != open_.end()) {
        UnindexCase(it->second);
        open_.erase(it);
    }
    return c;
}

std::vector<CategoryGuess> IncidentEngine::Guesses(std::string_view text, size_t k) const {
    if (options_.rank) return options_.rank(text, k);
    std::vector<CategoryGuess> out;
    for (const Taxonomy::Guess& g : taxonomy_.RankKeywords(text, k)) out.push_back({g.category->code, g.confidence});
    return out;
}

Result<int> IncidentEngine::Tick(TimeMs now) {
    std::lock_guard lock(mu_);
    CB_TRY(EnsureFresh());
    WriteBatch batch;
    std::vector<Case> escalated;
    while (!deadlines_.empty() && deadlines_.top().first <= now) {
        const auto [deadline, id] = deadlines_.top();
        deadlines_.pop();
        auto it = open_.find(id);
        // Stale heap entries (the case moved on, or already escalated for this step) are skipped.
        if (it == open_.end() || it->second.deadline_ms != deadline || it->second.overdue) continue;
        Case c = it->second;
        c.overdue = true;
        c.escalations += 1;
        c.priority = std::max(1, c.priority - 1);
        c.updated_ms = now;
        batch.cases.push_back(c);
        batch.events.push_back({id,
                                now,
                                "engine",
                                Action::kEscalate,
                                c.status,
                                c.status,
                                std::string("deadline of step '") + StatusName(c.status) + "' passed at " +
                                    core::FormatTimestamp(deadline),
                                {}});
        escalated.push_back(std::move(c));
    }
    if (batch.empty()) return 0;
    if (Status s = Write(batch); !s.ok()) {
        stale_ = !Reload().ok();
        return s.error();
    }
    for (Case& c : escalated) {
        if (options_.change_feed)
            changes_.push_back({c.id, CaseChange::What::kEscalated, c.status, {}, 1, false, false});
        open_[c.id] = std::move(c);
    }
    return static_cast<int>(escalated.size());
}

Result<std::optional<CaseDetail>> IncidentEngine::GetCaseDetail(CaseId id) const {
    // Every write goes through the engine under mu_, so no commit lands between these three reads.
    std::lock_guard lock(mu_);
    CB_TRY_ASSIGN(std::optional<Case> c, store_->GetCase(id));
    if (!c) return std::optional<CaseDetail>();
    CaseDetail d;
    d.c = std::move(*c);
    CB_TRY_ASSIGN(d.reports, store_->CaseReports(id));
    CB_TRY_ASSIGN(d.events, store_->CaseEvents(id));
    return std::optional<CaseDetail>(std::move(d));
}

bool IncidentEngine::KnowsKey(const std::string& key) const {
    std::lock_guard lock(mu_);
    return keys_.contains(key);
}

std::optional<Case> IncidentEngine::OpenCase(CaseId id) const {
    std::lock_guard lock(mu_);
    auto it = open_.find(id);
    if (it == open_.end()) return std::nullopt;
    return it->second;
}

std::vector<Case> IncidentEngine::OpenCasesIn(CaseStatus status) const {
    std::vector<Case> out;
    {
        std::lock_guard lock(mu_);
        for (const auto& [id, c] : open_) {
            if (c.status == status) out.push_back(c);
        }
    }
    std::sort(out.begin(), out.end(), [](const Case& a, const Case& b) { return a.id < b.id; });
    return out;
}

void IncidentEngine::DrainChanges(std::vector<CaseChange>& out) {
    out.clear();
    std::lock_guard lock(mu_);
    out.swap(changes_);
}

IntakeQueue::IntakeQueue(IncidentEngine& engine, size_t max_batch, std::function<TimeMs()> clock)
    : engine_(engine), max_batch_(max_batch), clock_(std::move(clock)), writer_([this] { Run(); }) {}

IntakeQueue::~IntakeQueue() { Stop(); }

void IntakeQueue::Submit(Report report, Callback done) {
    {
        std::lock_guard lock(mu_);
        if (stopping_) {
            done(Error{ErrorCode::kUnavailable, "intake is shutting down", "intake"});
            return;
        }
        queue_.emplace_back(std::move(report), std::move(done));
    }
    cv_.notify_one();
}

void IntakeQueue::Stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_ && !writer_.joinable()) return;
        stopping_ = true;
    }
    cv_.notify_one();
    if (writer_.joinable()) writer_.join();
}

void IntakeQueue::Run() {
    std::vector<std::pair<Report, Callback>> work;
    for (;;) {
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty() && stopping_) return;
            const auto n = static_cast<std::ptrdiff_t>(std::min(queue_.size(), max_batch_));
            work.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
            queue_.erase(queue_.begin(), queue_.begin() + n);  // a deque: taking from the front moves nothing else
        }
        std::vector<Report> reports;
        reports.reserve(work.size());
        for (auto& w : work) reports.push_back(std::move(w.first));
        auto results = engine_.Ingest(std::move(reports), clock_());
        batches_.fetch_add(1, std::memory_order_relaxed);
        for (size_t i = 0; i < work.size(); ++i) work[i].second(std::move(results[i]));
        work.clear();
    }
}

}  // namespace citybrain::incident
