// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "core/error.hpp"

namespace citybrain::apps {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitBadInput = 2;
/// `vault audit`: the log's chain does not verify.
inline constexpr int kExitAuditFailed = 3;
/// `vault request`: the vault refused (the answer and its receipt are printed).
inline constexpr int kExitRefused = 4;

/// `citybrain traffic run|compare|generate`.
void RegisterTraffic(CLI::App& app);
/// `citybrain run`: the embedded default district.
void RegisterRun(CLI::App& app);

/// `citybrain serve` and `citybrain incidents replay`.
void RegisterIncidents(CLI::App& app);

/// `citybrain nlp train|eval|cv|classify`.
void RegisterNlp(CLI::App& app);

/// `citybrain dispatch route`.
void RegisterDispatch(CLI::App& app);

/// `citybrain agents check`: agent files.
void RegisterAgents(CLI::App& app);

/// `citybrain gateway`: the model gateway alone.
void RegisterGateway(CLI::App& app);

/// `citybrain fleet-sim`: simulated robots over MQTT for a live brain.
void RegisterFleet(CLI::App& app);

/// `citybrain vision detect`: the object detector on an image.
void RegisterVision(CLI::App& app);

/// `citybrain vault …`: the resident's data vault and the department's side of it.
void RegisterVault(CLI::App& app);

/// `citybrain clinic train|eval|cv|screen`: clinic screening.
void RegisterClinic(CLI::App& app);

/// `citybrain zones partition|node|publish|status`: a city of zones over NATS JetStream.
void RegisterZones(CLI::App& app);

/// A zone node (`citybrain zones node`, and `citybrain serve --zones`): it holds zones and applies their reports;
/// with `port` ≥ 0 it also serves the city's HTTP intake (`server::ZonesApi`).
struct ZoneNodeArgs {
    std::string config, nats = "nats://127.0.0.1:4222", node, data, pg;  // the zones' stores: data or pg
    std::string address = "127.0.0.1", keys_file, access_log = "-";
    int port = -1;
};
int RunZoneNode(const ZoneNodeArgs& args);

/// Exit code set by the subcommand that ran.
int ExitCode();
void SetExitCode(int code);

/// Prints an error (stderr, and as a JSON object on stdout when `json`) and returns its exit code:
/// 2 for bad input (InvalidArgument, NotFound), 1 otherwise.
int ReportError(const Error& error, bool json);

}  // namespace citybrain::apps
