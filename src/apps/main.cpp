// SPDX-License-Identifier: Apache-2.0
// The `citybrain` command: thin wiring from flags to the engines' facades.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/commands.hpp"

namespace {

int Main(int argc, char** argv) {
    using namespace citybrain::apps;
    CLI::App app{"CityBrain: the district's cloud brain"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "citybrain 0.1.0");
    RegisterTraffic(app);
    RegisterRun(app);
    RegisterIncidents(app);
    RegisterDispatch(app);
    RegisterNlp(app);
    RegisterFleet(app);
    RegisterGateway(app);
    RegisterAgents(app);
    RegisterVision(app);
    RegisterClinic(app);
    RegisterVault(app);
    RegisterZones(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "error: %s\nRun with --help for usage.\n", e.what());
        return kExitBadInput;
    }
    return ExitCode();
}

}  // namespace

int main(int argc, char** argv) {
    // A broken invariant somewhere below: say so and exit 1, never terminate with an uncaught exception.
    try {
        return Main(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "internal error: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "internal error: an unknown exception\n");
    }
    return citybrain::apps::kExitInternal;
}
