// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "incident/model.hpp"
#include "incident/store.hpp"
#include "zones/bus.hpp"
#include "zones/node.hpp"
#include "zones/zone_map.hpp"

namespace citybrain::zones {

/// A report handed to its zone: JetStream has stored it; the zone's holder files it.
struct Queued {
    std::string token;  // how its sender asks after it, at any node
    std::string zone;
    uint64_t seq = 0;        // its place in the stream
    bool duplicate = false;  // a repeat of a report already stored (same idempotency key): nothing new
};

/// What became of a report, as its zone's store says.
struct Tracked {
    std::string token, zone;
    bool filed = false;  // false: stored on the bus, not yet applied by the zone's holder
    incident::RequestView request;
};

struct ZoneState {
    std::string zone, node;  // node "": nobody holds it now
    uint64_t pending = 0, unacked = 0;
    std::vector<std::pair<double, double>> polygon;  // lon, lat
};
struct UnitView {
    std::string id, zone;  // zone: its home
    double lat = 0, lon = 0;
    bool busy = false;
    std::string case_ref;  // the case it was last taken by ("<zone>:<id>"), "" when never
    int64_t until_ms = 0;
};
struct CityState {
    std::vector<std::string> nodes;  // live
    std::vector<ZoneState> zones;
    std::vector<UnitView> units;
};

/// The city's front door, the same at every node: a report goes to its zone's subject (acknowledged once JetStream
/// has stored it), a token tells its sender where it went, and any node answers what became of it by reading the
/// zone's store. The facade the HTTP API of a zone node calls.
class CityIntake {
public:
    /// `border_m`: how far from a zone a report may be handed over to (the widest de-duplication radius).
    CityIntake(const ZoneMap& map, Bus& bus, Leases& leases, ZoneStores stores, double border_m = 0);
    ~CityIntake();
    CityIntake(const CityIntake&) = delete;
    CityIntake& operator=(const CityIntake&) = delete;

    /// Publishes a validated report to the zone that holds its place. A report without an idempotency key gets a
    /// random one (the message id that JetStream and the zone's store de-duplicate by). A place in no zone is an
    /// error on `lat`.
    Result<Queued> Submit(incident::Report report);
    /// The same without waiting: `done` is called once, on the publisher's thread, when JetStream has stored the
    /// report (or with the error; a place in no zone at once, on this thread). Reports submitted while a batch is
    /// on the wire go out together in the next (Bus::PublishAllAcked: one wake-up a batch, not one a report);
    /// each answer still waits for its own report's acknowledgement. Two with the same key are never in one batch.
    void SubmitAsync(incident::Report report, std::function<void(Result<Queued>)> done);
    /// Publishes what is queued, then stops the publisher; later submissions are refused (Unavailable).
    void Stop();
    /// The report a token names, from its zone's store (or a neighbour's, where it was handed over to a case
    /// there); an unknown or malformed token is NotFound on `token`.
    Result<Tracked> Track(std::string_view token);
    /// Which live node holds which zone, each zone's backlog, and each unit's state.
    Result<CityState> State();

    static std::string TokenOf(std::string_view zone, std::string_view key);

private:
    /// The report with idempotency key `key` in zone `zone`'s store, if there.
    Result<std::optional<incident::RequestView>> Lookup(size_t zone, const std::string& key);
    /// The zone and the message a report becomes (a key drawn if it has none).
    struct Prepared {
        std::string zone;
        Bus::Outgoing message;
    };
    Result<Prepared> Prepare(incident::Report report) const;
    void Publisher();

    const ZoneMap& map_;
    Bus& bus_;
    Leases& leases_;
    ZoneStores stores_;
    std::vector<std::vector<size_t>> neighbours_;  // by zone: where its border reports may have been handed over
    std::mutex mu_;
    std::map<std::string, std::shared_ptr<incident::Store>> readers_;  // zone stores opened for reading
    std::unique_ptr<Table> units_;                                     // opened on the first State
    // The asynchronous submissions, and the thread that publishes them in batches (started on the first).
    struct Pending {
        Prepared prepared;
        std::function<void(Result<Queued>)> done;
    };
    std::mutex queue_mu_;
    std::condition_variable queue_cv_;
    std::deque<Pending> queue_;
    bool stopping_ = false;
    std::thread publisher_;
};

}  // namespace citybrain::zones
