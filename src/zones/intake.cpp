// SPDX-License-Identifier: Apache-2.0
#include "zones/intake.hpp"

#include <filesystem>
#include <random>
#include <unordered_set>

#include "core/time.hpp"
#include "zones/node.hpp"
#include "zones/wire.hpp"

namespace citybrain::zones {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string Hex(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char c : bytes) {
        const auto b = static_cast<unsigned char>(c);
        out += kHex[b >> 4];
        out += kHex[b & 15];
    }
    return out;
}

std::optional<std::string> Unhex(std::string_view hex) {
    if (hex.empty() || hex.size() % 2 != 0) return std::nullopt;
    std::string out;
    for (size_t i = 0; i < hex.size(); i += 2) {
        int v = 0;
        for (size_t k = 0; k < 2; ++k) {
            const char c = hex[i + k];
            const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) return std::nullopt;
            v = v * 16 + d;
        }
        out += static_cast<char>(v);
    }
    return out;
}

}  // namespace

CityIntake::CityIntake(const ZoneMap& map, Bus& bus, Leases& leases, ZoneStores stores, double border_m)
    : map_(map), bus_(bus), leases_(leases), stores_(std::move(stores)) {
    for (size_t z = 0; z < map_.zones().size(); ++z) {
        neighbours_.push_back(border_m > 0 ? map_.Neighbours(z, border_m) : std::vector<size_t>{});
    }
}

std::string CityIntake::TokenOf(std::string_view zone, std::string_view key) {
    // The key in hex: any bytes a client chose survive a URL path.
    return std::string(zone) + "." + Hex(key);
}

CityIntake::~CityIntake() { Stop(); }

Result<CityIntake::Prepared> CityIntake::Prepare(incident::Report report) const {
    if (!report.lat || !report.lon) return InvalidArgument("lat", "a report needs lat and long to find its zone");
    const auto zone = map_.Locate(*report.lat, *report.lon);
    if (!zone) return InvalidArgument("lat", "the place is in none of the city's zones");
    if (report.idempotency_key.empty()) {
        thread_local std::mt19937_64 rng(std::random_device{}());
        report.idempotency_key = "auto/" + std::to_string(rng()) + std::to_string(rng());
    }
    const std::string& id = map_.zones()[*zone].id;
    return Prepared{id, {ZoneMap::ReportsSubject(id), EncodeReport(report), report.idempotency_key}};
}

Result<Queued> CityIntake::Submit(incident::Report report) {
    CB_TRY_ASSIGN(Prepared p, Prepare(std::move(report)));
    CB_TRY_ASSIGN(const PubAck ack, bus_.Publish(p.message.subject, p.message.data, p.message.msg_id));
    return Queued{TokenOf(p.zone, p.message.msg_id), p.zone, ack.seq, ack.duplicate};
}

void CityIntake::SubmitAsync(incident::Report report, std::function<void(Result<Queued>)> done) {
    auto prepared = Prepare(std::move(report));
    if (!prepared.ok()) return done(prepared.error());
    std::unique_lock lock(queue_mu_);
    if (stopping_) {
        lock.unlock();  // the refusal is answered outside the lock: a caller's callback may submit again
        return done(Error{ErrorCode::kUnavailable, "the node is stopping", "intake"});
    }
    if (!publisher_.joinable()) publisher_ = std::thread([this] { Publisher(); });
    queue_.push_back({std::move(prepared).value(), std::move(done)});
    lock.unlock();
    queue_cv_.notify_one();
}

void CityIntake::Stop() {
    {
        std::lock_guard lock(queue_mu_);
        stopping_ = true;
    }
    queue_cv_.notify_one();
    if (publisher_.joinable()) publisher_.join();
}

