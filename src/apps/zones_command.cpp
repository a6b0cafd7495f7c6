// SPDX-License-Identifier: Apache-2.0
// `citybrain zones partition|node|publish|status`: a city of zones over NATS JetStream.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numbers>
#include <random>
#include <thread>

#include "apps/commands.hpp"
#include "apps/live_args.hpp"
#include "apps/stop_signals.hpp"
#include "core/time.hpp"
#include "incident/replay.hpp"
#include "incident/taxonomy.hpp"
#include "server/zones_api.hpp"
#include "web/assets.hpp"
#include "zones/bus.hpp"
#include "zones/intake.hpp"
#include "zones/node.hpp"
#include "zones/wire.hpp"
#include "zones/zone_map.hpp"

namespace citybrain::apps {
namespace {

struct ZonesArgs {
    std::string config;
    std::string nats = "nats://127.0.0.1:4222";
    std::string out;
    std::string acked;
    int zones = 3;
    int units = 0;  // partition: units per zone
    int64_t lease_ms = 3000;
    uint64_t count = 1000;
    uint64_t seed = 1;
    double rate = 0;
    double deadline_s = 60;
    std::string prefix = "load";
    bool json = false;
    std::string replay;  // publish: a 311 export's rows instead of a generated load
    int parties = 2;     // exchange: zone simulations in lockstep
    int64_t steps = 2000;
    int vehicles = 50;  // crossing each border per step
};

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

/// `wait`: a publisher keeps asking a restarting server until its deadline; `zones status` answers at once.
Result<std::unique_ptr<zones::Bus>> ConnectBus(const ZonesArgs& args, const zones::ZoneMap& map, bool wait) {
    zones::BusOptions options;
    options.url = args.nats;
    CB_TRY_ASSIGN(auto bus, zones::Bus::Connect(options));
    // A server restarting now answers its JetStream calls only once it has recovered its streams: keep asking,
    // as a publish would, until the command's deadline.
    const int64_t until = core::NowMs() + static_cast<int64_t>(args.deadline_s * 1000);
    for (;;) {
        Status s = zones::EnsureZoneStreams(*bus, map);
        if (s.ok()) return bus;
        if (!wait || core::NowMs() >= until) return s.error();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

/// The default district's intersections, as (lat, lon): where the generated load and the partition come from.
Result<std::vector<std::pair<double, double>>> DistrictPoints(uint64_t seed) {
    CB_TRY_ASSIGN(const district::District d, FleetDistrict(0, seed));
    std::vector<std::pair<double, double>> out;
    for (const auto& in : d.net.intersections) out.push_back(d.frame.ToWgs84(in.point));
    return out;
}

int PartitionMain(const ZonesArgs& args) {
    auto points = DistrictPoints(args.seed);
    if (!points.ok()) return ReportError(points.error(), args.json);
    auto map = zones::ZoneMap::Bisect(*points, args.zones, 0.01);
    if (!map.ok()) return ReportError(map.error(), args.json);
    if (args.lease_ms < 500) return ReportError(InvalidArgument("--lease-ms", "must be 500 or more"), args.json);
    map->lease_ms = args.lease_ms;
    if (args.units < 0 || args.units > 1000) {
        return ReportError(InvalidArgument("--units", "must be between 0 and 1000"), args.json);
    }
    // Each zone's units at its junctions, spread over them in a fixed order (so the same seed gives the same map).
    std::vector<std::vector<std::pair<double, double>>> inside(map->zones().size());
    for (const auto& [lat, lon] : *points) {
        if (const auto z = map->Locate(lat, lon)) inside[*z].emplace_back(lat, lon);
    }
    for (size_t z = 0; z < inside.size() && args.units > 0; ++z) {
        auto& at = inside[z];
        std::sort(at.begin(), at.end());
        for (int k = 0; k < args.units && !at.empty(); ++k) {
            const auto& [lat, lon] = at[(static_cast<size_t>(k) * at.size()) / static_cast<size_t>(args.units)];
            const std::string id = map->zones()[z].id + "-u" + std::to_string(k + 1);
            if (Status s = map->AddUnit(id, z, lat, lon); !s.ok()) return ReportError(s.error(), args.json);
        }
    }
    const std::string text = map->ToJson() + "\n";
    if (args.out.empty()) {
        std::fputs(text.c_str(), stdout);
    } else {
        std::ofstream f(args.out);
        f << text;
        if (!f) return ReportError(InvalidArgument("--out", args.out + ": cannot write"), args.json);
    }
    return kExitOk;
}

}  // namespace

int RunZoneNode(const ZoneNodeArgs& args) {
    if (args.port < -1 || args.port > 65535) return ReportError(InvalidArgument("--port", "must be 0 to 65535"), false);
    if (args.node.empty()) return ReportError(InvalidArgument("--node", "required with --zones"), false);
    if (args.data.empty() == args.pg.empty()) {
        return ReportError(
            InvalidArgument("--zones-data", "the zones' stores: a directory (SQLite) or --pg URL, one of them"), false);
    }
    const zones::ZoneStores stores{args.data, args.pg};
    const sigset_t signals = BlockStopSignals();
    auto map = zones::ZoneMap::Load(args.config);
    if (!map.ok()) return ReportError(map.error(), false);
    zones::BusOptions bus_options;
    bus_options.url = args.nats;
    auto bus = zones::Bus::Connect(bus_options);
    if (!bus.ok()) return ReportError(bus.error(), false);
    zones::NodeOptions options;
    options.name = args.node;
    options.stores = stores;
    auto node = zones::ZoneNode::Start(*map, **bus, incident::Taxonomy::Default(), options);
    if (!node.ok()) return ReportError(node.error(), false);
    std::fprintf(stderr,
                 "citybrain zones: node %s on %s, %zu zones in the city\n",
                 args.node.c_str(),
                 args.nats.c_str(),
                 map->zones().size());

    // The node's work on its own thread; the HTTP intake (if any) on the server's.
    std::atomic<bool> stopping{false};
    std::thread stepper([&] {
        int64_t last_error_ms = 0;
        while (!stopping.load()) {
            auto n = (*node)->Step();
            if (!n.ok()) {
                // The bus or a store is unavailable: keep trying (leases lapse on their own if it lasts).
                if (core::NowMs() - last_error_ms > 2000) {
                    std::fprintf(stderr, "citybrain zones: %s\n", n.error().ToString().c_str());
                    last_error_ms = core::NowMs();
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            } else if (*n == 0 && (*node)->Held().empty()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        }
    });
    int rc = kExitOk;
    if (args.port >= 0) {
        auto keys = server::ApiKeys::Load(std::getenv("CITYBRAIN_API_KEYS"), args.keys_file);
        auto leases = (*bus)->OpenLeases(zones::kLeaseBucket, map->lease_ms);
        if (!keys.ok() || !leases.ok()) {
            stopping = true;
            stepper.join();
            return ReportError(!keys.ok() ? keys.error() : leases.error(), false);
        }
        zones::CityIntake city(*map, **bus, **leases, stores, zones::BorderReachM(incident::Taxonomy::Default()));
        server::ZonesApi api(city, incident::Taxonomy::Default(), std::move(keys).value());
        server::ServerOptions http_options;
        http_options.address = args.address;
        http_options.port = static_cast<uint16_t>(args.port);
        http_options.access_log = args.access_log;
        server::HttpServer http([&api](const server::ApiRequest& r,
                                       const std::function<void(server::ApiResponse)>& done) { api.Handle(r, done); },
                                http_options);
        // The zones console at /: which node holds which zone.
        for (const web::Asset& a : web::Assets()) {
            if (a.path == "/zones.html") {
                http.SetDocument("/index.html", std::string(a.content_type), std::string(a.body));
            } else if (a.path == "/zones.js") {
                http.SetDocument(std::string(a.path), std::string(a.content_type), std::string(a.body));
            }
        }
        auto port = http.Start();
        if (!port.ok()) {
            rc = ReportError(port.error(), false);
        } else {
            std::fprintf(stderr,
                         "citybrain zones: node %s serves http://%s:%u/\n",
                         args.node.c_str(),
                         args.address.c_str(),
                         static_cast<unsigned>(*port));
            RunUntilStopSignal(http, signals, [&](int) { stopping = true; });
        }
        city.Stop();  // its last answers go to connections whose server has stopped
    } else {
        int sig = 0;
        (void)sigwait(&signals, &sig);
    }
    stopping = true;
    stepper.join();
    (void)(*node)->Leave();
    const zones::NodeStats& s = (*node)->stats();
    const nlohmann::json out = {{"node", args.node},
                                {"applied", s.applied},
                                {"repeated", s.repeated},
                                {"refused", s.refused},
                                {"taken", s.taken},
                                {"handed_over", s.handed_over},
                                {"fenced", s.fenced},
                                {"store_down", s.store_down},
                                {"handed_off", s.handed_off},
                                {"handed_in", s.handed_in},
                                {"dispatched", s.dispatched},
                                {"borrowed", s.borrowed},
                                {"lent", s.lent}};
    std::printf("%s\n", out.dump().c_str());
    return rc;
}

namespace {

int PublishMain(const ZonesArgs& args) {
    auto map = zones::ZoneMap::Load(args.config);
    if (!map.ok()) return ReportError(map.error(), args.json);
    if (args.prefix.empty() || args.prefix.size() > 64) {
        return ReportError(InvalidArgument("--prefix", "must be 1 to 64 characters"), args.json);
    }
    if (!(args.rate >= 0))
        return ReportError(InvalidArgument("--rate", "must be 0 (as fast as acknowledged) or more"), args.json);
    auto points = DistrictPoints(1);
    if (!points.ok()) return ReportError(points.error(), args.json);
    auto bus = ConnectBus(args, *map, true);
    if (!bus.ok()) return ReportError(bus.error(), args.json);
    std::ofstream acked;
    if (!args.acked.empty()) {
        acked.open(args.acked, std::ios::app);
        if (!acked) return ReportError(InvalidArgument("--acked", args.acked + ": cannot write"), args.json);
    }
    std::vector<zones::Bus::Outgoing> pending;
    uint64_t outside = 0, rows = 0;
    double scale = 1;  // how much a replayed export's distances shrank
    if (!args.replay.empty()) {
        // A real 311 export, moved onto the city: the middle 90 % of its rows' extent is shrunk, in metres and the
        // same in both directions, onto the zones' extent, so that the load keeps its shape (its clusters, its
        // busy streets, its hours) at the city's size; `scale` in the output says how much distances shrank.
        // Each row keeps its time, its category by the taxonomy's aliases and its stable key.
        auto csv = incident::ReadCsvReports(args.replay, incident::Taxonomy::Default());
        if (!csv.ok()) return ReportError(csv.error(), args.json);
        rows = csv->rows;
        std::vector<double> lats, lons;
        for (const auto& r : csv->reports) {
            if (r.lat) lats.push_back(*r.lat), lons.push_back(*r.lon);
        }
        if (lats.size() < 2)
            return ReportError(InvalidArgument("--replay", args.replay + ": too few rows have a place"), args.json);
        auto quantile = [](std::vector<double> v, double q) {
            std::sort(v.begin(), v.end());
            return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
        };
        const double lat_lo = quantile(lats, 0.05), lat_hi = quantile(lats, 0.95);
        const double lon_lo = quantile(lons, 0.05), lon_hi = quantile(lons, 0.95);
        double zlat_lo = 90, zlat_hi = -90, zlon_lo = 180, zlon_hi = -180;
        for (const zones::Zone& z : map->zones()) {
            for (const auto& [lon, lat] : z.polygon) {
                zlat_lo = std::min(zlat_lo, lat), zlat_hi = std::max(zlat_hi, lat);
                zlon_lo = std::min(zlon_lo, lon), zlon_hi = std::max(zlon_hi, lon);
            }
        }
        const double deg = std::numbers::pi / 180.0;
        const double cos_src = std::cos((lat_lo + lat_hi) / 2 * deg), cos_dst = std::cos((zlat_lo + zlat_hi) / 2 * deg);
        // Metres of the source per metre of the city, the tighter of the two directions.
        scale = std::min((zlat_hi - zlat_lo) / std::max(lat_hi - lat_lo, 1e-9),
                         (zlon_hi - zlon_lo) * cos_dst / std::max((lon_hi - lon_lo) * cos_src, 1e-9));
        for (incident::Report r : csv->reports) {
            if (!r.lat) {
                ++outside;
                continue;
            }
            r.lat = (zlat_lo + zlat_hi) / 2 + (*r.lat - (lat_lo + lat_hi) / 2) * scale;
            r.lon = (zlon_lo + zlon_hi) / 2 + (*r.lon - (lon_lo + lon_hi) / 2) * scale * cos_src / cos_dst;
            const auto zone = map->Locate(*r.lat, *r.lon);
            if (!zone || pending.size() >= args.count) {
                ++outside;
                continue;
            }
            std::string key = std::move(r.idempotency_key);
            pending.push_back({zones::ZoneMap::ReportsSubject(map->zones()[*zone].id), zones::EncodeReport(r), key});
        }
    } else {
        // A 311-like load: reports at the district's junctions (some repeat a place, as citizens do), spread over
        // the zones by where they are.
        static constexpr const char* kCategories[] = {
            "street_vending", "exposed_rubbish", "road_damage", "illegal_parking", "waterlogging"};
        std::mt19937_64 rng(args.seed);
        rows = args.count;
        for (uint64_t i = 0; i < args.count; ++i) {
            const auto& [lat, lon] = (*points)[rng() % points->size()];
            incident::Report r;
            r.source = incident::Source::kCitizen;
            r.time_ms = core::NowMs();
            r.lat = lat + static_cast<double>(static_cast<int64_t>(rng() % 200) - 100) * 1e-6;
            r.lon = lon + static_cast<double>(static_cast<int64_t>(rng() % 200) - 100) * 1e-6;
            r.category = kCategories[rng() % std::size(kCategories)];
            r.description = "load " + std::to_string(i);
            const auto zone = map->Locate(*r.lat, *r.lon);
            if (!zone) {
                ++outside;
                continue;
            }
            pending.push_back({zones::ZoneMap::ReportsSubject(map->zones()[*zone].id),
                               zones::EncodeReport(r),
                               args.prefix + "-" + std::to_string(i)});
        }
    }
    const auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    uint64_t acknowledged = 0, attempts = 0;
    size_t next = 0;
    std::vector<zones::Bus::Outgoing> retry;
    g_stop.store(false);
    std::signal(SIGINT, OnSignal);
    std::signal(SIGTERM, OnSignal);
    // In windows of 500; what was not acknowledged is sent again with the same id (JetStream drops a repeat of
    // what it stored) until the deadline.
    while ((next < pending.size() || !retry.empty()) && elapsed() < args.deadline_s && !g_stop.load()) {
        std::vector<zones::Bus::Outgoing> window = std::move(retry);
        retry.clear();
        while (window.size() < 500 && next < pending.size()) window.push_back(pending[next++]);
        const auto results = (*bus)->PublishAll(window);
        ++attempts;
        for (size_t i = 0; i < window.size(); ++i) {
            if (results[i].ok()) {
                ++acknowledged;
                if (acked.is_open()) acked << window[i].msg_id << '\n';
            } else {
                retry.push_back(std::move(window[i]));
            }
        }
        if (acked.is_open()) acked.flush();
        if (!retry.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (args.rate > 0) {
            const double due = static_cast<double>(acknowledged) / args.rate;
            if (due > elapsed()) std::this_thread::sleep_for(std::chrono::duration<double>(due - elapsed()));
        }
    }
    const double seconds = elapsed();
    const uint64_t failed = pending.size() - acknowledged;
    const nlohmann::json out = {{"reports", rows},
                                {"sent", pending.size()},
                                {"scale", scale},
                                {"outside", outside},
                                {"acknowledged", acknowledged},
                                {"unacknowledged", failed},
                                {"windows", attempts},
                                {"seconds", seconds},
                                {"per_s", seconds > 0 ? static_cast<double>(acknowledged) / seconds : 0}};
    std::printf("%s\n", out.dump().c_str());
    return failed == 0 ? kExitOk : kExitInternal;
}

/// One party's boundary message for a step: (from, step, count) and `count` vehicles (id, lane, position, speed),
/// made from (from, step) alone so that a receiver can check every byte.
std::string BoundaryMessage(uint32_t from, uint32_t step, uint32_t count) {
    std::string out(12 + 16 * static_cast<size_t>(count), '\0');
    const uint32_t head[3] = {from, step, count};
    std::memcpy(out.data(), head, sizeof head);
    uint64_t x = (uint64_t{from} << 32 | step) * 0x9e3779b97f4a7c15ull + 1;
    for (uint32_t k = 0; k < count; ++k) {
        x ^= x >> 31, x *= 0xbf58476d1ce4e5b9ull, x ^= x >> 29;
        const uint32_t id = static_cast<uint32_t>(x), lane = static_cast<uint32_t>(x >> 32) % 4096;
        const float pos = static_cast<float>(x % 10'000) / 100.0f,
                    speed = static_cast<float>((x >> 20) % 2000) / 100.0f;
        char* at = out.data() + 12 + 16 * static_cast<size_t>(k);
        std::memcpy(at, &id, 4);
        std::memcpy(at + 4, &lane, 4);
        std::memcpy(at + 8, &pos, 4);
        std::memcpy(at + 12, &speed, 4);
    }
    return out;
}

/// A measured prototype of coupled zone simulations: `parties` zones in a ring, each step sending the vehicles
/// that cross into each neighbour and waiting for theirs (the barrier a coupled simulation needs), over core NATS.
int ExchangeMain(const ZonesArgs& args) {
    if (args.parties < 2 || args.parties > 16)
        return ReportError(InvalidArgument("--parties", "must be 2 to 16"), args.json);
    if (args.steps < 1 || args.steps > 1'000'000)
        return ReportError(InvalidArgument("--steps", "must be 1 to 1,000,000"), args.json);
    if (args.vehicles < 0 || args.vehicles > 100'000)
        return ReportError(InvalidArgument("--vehicles", "must be 0 to 100,000"), args.json);
    const auto parties = static_cast<uint32_t>(args.parties);
    // Outside every zone stream's subjects (city.>), so that nothing of it is stored.
    const std::string prefix = "sim.exchange." + std::to_string(::getpid()) + ".";
    struct Party {
        std::unique_ptr<zones::Bus> bus;
        std::unique_ptr<zones::Subscription> sub;
        std::vector<double> step_ms;
        uint64_t mismatched = 0;
        std::string error;
    };
    std::vector<Party> party(parties);
    for (uint32_t i = 0; i < parties; ++i) {
        zones::BusOptions options;
        options.url = args.nats;
        options.send_at_once = true;
        auto bus = zones::Bus::Connect(options);
        if (!bus.ok()) return ReportError(bus.error(), args.json);
        party[i].bus = std::move(bus).value();
        auto sub = party[i].bus->Subscribe(prefix + std::to_string(i));
        if (!sub.ok()) return ReportError(sub.error(), args.json);
        party[i].sub = std::move(sub).value();
    }
    const auto started = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (uint32_t i = 0; i < parties; ++i) {
        threads.emplace_back([&, i] {
            Party& p = party[i];
            std::vector<uint32_t> neighbours = {(i + parties - 1) % parties, (i + 1) % parties};
            if (neighbours[0] == neighbours[1]) neighbours.pop_back();
            std::map<uint32_t, uint32_t> early;  // step -> messages come before their step (a neighbour ahead)
            for (uint32_t step = 0; step < static_cast<uint32_t>(args.steps); ++step) {
                const auto t0 = std::chrono::steady_clock::now();
                const auto count = static_cast<uint32_t>(args.vehicles);
                for (const uint32_t n : neighbours) {
                    if (Status s = p.bus->Send(prefix + std::to_string(n), BoundaryMessage(i, step, count)); !s.ok()) {
                        p.error = s.error().ToString();
                        return;
                    }
                }
                uint32_t got = early[step];
                early.erase(step);
                while (got < neighbours.size()) {
                    auto m = p.sub->Next(10'000);
                    if (!m.ok()) {
                        p.error = "step " + std::to_string(step) + ": " + m.error().ToString();
                        return;
                    }
                    uint32_t head[3] = {0, 0, 0};
                    if (m->size() >= sizeof head) std::memcpy(head, m->data(), sizeof head);
                    if (*m != BoundaryMessage(head[0], head[1], count)) ++p.mismatched;
                    if (head[1] == step) {
                        ++got;
                    } else {
                        ++early[head[1]];
                    }
                }
                p.step_ms.push_back(
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
            }
        });
    }
    for (auto& t : threads) t.join();
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::vector<double> all;
    uint64_t mismatched = 0;
    for (const Party& p : party) {
        if (!p.error.empty()) return ReportError(Error{ErrorCode::kUnavailable, p.error, "exchange"}, args.json);
        all.insert(all.end(), p.step_ms.begin(), p.step_ms.end());
        mismatched += p.mismatched;
    }
    std::sort(all.begin(), all.end());
    auto at = [&](double q) {
        return all[std::min(all.size() - 1, static_cast<size_t>(q * static_cast<double>(all.size())))];
    };
    const nlohmann::json out = {{"parties", parties},
                                {"steps", args.steps},
                                {"vehicles", args.vehicles},
                                {"bytes_per_message", 12 + 16 * args.vehicles},
                                {"steps_per_s", static_cast<double>(args.steps) / wall_s},
                                {"step_ms_p50", at(0.5)},
                                {"step_ms_p99", at(0.99)},
                                {"mismatched", mismatched}};
    std::printf("%s\n", out.dump().c_str());
    return mismatched == 0 ? kExitOk : 1;
}

int StatusMain(const ZonesArgs& args) {
    auto map = zones::ZoneMap::Load(args.config);
    if (!map.ok()) return ReportError(map.error(), args.json);
    auto bus = ConnectBus(args, *map, false);
    if (!bus.ok()) return ReportError(bus.error(), args.json);
    auto leases = (*bus)->OpenLeases(zones::kLeaseBucket, map->lease_ms);
    if (!leases.ok()) return ReportError(leases.error(), args.json);
    zones::CityIntake city(*map, **bus, **leases, zones::ZoneStores{});
    auto state = city.State();
    if (!state.ok()) return ReportError(state.error(), args.json);
    nlohmann::json zones = nlohmann::json::array();
    std::map<std::string, std::pair<int, int>> units_of;  // zone -> busy, all
    for (const zones::UnitView& u : state->units) {
        units_of[u.zone].first += u.busy ? 1 : 0;
        ++units_of[u.zone].second;
    }
    for (const zones::ZoneState& z : state->zones) {
        zones.push_back({{"zone", z.zone},
                         {"node", z.node},
                         {"pending", z.pending},
                         {"unacked", z.unacked},
                         {"units", units_of[z.zone].second},
                         {"units_busy", units_of[z.zone].first}});
    }
    if (args.json) {
        nlohmann::json units = nlohmann::json::array();
        for (const zones::UnitView& u : state->units) {
            units.push_back({{"id", u.id}, {"zone", u.zone}, {"busy", u.busy}, {"case", u.case_ref}});
        }
        std::printf("%s\n", nlohmann::json{{"nodes", state->nodes}, {"zones", zones}, {"units", units}}.dump().c_str());
        return kExitOk;
    }
    std::printf("nodes: %s\n", nlohmann::json(state->nodes).dump().c_str());
    std::printf("%-12s %-12s %10s %10s %12s\n", "zone", "node", "pending", "unacked", "units busy");
    for (const zones::ZoneState& z : state->zones) {
        const auto [busy, all] = units_of[z.zone];
        std::printf("%-12s %-12s %10llu %10llu %12s\n",
                    z.zone.c_str(),
                    z.node.empty() ? "-" : z.node.c_str(),
                    static_cast<unsigned long long>(z.pending),
                    static_cast<unsigned long long>(z.unacked),
                    (std::to_string(busy) + "/" + std::to_string(all)).c_str());
    }
    return kExitOk;
}

}  // namespace

void RegisterZones(CLI::App& app) {
    auto args = std::make_shared<ZonesArgs>();
    auto* cmd = app.add_subcommand("zones", "a city of zones: brain nodes over NATS JetStream");
    cmd->require_subcommand(1);

    auto* partition = cmd->add_subcommand("partition", "cut the default district into zones (a zones config)");
    partition->add_option("--zones", args->zones, "how many zones")->capture_default_str();
    partition->add_option("--lease-ms", args->lease_ms, "the zones' lease period")->capture_default_str();
    partition->add_option("--seed", args->seed, "the district's seed")->capture_default_str();
    partition->add_option("--units", args->units, "field units per zone, based at its junctions (0: no dispatch)")
        ->capture_default_str();
    partition->add_option("--out", args->out, "write the config here (default: stdout)");
    partition->callback([args] { SetExitCode(PartitionMain(*args)); });

    auto node_args = std::make_shared<ZoneNodeArgs>();
    auto* node = cmd->add_subcommand("node", "run a brain node: hold zones and apply their reports");
    node->add_option("--zones", node_args->config, "the zones config (JSON)")->required();
    node->add_option("--nats", node_args->nats, "the NATS server with JetStream")->capture_default_str();
    node->add_option("--node", node_args->node, "this node's name, unique in the city")->required();
    node->add_option("--data", node_args->data, "the zones' SQLite stores (a directory the nodes share)");
    node->add_option("--pg", node_args->pg, "the zones' stores in PostgreSQL, a schema per zone (instead of --data)");
    node->add_option("--port", node_args->port, "also serve the city's HTTP intake here (0: a free port)");
    node->add_option("--address", node_args->address, "the HTTP address")->capture_default_str();
    node->add_option("--keys-file", node_args->keys_file, "API keys (as serve's), besides CITYBRAIN_API_KEYS");
    node->callback([node_args] { SetExitCode(RunZoneNode(*node_args)); });

    auto* publish = cmd->add_subcommand("publish", "publish a generated load of reports to their zones");
    publish->add_option("--zones", args->config, "the zones config (JSON)")->required();
    publish->add_option("--nats", args->nats, "the NATS server with JetStream")->capture_default_str();
    publish->add_option("--count", args->count, "how many reports")->capture_default_str();
    publish->add_option("--seed", args->seed, "the load's seed")->capture_default_str();
    publish->add_option("--prefix", args->prefix, "message ids are PREFIX-i (the idempotency keys)")
        ->capture_default_str();
    publish->add_option("--rate", args->rate, "reports per second (0: as fast as acknowledged)");
    publish->add_option("--deadline-s", args->deadline_s, "give up retrying after this long")->capture_default_str();
    publish->add_option("--acked", args->acked, "append each acknowledged message id to this file");
    publish->add_option("--replay",
                        args->replay,
                        "a 311 export (NYC or MyLA311 CSV) to publish instead, moved onto the city (at most --count)");
    publish->callback([args] { SetExitCode(PublishMain(*args)); });

    auto* exchange = cmd->add_subcommand(
        "exchange", "measure coupled zone simulations: boundary vehicles exchanged each step, in lockstep, over NATS");
    exchange->add_option("--nats", args->nats, "the NATS server")->capture_default_str();
    exchange->add_option("--parties", args->parties, "zones in a ring, one thread and connection each")
        ->capture_default_str();
    exchange->add_option("--steps", args->steps, "simulation steps")->capture_default_str();
    exchange->add_option("--vehicles", args->vehicles, "vehicles crossing into each neighbour per step")
        ->capture_default_str();
    exchange->callback([args] { SetExitCode(ExchangeMain(*args)); });

    auto* status = cmd->add_subcommand("status", "which node holds which zone, and each zone's backlog");
    status->add_option("--zones", args->config, "the zones config (JSON)")->required();
    status->add_option("--nats", args->nats, "the NATS server with JetStream")->capture_default_str();
    status->add_flag("--json", args->json, "as JSON");
    status->callback([args] { SetExitCode(StatusMain(*args)); });
}

}  // namespace citybrain::apps
