// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for a city of zones' inputs: the first byte picks the parser. A zones config, a report as it
// travels on the bus, and a unit's entry in the unit table: any bytes give a clean error naming a field (or, for a
// unit's entry, a free unit), or a value that survives its round trip.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "zones/node.hpp"
#include "zones/wire.hpp"
#include "zones/zone_map.hpp"

using namespace citybrain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] % 3 == 2) {
        const zones::UnitTaken taken = zones::DecodeUnitTaken(in);
        const zones::UnitTaken back = zones::DecodeUnitTaken(zones::EncodeUnitTaken(taken));
        if (back.case_ref != taken.case_ref || back.until_ms != taken.until_ms) __builtin_trap();
        return 0;
    }
    if (data[0] % 3 == 0) {
        auto map = zones::ZoneMap::Parse(in, "z.json");
        if (!map.ok()) {
            if (map.error().where.rfind("z.json", 0) != 0) __builtin_trap();
            return 0;
        }
        auto again = zones::ZoneMap::Parse(map->ToJson(), "again");
        if (!again.ok() || again->zones().size() != map->zones().size() ||
            again->units().size() != map->units().size() || again->lend_reserve != map->lend_reserve ||
            again->unit_service_ms != map->unit_service_ms) {
            __builtin_trap();
        }
        for (const auto& z : map->zones()) {
            const auto& [lon, lat] = z.polygon.front();
            const auto at = map->Locate(lat, lon);
            if (at && *at >= map->zones().size()) __builtin_trap();
        }
        return 0;
    }
    auto report = zones::DecodeReport(in);
    if (!report.ok()) {
        if (report.error().where.empty()) __builtin_trap();
        return 0;
    }
    auto back = zones::DecodeReport(zones::EncodeReport(*report));
    if (!back.ok() || back->description != report->description || back->lat != report->lat ||
        back->time_ms != report->time_ms || back->category != report->category) {
        __builtin_trap();
    }
    return 0;
}
