// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for what devices and units send over MQTT: a device's event (incident::ParseDeviceEvent, also
// POST /api/v1/events) and the fleet protocol's messages (a unit's ack and state through dispatch::Fleet, and an
// order as a unit parses it). The first byte picks the parser. Any input must give a result or a clean error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dispatch/fleet.hpp"
#include "incident/device_event.hpp"

using namespace citybrain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 4) {
        case 0: {
            auto r = incident::ParseDeviceEvent(text, "", 1'781'478'000'000);
            if (r.ok() && (!r->lat || r->category.empty() || r->external_id.empty())) __builtin_trap();
            break;
        }
        case 1: {
            auto r = incident::ParseDeviceEvent(text, "cam-1", 0);
            if (r.ok() && r->external_id.rfind("cam-1", 0) != 0) __builtin_trap();
            break;
        }
        case 2: {
            dispatch::Fleet fleet;
            if (!fleet.AddUnit("u1", dispatch::UnitKind::kCrew, "n1", 0).ok()) __builtin_trap();
            (void)fleet.IssueOrder("u1", "case-1", "n2", "", 0);
            (void)fleet.Tick(0);
            const size_t nl = text.find('\n');
            const std::string_view topic =
                nl == std::string_view::npos ? "citybrain/units/u1/state" : text.substr(0, nl);
            const std::string_view payload = nl == std::string_view::npos ? text : text.substr(nl + 1);
            const uint64_t bad = fleet.stats().bad_messages;
            const bool ok = fleet.Handle(topic, payload, 10).ok();
            if (ok == (fleet.stats().bad_messages != bad)) __builtin_trap();  // refused ⇔ counted
            (void)fleet.Tick(20'000);
            break;
        }
        default: {
            // What a unit parses: an order it can act on, or a clean error it ignores (the brain retries).
            auto o = dispatch::ParseOrder(text);
            if (o.ok()) (void)dispatch::AckPayload(*o, true);
            break;
        }
    }
    return 0;
}
