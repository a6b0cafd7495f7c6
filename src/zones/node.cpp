// SPDX-License-Identifier: Apache-2.0
#include "zones/node.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <numbers>

#include "core/time.hpp"
#include "incident/store.hpp"
#include "zones/wire.hpp"

namespace citybrain::zones {
namespace {

uint64_t Fnv1a(std::string_view a, std::string_view b) {
    uint64_t h = 1469598103934665603ull;
    for (const char c : a) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;  // a separator, so that ("ab","c") and ("a","bc") differ
    for (const char c : b) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    // A final mix: FNV's low bits alone are poorly spread for short keys.
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

}  // namespace

Status ZoneStores::Check() const {
    if (data_dir.empty() == pg_url.empty()) {
        return InvalidArgument("data", "the zones' stores need a directory (SQLite) or a PostgreSQL URL, one of them");
    }
    if (!data_dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(data_dir, ec);
        if (ec) return InvalidArgument("data", data_dir + ": " + ec.message());
    }
    return {};
}

std::string ZoneStores::SchemaOf(const std::string& zone) {
    std::string out = "zone_";
    bool changed = false;
    for (const char c : zone) {
        if (c >= 'A' && c <= 'Z') {
            out += static_cast<char>(c - 'A' + 'a');
            changed = true;
        } else if (c == '-') {
            out += '_';
            changed = true;
        } else {
            out += c;
        }
    }
    if (changed) {
        char hash[20];
        std::snprintf(hash, sizeof hash, "_%08x", static_cast<unsigned>(Fnv1a(zone, "schema")));
        out += hash;
    }
    return out;
}

Result<std::unique_ptr<incident::Store>> ZoneStores::Open(const std::string& zone) const {
    if (!pg_url.empty()) return incident::OpenPostgresStore(pg_url, SchemaOf(zone));
    return incident::OpenSqliteStore(data_dir + "/" + zone + ".db", true);
}

bool ZoneStores::MayExist(const std::string& zone) const {
    return !pg_url.empty() || std::filesystem::exists(data_dir + "/" + zone + ".db");
}

double BorderReachM(const incident::Taxonomy& taxonomy) {
    double widest = 0;
    for (const incident::Category& c : taxonomy.categories()) widest = std::max(widest, c.dedup_radius_m);
    return widest;
}

std::string EncodeUnitTaken(const UnitTaken& taken) {
    return nlohmann::json{{"case", taken.case_ref}, {"until_ms", taken.until_ms}}.dump();
}

UnitTaken DecodeUnitTaken(std::string_view value) {
    UnitTaken out;
    const auto v = nlohmann::json::parse(value, nullptr, false);
    if (!v.is_object()) return out;
    if (v.contains("case") && v["case"].is_string()) out.case_ref = v["case"].get<std::string>();
    if (v.contains("until_ms") && v["until_ms"].is_number_integer()) out.until_ms = v["until_ms"].get<int64_t>();
    return out;
}

Status EnsureZoneStreams(Bus& bus, const ZoneMap& map) {
    for (const Zone& z : map.zones()) CB_TRY(bus.EnsureStream(map.StreamOf(z.id), ZoneMap::SubjectsOf(z.id)));
    return {};
}

struct ZoneNode::Held_ {
    std::unique_ptr<incident::IncidentEngine> engine;
    std::unique_ptr<Consumer> consumer;
    bool dispatch_due = true;      // cases were filed since the last dispatch round
    int64_t next_dispatch_ms = 0;  // filed cases without a unit are tried again each second
    // No unit this zone may take is free before then: takes only make units busy, so the earliest end of a busy
    // unit's job, as last read, bounds when one can be free (and saves reading the table for every batch).
    int64_t none_free_until_ms = 0;
};

namespace {

/// A commit that failed because the zone is no longer this node's to write (another node claimed its store) or its
/// store is down: the zone is let go, and whatever was not acknowledged comes back to whoever holds it next.
bool ZoneLost(const Error& e) { return e.code == ErrorCode::kUnavailable || e.code == ErrorCode::kConflict; }

double MetresBetween(double lat0, double lon0, double lat1, double lon1) {
    const double m_per_deg_lon = 111'195.0 * std::cos(lat0 * std::numbers::pi / 180.0);
    return std::hypot((lat1 - lat0) * 111'195.0, (lon1 - lon0) * m_per_deg_lon);
}

}  // namespace

std::string ZoneNode::OwnerOf(const std::string& zone, const std::vector<std::string>& live) {
    std::string best;
    uint64_t best_score = 0;
    for (const std::string& node : live) {
        const uint64_t score = Fnv1a(zone, node);
        if (best.empty() || score > best_score || (score == best_score && node < best)) best = node, best_score = score;
    }
    return best;
}

ZoneNode::ZoneNode(const ZoneMap& map, Bus& bus, const incident::Taxonomy& taxonomy, NodeOptions options)
    : map_(map), bus_(bus), taxonomy_(taxonomy), options_(std::move(options)) {}

ZoneNode::~ZoneNode() = default;

Result<std::unique_ptr<ZoneNode>> ZoneNode::Start(const ZoneMap& map,
                                                  Bus& bus,
                                                  const incident::Taxonomy& taxonomy,
                                                  NodeOptions options) {
    CB_TRY(CheckToken("node", options.name));
    CB_TRY(options.stores.Check());
    std::unique_ptr<ZoneNode> node(new ZoneNode(map, bus, taxonomy, std::move(options)));
    CB_TRY(EnsureZoneStreams(bus, map));
    CB_TRY_ASSIGN(node->leases_, bus.OpenLeases(kLeaseBucket, map.lease_ms));
    node->held_.resize(map.zones().size());
    node->readers_.resize(map.zones().size());
    node->border_m_ = BorderReachM(taxonomy);
    if (!map.units().empty()) {
        CB_TRY_ASSIGN(node->units_, bus.OpenTable(kUnitBucket));
    }
    return node;
}

Status ZoneNode::Take(size_t z) {
    const std::string& zone = map_.zones()[z].id;
    auto held = std::make_unique<Held_>();
    CB_TRY_ASSIGN(auto store, options_.stores.Open(zone));
    // Claimed before its state is read: a node that held it before and has not noticed its lease is gone (stalled,
    // or cut off from the bus) finds its next commit refused, and whatever it committed before is loaded here.
    CB_TRY_ASSIGN(const int64_t claim, store->ClaimWriter(options_.name, core::NowMs()));
    CB_TRY_ASSIGN(held->engine, incident::IncidentEngine::Open(std::move(store), taxonomy_));
    CB_TRY_ASSIGN(held->consumer,
                  bus_.PullConsumer(map_.StreamOf(zone), "zone_" + zone, ZoneMap::SubjectsOf(zone), map_.ack_wait_ms));
    held_[z] = std::move(held);
    ++stats_.taken;
    std::fprintf(stderr,
                 "citybrain zones: node %s took zone %s (claim %lld)\n",
                 options_.name.c_str(),
                 zone.c_str(),
                 static_cast<long long>(claim));
    return {};
}

void ZoneNode::LoseZone(size_t z, const Error& e) {
    ++(e.code == ErrorCode::kConflict ? stats_.fenced : stats_.store_down);
    std::fprintf(stderr, "citybrain zones: zone %s: %s\n", map_.zones()[z].id.c_str(), e.ToString().c_str());
    Drop(z);
}

void ZoneNode::Drop(size_t z) {
    if (!held_[z]) return;
    held_[z].reset();  // unacknowledged messages go back to the consumer after its ack wait
    std::fprintf(
        stderr, "citybrain zones: node %s let go of zone %s\n", options_.name.c_str(), map_.zones()[z].id.c_str());
}

Status ZoneNode::RenewLeases() {
    const int64_t now = core::NowMs();
    auto presence = leases_->Hold(NodeKey(options_.name), options_.name);
    auto keys = presence.ok() ? leases_->Keys() : Result<std::vector<std::string>>(presence.error());
    if (!presence.ok() || !keys.ok()) {
        // Cut off from the bus: once a lease period has passed without a renewal, others may hold our zones.
        if (now - leases_renewed_ms_ >= map_.lease_ms) {
            for (size_t z = 0; z < held_.size(); ++z) Drop(z);
        }
        return presence.ok() ? keys.error() : presence.error();
    }
    std::vector<std::string> live;
    for (const std::string& key : *keys) {
        if (key.rfind("node.", 0) == 0) live.push_back(key.substr(5));
    }
    if (std::find(live.begin(), live.end(), options_.name) == live.end()) live.push_back(options_.name);
    bool all_ok = true;
    for (size_t z = 0; z < map_.zones().size(); ++z) {
        const std::string& zone = map_.zones()[z].id;
        const bool mine = OwnerOf(zone, live) == options_.name;
        if (!mine) {
            if (held_[z]) {
                // Its node is back (or new): hand it over.
                Drop(z);
                (void)leases_->Release(ZoneKey(zone), options_.name);
                ++stats_.handed_over;
            }
            continue;
        }
        auto hold = leases_->Hold(ZoneKey(zone), options_.name);
        if (!hold.ok()) {
            all_ok = false;
            continue;
        }
        if (!*hold) {
            // Someone else still holds it (a node leaving, or one that died and whose lease has not aged out).
            Drop(z);
            continue;
        }
        if (!held_[z]) {
            // Failed (its store unreachable): the lease stays ours, as the zone is ours by the hashing anyway, and
            // the next round tries again.
            if (Status s = Take(z); !s.ok()) {
                std::fprintf(stderr, "citybrain zones: zone %s: %s\n", zone.c_str(), s.error().ToString().c_str());
            }
        }
    }
    if (all_ok) leases_renewed_ms_ = now;
    return {};
}

/// The open cases of the neighbouring zones, read once per batch and category.
struct ZoneNode::Nearby {
    std::map<std::pair<size_t, std::string>, std::vector<incident::Case>> open;
};

std::shared_ptr<incident::Store> ZoneNode::Reader(size_t z) {
    if (!readers_[z]) {
        const std::string& zone = map_.zones()[z].id;
        if (!options_.stores.MayExist(zone)) return nullptr;
        auto opened = options_.stores.Open(zone);
        if (!opened.ok()) return nullptr;
        readers_[z] = std::move(opened).value();
    }
    return readers_[z];
}

std::optional<size_t> ZoneNode::BorderCase(size_t z, const incident::Report& r, Nearby& nearby) {
    if (!r.lat || !r.lon) return std::nullopt;
    // The category as intake will choose it (the zones' engines classify by keywords).
    const incident::Category* cat = r.category.empty() ? nullptr : taxonomy_.Find(r.category);
    if (cat == nullptr && !r.description.empty()) cat = taxonomy_.MatchKeywords(r.description);
    if (cat == nullptr) cat = &taxonomy_.Fallback();
    if (cat->dedup_radius_m <= 0) return std::nullopt;
    const incident::TimeMs t = r.time_ms != 0 ? r.time_ms : core::NowMs();
    std::optional<size_t> best;
    double best_m = cat->dedup_radius_m;
    for (const size_t n : map_.Near(*r.lat, *r.lon, cat->dedup_radius_m, z)) {
        auto [it, fresh] = nearby.open.try_emplace({n, cat->code});
        if (fresh) {
            if (auto reader = Reader(n)) {
                incident::CaseFilter f;
                f.open = true;
                f.category = cat->code;
                f.limit = -1;
                auto cases = reader->ListCases(f, t);
                if (cases.ok()) {
                    it->second = std::move(cases).value();
                } else {
                    // Unreadable now (its store restarting): the report stays here, at worst a second case.
                    readers_[n].reset();
                }
            }
        }
        for (const incident::Case& c : it->second) {
            if (!c.lat || !c.lon) continue;
            if (t < c.created_ms - cat->dedup_window_ms || t > c.last_report_ms + cat->dedup_window_ms) continue;
            const double m_per_deg_lon = 111'195.0 * std::cos(*r.lat * std::numbers::pi / 180.0);
            const double d = std::hypot((*c.lat - *r.lat) * 111'195.0, (*c.lon - *r.lon) * m_per_deg_lon);
            if (d <= best_m) best = n, best_m = d;
        }
    }
    return best;
}

bool ZoneNode::FiledNextDoor(size_t z, const incident::Report& r) {
    if (!r.lat || !r.lon) return false;
    incident::RequestFilter f;
    f.idempotency_keys = {r.idempotency_key};
    f.limit = 1;
    for (const size_t n : map_.Near(*r.lat, *r.lon, border_m_, z)) {
        auto reader = Reader(n);
        if (!reader) continue;
        auto found = reader->ListRequests(f);
        if (!found.ok()) readers_[n].reset();  // opened afresh next time (its server restarting)
        if (found.ok() && !found->empty()) return true;
    }
    return false;
}

Result<size_t> ZoneNode::Pull(size_t z) {
    Held_& held = *held_[z];
    const std::string& zone = map_.zones()[z].id;
    CB_TRY_ASSIGN(std::vector<Message> messages, held.consumer->Fetch(options_.batch, options_.fetch_wait_ms));
    if (messages.empty()) return 0;
    const std::string reports_subject = ZoneMap::ReportsSubject(zone);
    const std::string handoff_subject = ZoneMap::HandoffSubject(zone);
    const std::string orders_subject = ZoneMap::OrdersSubject(zone);
    std::vector<incident::Report> reports;
    std::vector<char> sure;  // a report filed on intake if it opens a case: a place, and a sure machine
    std::vector<Bus::Outgoing> handoffs;
    Nearby nearby;
    uint64_t handed_in = 0;
    reports.reserve(messages.size());
    for (Message& m : messages) {
        const bool handed = m.subject() == handoff_subject;
        if (m.subject() == orders_subject) {
            // A work order for one of this zone's units (read by its crews' gateway); counted when another zone
            // borrowed the unit.
            const auto order = nlohmann::json::parse(m.data(), nullptr, false);
            if (order.is_object() && order.contains("zone") && order["zone"].is_string() && order["zone"] != zone) {
                ++stats_.lent;
            }
            continue;
        }
        // Another kind of message (none is published yet): acknowledged with the batch, and left alone.
        if (!handed && m.subject() != reports_subject) continue;
        auto report = DecodeReport(m.data());
        if (!report.ok()) {
            ++stats_.refused;
            std::fprintf(stderr,
                         "citybrain zones: zone %s: message %s refused: %s\n",
                         zone.c_str(),
                         m.id().c_str(),
                         report.error().ToString().c_str());
            continue;
        }
        report->idempotency_key = m.id();
        // A report handed over is never handed on: its zone's case decided where it goes. Nor is one this zone
        // has filed already (delivered again after a commit whose acknowledgement was lost): the engine answers
        // it as a repeat, even if a case next door would take it now.
        const std::string& key = report->idempotency_key;
        if (!handed && !key.empty() && !held.engine->KnowsKey(key)) {
            if (m.delivered() > 1 && FiledNextDoor(z, *report)) {
                // Handed over and filed there on an earlier delivery whose acknowledgement was lost.
                ++stats_.repeated;
                continue;
            }
            if (const auto to = BorderCase(z, *report, nearby)) {
                handoffs.push_back(
                    {ZoneMap::HandoffSubject(map_.zones()[*to].id), std::string(m.data()), report->idempotency_key});
                continue;
            }
        }
        handed_in += handed ? 1 : 0;
        sure.push_back(report->lat.has_value() && report->lon.has_value() && report->confidence >= 0.8);
        reports.push_back(std::move(report).value());
    }
    // Handed over first: stored in the neighbour's stream (the same id: a repeat is dropped there) before anything
    // of the batch is acknowledged here.
    if (!handoffs.empty()) {
        for (const Status& s : bus_.PublishAll(handoffs)) CB_TRY(s);
        stats_.handed_off += handoffs.size();
    }
    const auto results = held.engine->Ingest(std::move(reports), core::NowMs());
    for (const auto& r : results) {
        // A failed commit: nothing of the batch was kept; unacknowledged, it all comes back to whoever holds the
        // zone then. Fenced, another node took the zone over; unavailable, the store is down, and the zone is taken
        // again (a fresh connection) at the next lease round.
        if (!r.ok() && ZoneLost(r.error())) {
            messages.clear();  // left unacknowledged, before their consumer goes
            LoseZone(z, r.error());
            return size_t{0};
        }
    }
    if (units_) {
        // Filed before the batch is acknowledged: a crash in between brings the reports back, and their receipts
        // (repeats now) name the cases, still reported, to file. One transaction for the batch's filings.
        const std::string& fallback = taxonomy_.Fallback().code;
        held.engine->Hold();
        for (size_t i = 0; i < results.size(); ++i) {
            if (!results[i].ok() || results[i]->duplicate || sure[i] == 0 || results[i]->category == fallback) continue;
            const auto c = held.engine->OpenCase(results[i]->case_id);
            if (!c || c->status != incident::CaseStatus::kReported) continue;
            (void)held.engine->Apply(c->id, incident::Action::kFile, "zone " + zone, "filed on intake", core::NowMs());
            held.dispatch_due = true;
        }
        if (Status flushed = held.engine->Flush(); !flushed.ok()) {
            messages.clear();
            if (ZoneLost(flushed.error())) {
                LoseZone(z, flushed.error());
                return size_t{0};
            }
            return flushed.error();
        }
    }
    for (const auto& r : results) {
        if (!r.ok()) {
            ++stats_.refused;
        } else if (r->retried) {
            ++stats_.repeated;
        } else {
            ++stats_.applied;
        }
    }
    stats_.handed_in += handed_in;
    // Only now, with the batch committed: a crash before this line redelivers it, and the keys catch the repeats.
    for (Message& m : messages) CB_TRY(m.Ack());
    return messages.size();
}

Result<bool> ZoneNode::Dispatch(size_t z) {
    Held_& held = *held_[z];
    const std::string& zone = map_.zones()[z].id;
    std::vector<incident::Case> waiting = held.engine->OpenCasesIn(incident::CaseStatus::kFiled);
    std::erase_if(waiting, [](const incident::Case& c) { return !c.lat || !c.lon; });
    if (waiting.empty() || core::NowMs() < held.none_free_until_ms) return true;
    std::sort(waiting.begin(), waiting.end(), [](const incident::Case& a, const incident::Case& b) {
        return std::tie(a.priority, a.created_ms, a.id) < std::tie(b.priority, b.created_ms, b.id);
    });
    // Every unit as the table has it now: the case it is taken by, until when.
    const std::vector<ZoneUnit>& units = map_.units();
    struct UnitState {
        std::optional<Table::Entry> entry;
        UnitTaken taken;
    };
    std::vector<UnitState> state(units.size());
    auto read = [&](size_t u) -> Status {
        CB_TRY_ASSIGN(state[u].entry, units_->Get(UnitKey(units[u].id)));
        state[u].taken = state[u].entry ? DecodeUnitTaken(state[u].entry->value) : UnitTaken{};
        return {};
    };
    for (size_t u = 0; u < units.size(); ++u) CB_TRY(read(u));
    for (const incident::Case& c : waiting) {
        const int64_t now = core::NowMs();
        const std::string ref = zone + ":" + std::to_string(c.id);
        auto free = [&](size_t u) { return state[u].taken.until_ms <= now; };
        std::optional<size_t> pick;
        // Taken for this case already, by a node that stopped before it recorded the dispatch.
        for (size_t u = 0; u < units.size() && !pick; ++u) {
            if (state[u].taken.case_ref == ref) pick = u;
        }
        while (!pick) {
            std::vector<int> free_in(map_.zones().size(), 0);
            for (size_t u = 0; u < units.size(); ++u) free_in[units[u].zone] += free(u) ? 1 : 0;
            // The zone's own nearest free unit; failing that, the nearest that another zone can spare.
            std::optional<size_t> best;
            double best_m = 0;
            for (const bool own : {true, false}) {
                for (size_t u = 0; u < units.size(); ++u) {
                    if (!free(u) || (units[u].zone == z) != own) continue;
                    if (!own && free_in[units[u].zone] <= map_.lend_reserve) continue;
                    const double m = MetresBetween(*c.lat, *c.lon, units[u].lat, units[u].lon);
                    if (!best || m < best_m) best = u, best_m = m;
                }
                if (best) break;
            }
            if (!best) break;
            const int64_t until =
                now + static_cast<int64_t>(best_m / map_.unit_speed_mps * 1000) + map_.unit_service_ms;
            CB_TRY_ASSIGN(const bool won,
                          units_->Put(UnitKey(units[*best].id),
                                      EncodeUnitTaken({ref, until}),
                                      state[*best].entry ? state[*best].entry->revision : 0));
            CB_TRY(read(*best));  // ours now, or whoever's was first
            if (won) pick = best;
        }
        if (!pick) {
            // No unit free for this case, nor for the ones after it, until the first busy one is done.
            held.none_free_until_ms = std::numeric_limits<int64_t>::max();
            for (const UnitState& u : state) {
                if (u.taken.until_ms > now)
                    held.none_free_until_ms = std::min(held.none_free_until_ms, u.taken.until_ms);
            }
            break;
        }
        const ZoneUnit& unit = units[*pick];
        const std::string& home = map_.zones()[unit.zone].id;
        const double m = MetresBetween(*c.lat, *c.lon, unit.lat, unit.lon);
        const auto eta_s = static_cast<int64_t>(m / map_.unit_speed_mps);
        // The order first, then the dispatch on the case: a crash in between repeats the order under the same id.
        const nlohmann::json order{{"unit", unit.id},
                                   {"zone", zone},
                                   {"case", c.id},
                                   {"category", c.category},
                                   {"lat", *c.lat},
                                   {"lon", *c.lon},
                                   {"eta_s", eta_s},
                                   {"until_ms", state[*pick].taken.until_ms}};
        CB_TRY(bus_.Publish(ZoneMap::OrdersSubject(home), order.dump(), "order:" + ref));
        const bool borrowed = unit.zone != z;
        std::string note = "unit " + unit.id + ", ETA " + std::to_string(eta_s) + " s, until " +
                           core::FormatTimestamp(state[*pick].taken.until_ms);
        if (borrowed) note += ", lent by zone " + home;
        auto sent = held.engine->Apply(c.id, incident::Action::kDispatch, unit.id, note, now);
        if (!sent.ok()) {
            if (ZoneLost(sent.error())) {
                LoseZone(z, sent.error());
                return false;
            }
            std::fprintf(stderr,
                         "citybrain zones: zone %s: case %lld: %s\n",
                         zone.c_str(),
                         static_cast<long long>(c.id),
                         sent.error().ToString().c_str());
            continue;
        }
        ++stats_.dispatched;
        stats_.borrowed += borrowed ? 1 : 0;
    }
    return true;
}

Result<size_t> ZoneNode::Step() {
    const int64_t now = core::NowMs();
    if (now >= next_lease_round_ms_) {
        // Three renewals per lease period: a lease survives one lost round.
        next_lease_round_ms_ = now + map_.lease_ms / 3;
        if (Status s = RenewLeases(); !s.ok()) return s.error();
    }
    if (core::NowMs() - leases_renewed_ms_ >= map_.lease_ms) {
        // No renewal for a whole lease period (the bus unreachable, or this process stalled): another node may hold
        // these zones now, so this one stops writing them before anything else.
        for (size_t z = 0; z < held_.size(); ++z) Drop(z);
    }
    size_t handled = 0;
    for (size_t z = 0; z < held_.size(); ++z) {
        if (!held_[z]) continue;
        auto n = Pull(z);
        if (!n.ok()) return n.error();
        handled += *n;
        if (units_ && held_[z] && (held_[z]->dispatch_due || core::NowMs() >= held_[z]->next_dispatch_ms)) {
            held_[z]->dispatch_due = false;
            held_[z]->next_dispatch_ms = core::NowMs() + 1000;
            CB_TRY(Dispatch(z));
        }
    }
    return handled;
}

Status ZoneNode::Leave() {
    for (size_t z = 0; z < held_.size(); ++z) {
        if (!held_[z]) continue;
        Drop(z);
        CB_TRY(leases_->Release(ZoneKey(map_.zones()[z].id), options_.name));
    }
    return leases_->Release(NodeKey(options_.name), options_.name);
}

std::vector<std::string> ZoneNode::Held() const {
    std::vector<std::string> out;
    for (size_t z = 0; z < held_.size(); ++z) {
        if (held_[z]) out.push_back(map_.zones()[z].id);
    }
    return out;
}

}  // namespace citybrain::zones
