// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string_view>

#include "core/error.hpp"
#include "incident/model.hpp"

namespace citybrain::incident {

/// A device's event as a JSON object, the same over HTTP (`POST /api/v1/events`) and MQTT
/// (`citybrain/devices/{device}/events`):
///
///     {"device": "cam-0412", "type": "camera", "category": "street_vending", "lat": 22.72, "long": 114.25,
///      "confidence": 0.91, "time": "2026-06-15T07:12:00+08:00", "event_id": "e-8812",
///      "description": "cart at the kerb", "media_url": "https://…"}
///
/// `type` is camera, sensor or robot; `device` may come from the MQTT topic instead (both must agree). `time` is
/// ISO 8601 or milliseconds since the epoch; without it the event is stamped `now`. `event_id` makes a repeat (MQTT
/// redelivers at least once) the same report: the idempotency key is the device and the event id. Unknown fields
/// are refused by name, as the JSON API refuses them. The result still goes through `ValidateReport` at intake.
Result<Report> ParseDeviceEvent(std::string_view payload, std::string_view topic_device, TimeMs now);

}  // namespace citybrain::incident
