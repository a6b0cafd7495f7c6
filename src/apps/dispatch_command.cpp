// SPDX-License-Identifier: Apache-2.0
// `citybrain dispatch route`: shortest travel time between two nodes of a road network.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/commands.hpp"
#include "dispatch/contraction.hpp"
#include "io/cityflow.hpp"

namespace citybrain::apps {

namespace {

struct RouteArgs {
    std::string net;
    std::string from;
    std::string to;
    bool json = false;
};

int Route(const RouteArgs& args) {
    Result<dispatch::RoadGraph> graph = NotFound(args.net, "not loaded");
    if (args.net.size() >= 5 && args.net.compare(args.net.size() - 5, 5, ".json") == 0) {
        auto net = io::LoadRoadnet(args.net);
        if (!net.ok()) return ReportError(net.error(), args.json);
        graph = dispatch::RoadGraph::FromRoadNetwork(*net);
    } else {
        graph = dispatch::LoadRoadGraph(args.net);
    }
    if (!graph.ok()) return ReportError(graph.error(), args.json);
    auto from = graph->Find(args.from);
    if (!from.ok()) return ReportError(InvalidArgument("--from", from.error().message), args.json);
    auto to = graph->Find(args.to);
    if (!to.ok()) return ReportError(InvalidArgument("--to", to.error().message), args.json);
    auto path = dispatch::ShortestPath(*graph, *from, *to);
    if (!path) {
        return ReportError(InvalidArgument("--to", "'" + args.to + "' cannot be reached from '" + args.from + "'"),
                           args.json);
    }
    nlohmann::json nodes = nlohmann::json::array();
    for (auto v : path->nodes) nodes.push_back(graph->node_names[v]);
    if (args.json) {
        std::printf("%s\n",
                    nlohmann::json{{"travel_time_s", static_cast<double>(path->time_ms) / 1000.0},
                                   {"length_m", path->length_m},
                                   {"nodes", nodes}}
                        .dump()
                        .c_str());
        return kExitOk;
    }
    std::printf("travel time  %.1f s\nlength       %.0f m\nnodes        %s\n",
                static_cast<double>(path->time_ms) / 1000.0,
                path->length_m,
                nodes.dump().c_str());
    return kExitOk;
}

}  // namespace

void RegisterDispatch(CLI::App& app) {
    auto* dispatch = app.add_subcommand("dispatch", "dispatch engine: road routing (assignment and fleet to come)");
    dispatch->require_subcommand(1);
    auto args = std::make_shared<RouteArgs>();
    auto* route = dispatch->add_subcommand("route", "fastest route between two nodes (intersection ids)");
    route->add_option("--net", args->net, "CityFlow roadnet .json, or SUMO plain XML (.nod.xml/.edg.xml)")->required();
    route->add_option("--from", args->from, "start node")->required();
    route->add_option("--to", args->to, "destination node")->required();
    route->add_flag("--json", args->json, "machine-readable output");
    route->callback([args] { SetExitCode(Route(*args)); });
}

}  // namespace citybrain::apps