void CityIntake::Publisher() {
    constexpr size_t kMaxBatch = 1024;
    std::vector<Pending> batch;
    std::vector<Bus::Outgoing> out;
    std::unordered_set<std::string> ids;
    for (;;) {
        batch.clear();
        out.clear();
        ids.clear();
        {
            std::unique_lock lock(queue_mu_);
            queue_cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
            if (queue_.empty()) return;  // stopping, and nothing left
            // Everything queued, in order, up to a key that is already in this batch (an acknowledgement finds
            // its message by id): that one leads the next batch.
            while (!queue_.empty() && batch.size() < kMaxBatch &&
                   ids.insert(queue_.front().prepared.message.msg_id).second) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        for (Pending& p : batch) out.push_back(std::move(p.prepared.message));
        std::vector<Result<PubAck>> acks = bus_.PublishAllAcked(out);
        for (size_t i = 0; i < batch.size(); ++i) {
            if (!acks[i].ok()) {
                batch[i].done(acks[i].error());
                continue;
            }
            batch[i].done(Queued{TokenOf(batch[i].prepared.zone, out[i].msg_id),
                                 batch[i].prepared.zone,
                                 acks[i]->seq,
                                 acks[i]->duplicate});
        }
    }
}

Result<std::optional<incident::RequestView>> CityIntake::Lookup(size_t z, const std::string& key) {
    const std::string& zone = map_.zones()[z].id;
    std::shared_ptr<incident::Store> store;  // shared: a failed one leaves the cache while others may still read it
    {
        std::lock_guard lock(mu_);
        auto it = readers_.find(zone);
        if (it == readers_.end()) {
            // Nothing filed in the zone yet.
            if (!stores_.MayExist(zone)) return std::optional<incident::RequestView>();
            CB_TRY_ASSIGN(auto opened, stores_.Open(zone));
            it = readers_.emplace(zone, std::move(opened)).first;
        }
        store = it->second;
    }
    incident::RequestFilter f;
    f.idempotency_keys = {key};
    f.limit = 1;
    auto found = store->ListRequests(f);
    if (!found.ok()) {
        if (found.error().code == ErrorCode::kUnavailable) {
            // A store that went down (a restarted PostgreSQL): the next question opens it afresh.
            std::lock_guard lock(mu_);
            if (auto it = readers_.find(zone); it != readers_.end() && it->second == store) readers_.erase(it);
        }
        return found.error();
    }
    if (found->empty()) return std::optional<incident::RequestView>();
    return std::optional<incident::RequestView>(std::move(found->front()));
}

Result<Tracked> CityIntake::Track(std::string_view token) {
    const size_t dot = token.find('.');
    const auto key = dot == std::string_view::npos ? std::nullopt : Unhex(token.substr(dot + 1));
    const auto zone = dot == std::string_view::npos ? std::nullopt : map_.Find(token.substr(0, dot));
    if (!key || !zone) return NotFound("token", "not a token this city gave out");
    Tracked t;
    t.token = token;
    t.zone = map_.zones()[*zone].id;
    CB_TRY_ASSIGN(auto found, Lookup(*zone, *key));
    // Not filed in its zone: it may have been handed over to a case next door.
    for (size_t i = 0; !found && i < neighbours_[*zone].size(); ++i) {
        CB_TRY_ASSIGN(found, Lookup(neighbours_[*zone][i], *key));
        if (found) t.zone = map_.zones()[neighbours_[*zone][i]].id;
    }
    if (found) {
        t.filed = true;
        t.request = std::move(*found);
    }
    return t;
}

Result<CityState> CityIntake::State() {
    CityState out;
    CB_TRY_ASSIGN(const auto keys, leases_.Keys());
    for (const std::string& k : keys) {
        if (k.rfind("node.", 0) == 0) out.nodes.push_back(k.substr(5));
    }
    for (const Zone& z : map_.zones()) {
        ZoneState s;
        s.zone = z.id;
        CB_TRY_ASSIGN(s.node, leases_.Holder(ZoneKey(z.id)));
        CB_TRY_ASSIGN(const Bus::Backlog b, bus_.ConsumerBacklog(map_.StreamOf(z.id), "zone_" + z.id));
        s.pending = b.pending;
        s.unacked = b.unacked;
        s.polygon = z.polygon;
        out.zones.push_back(std::move(s));
    }
    if (map_.units().empty()) return out;
    std::lock_guard lock(mu_);
    if (!units_) {
        CB_TRY_ASSIGN(units_, bus_.OpenTable(kUnitBucket));
    }
    const int64_t now = core::NowMs();
    for (const ZoneUnit& u : map_.units()) {
        CB_TRY_ASSIGN(const auto entry, units_->Get(UnitKey(u.id)));
        const UnitTaken taken = entry ? DecodeUnitTaken(entry->value) : UnitTaken{};
        out.units.push_back(
            {u.id, map_.zones()[u.zone].id, u.lat, u.lon, taken.until_ms > now, taken.case_ref, taken.until_ms});
    }
    return out;
}

}  // namespace citybrain::zones
