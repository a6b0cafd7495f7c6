// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "incident/engine.hpp"
#include "incident/taxonomy.hpp"
#include "zones/bus.hpp"
#include "zones/zone_map.hpp"

namespace citybrain::zones {

/// Where the zones' stores live, the same for every node: a SQLite file per zone under `data_dir` (nodes on one
/// host, or on a disk they share), or, with `pg_url`, a schema per zone in one PostgreSQL database that every node
/// reaches (nodes on many hosts).
struct ZoneStores {
    std::string data_dir;
    std::string pg_url;

    Status Check() const;
    Result<std::unique_ptr<incident::Store>> Open(const std::string& zone) const;
    /// False only where the zone's store surely holds nothing yet (no SQLite file): a reader need not create it.
    bool MayExist(const std::string& zone) const;
    /// The PostgreSQL schema of a zone: `zone_<id>` in lower case, with a hash of the id where lowering it or
    /// replacing '-' changed it (so that `A` and `a` stay apart).
    static std::string SchemaOf(const std::string& zone);
};

struct NodeOptions {
    std::string name;            // this node's id (a subject token), unique in the city
    ZoneStores stores;           // where each zone's state lives
    int batch = 512;             // messages pulled per zone per step
    int64_t fetch_wait_ms = 50;  // an empty zone's pull returns after this long (the idle pace)
};

struct NodeStats {
    uint64_t applied = 0;      // reports committed to a zone's store
    uint64_t repeated = 0;     // delivered again after their commit (a crash between commit and ack): not re-applied
    uint64_t refused = 0;      // malformed or invalid: acknowledged, logged, never applied
    uint64_t taken = 0;        // zones taken (at start, or from a dead node)
    uint64_t handed_over = 0;  // zones given up to the node they belong to
    uint64_t fenced = 0;       // commits refused because another node had claimed the zone's store since
    uint64_t store_down = 0;   // zones let go because their store failed (retaken at the next lease round)
    uint64_t handed_off = 0;   // reports near a border sent to the neighbouring zone that has their case
    uint64_t handed_in = 0;    // reports handed over from a neighbouring zone, applied here
    uint64_t dispatched = 0;   // cases given a unit (ordered and recorded on the case)
    uint64_t borrowed = 0;     // of them, with a unit lent by another zone
    uint64_t lent = 0;         // orders read here for this zone's units from another zone's cases
};

/// A brain node of a city of zones. It holds leases on some zones (a JetStream key-value bucket, `Leases`), and for
/// each zone it holds it reads `city.<zone>.reports` through the zone's durable pull consumer and ingests the
/// reports into the zone's incident engine, acknowledging each message only after its commit. The zone's state is
/// the zone's, not the node's: the store goes with the lease (claimed at each take, `Store::ClaimWriter`, so that a
/// node that lost the lease without noticing cannot write it), and the consumer resumes after the last acknowledged
/// message, so a zone moves between nodes without loss; a message committed but not acknowledged comes back and is
/// recognised by its idempotency key (the message id), so nothing is applied twice.
///
/// A report near a border whose case is in the neighbouring zone (an open case of its category within its
/// de-duplication radius and window, as the neighbour's store has it) is handed over to that zone
/// (`city.<zone>.handoff`, the same message id), whose holder joins it to the case; the report is acknowledged here
/// only once the neighbour's stream has stored it. A report delivered again is handed over only if it was neither
/// filed here nor next door before. Two first reports of one matter on both sides of a border in the same instant
/// still make two cases: neither zone has committed its case when the other looks.
///
/// Units (where the map has any): a machine report that is sure (a place, a category of the taxonomy, confidence ≥
/// 0.8) is filed on intake, as the district's brain files it; each filed case of a zone gets the nearest free unit of
/// the zone, or, when the zone has none free, the nearest one that another zone can lend while it keeps
/// `lend_reserve` free. A unit is taken by a compare-and-set on its entry in the city's unit table (`Table`), so
/// two zones never take one unit. Its work order goes to its home zone's `city.<zone>.orders` (message id
/// `order:<zone>:<case>`) before the dispatch is committed on the case, so that a crash in between repeats the same
/// order (dropped by JetStream as a republish) with the same unit, which its entry names. A unit is free again once
/// its travel and `unit_service_ms` have passed. Filed cases left without a unit are tried again each second.
///
/// Which node holds which zone: every live node announces itself (`node.<name>`, a lease too); a zone belongs to
/// the live node that ranks highest for it by rendezvous hashing, so zones spread evenly, a dead node's zones go to
/// the survivors once its leases age out, and a node that comes back takes back its own.
class ZoneNode {
public:
    static Result<std::unique_ptr<ZoneNode>> Start(const ZoneMap& map,
                                                   Bus& bus,
                                                   const incident::Taxonomy& taxonomy,
                                                   NodeOptions options);
    ~ZoneNode();
    ZoneNode(const ZoneNode&) = delete;
    ZoneNode& operator=(const ZoneNode&) = delete;

    /// One round: leases (when due), then a pull and an ingest per zone held. Returns the messages handled.
    Result<size_t> Step();
    /// Gives up every zone and the node's presence, so that the survivors take over at once.
    Status Leave();

    std::vector<std::string> Held() const;
    const NodeStats& stats() const { return stats_; }

    /// The node that a zone belongs to among `live` nodes (rendezvous hashing): stable, and it moves only the dead
    /// node's zones when a node dies.
    static std::string OwnerOf(const std::string& zone, const std::vector<std::string>& live);

private:
    struct Held_;
    ZoneNode(const ZoneMap& map, Bus& bus, const incident::Taxonomy& taxonomy, NodeOptions options);
    Status RenewLeases();
    Status Take(size_t zone);
    void Drop(size_t zone);
    Result<size_t> Pull(size_t zone);
    struct Nearby;
    /// The neighbouring zone holding the case a report near the border belongs to, if any.
    std::optional<size_t> BorderCase(size_t zone, const incident::Report& report, Nearby& nearby);
    std::shared_ptr<incident::Store> Reader(size_t zone);
    /// Whether a report was filed in a zone next to `zone` (handed over on an earlier delivery).
    bool FiledNextDoor(size_t zone, const incident::Report& report);
    /// Gives a unit to each filed case of `zone` that has none yet, while units are free. False when a commit was
    /// refused (the zone is let go).
    Result<bool> Dispatch(size_t zone);
    /// Counts a commit refused because the zone is no longer ours (fenced) or its store is down, and lets it go.
    void LoseZone(size_t zone, const Error& error);

    const ZoneMap& map_;
    Bus& bus_;
    const incident::Taxonomy& taxonomy_;
    NodeOptions options_;
    std::unique_ptr<Leases> leases_;
    std::unique_ptr<Table> units_;                           // where the map has units
    std::vector<std::unique_ptr<Held_>> held_;               // by zone index; null where not held
    std::vector<std::shared_ptr<incident::Store>> readers_;  // neighbours' stores, opened to look for their cases
    double border_m_ = 0;                                    // the widest de-duplication radius
    int64_t leases_renewed_ms_ = 0;                          // the last round whose renewals all succeeded
    int64_t next_lease_round_ms_ = 0;
    NodeStats stats_;
};

/// How far from its zone a report may be handed over: the taxonomy's widest de-duplication radius.
double BorderReachM(const incident::Taxonomy& taxonomy);

/// Creates each zone's stream that does not exist yet.
Status EnsureZoneStreams(Bus& bus, const ZoneMap& map);

/// The lease bucket's keys.
inline std::string ZoneKey(const std::string& zone) { return "zone." + zone; }
inline std::string NodeKey(const std::string& node) { return "node." + node; }
inline constexpr const char* kLeaseBucket = "city_leases";
/// The unit table's bucket, and a unit's key in it (its value: `{"case": "<zone>:<id>", "until_ms": …}`).
inline constexpr const char* kUnitBucket = "city_units";
inline std::string UnitKey(const std::string& unit) { return "unit." + unit; }
struct UnitTaken {
    std::string case_ref;  // "<zone>:<case id>"
    int64_t until_ms = 0;  // free from then on
};
std::string EncodeUnitTaken(const UnitTaken& taken);
/// An entry that does not parse (written by hand) reads as a free unit: the next take overwrites it.
UnitTaken DecodeUnitTaken(std::string_view value);

}  // namespace citybrain::zones
