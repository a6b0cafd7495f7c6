// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agents/agent_spec.hpp"
#include "agents/gateway.hpp"
#include "agents/knowledge.hpp"
#include "agents/local_model.hpp"
#include "core/error.hpp"
#include "incident/engine.hpp"
#include "nlp/gazetteer.hpp"

namespace citybrain::agents {

struct DeskOptions {
    std::vector<AgentSpec> agents;  // DefaultAgents(taxonomy) when empty
    std::string conversations_path;
    /// jieba's dictionary, for the knowledge documents' search (needed only when an agent has documents).
    std::string jieba_dict = kJiebaDict;
    const nlp::Gazetteer* gazetteer = nullptr;  // places in messages; without it the desk asks for an address
    /// Traffic near a point of the gazetteer's frame (the brain's TrafficNear); without it traffic_status says so.
    std::function<nlohmann::json(double x, double y)> traffic;
    LocalModelOptions local;
    double min_knowledge_score = 2.0;  // BM25 below this is not an answer
    std::function<incident::TimeMs()> clock;
    /// Agents whose model is not citybrain-local call it through the gateway, with this virtual key (its limits,
    /// budget and audit apply), in OpenAI's tool-calling loop.
    Gateway* gateway = nullptr;
    std::string gateway_key;
    int max_turns = 4;  // model calls per message; then a person takes over
    /// Department keys for the residents' vaults: `<agent name>.key` files (citybrain vault keygen). An agent that
    /// lists request_resident_data must have one.
    std::string vault_keys_dir;
};

struct CitizenMessage {
    std::string citizen_id;
    std::string text;
    std::optional<double> lat, lon;
    std::string message_id;  // the client's id: a retry creates no second case
    std::string via;         // the API key's name
};

/// The answer a citizen gets, and what was done.
struct DeskReply {
    std::string reply;
    std::string intent;  // report, status, question, greeting, handover, ask_location
    std::string agent;
    int64_t case_id = 0;
    bool duplicate = false;
    std::string category;
    std::string department;
    std::string department_name;
    std::string status;
    int64_t deadline_ms = 0;
    bool handover = false;
    nlohmann::json sources = nlohmann::json::array();  // knowledge passages an answer came from
    nlohmann::json tool_calls = nlohmann::json::array();
};

/// The agent runtime behind the citizen channel ("when a citizen speaks, the government responds"). Agents are
/// configuration (agent_spec.hpp); with citybrain-local each message is understood by intent rules and the
/// deterministic pipeline, and slots are filled over the conversation: a report becomes a case with its number,
/// department and deadline; a question is answered from the knowledge documents; "how is my case going" finds the
/// citizen's own case; anything unsure goes to a person. Every action is a tool call, checked against the tool's
/// schema and logged with the conversation. Thread-safe.
class CitizenDesk {
public:
    static Result<std::unique_ptr<CitizenDesk>> Open(DeskOptions options,
                                                     incident::IncidentEngine& engine,
                                                     incident::IntakeQueue& intake);
    ~CitizenDesk();
    CitizenDesk(const CitizenDesk&) = delete;
    CitizenDesk& operator=(const CitizenDesk&) = delete;

    /// Answers once, from this thread or the intake writer's (after a case is committed).
    void Converse(const CitizenMessage& message, std::function<void(Result<DeskReply>)> done);
    /// The conversation so far, oldest first.
    Result<nlohmann::json> History(const std::string& citizen_id, size_t limit);
    /// A tool called as an agent calls it: arguments checked against the tool's schema (the error names the
    /// argument), the call logged. `done` gets the tool's JSON result.
    void CallTool(const std::string& agent,
                  const std::string& tool,
                  const nlohmann::json& arguments,
                  const CitizenMessage& context,
                  std::function<void(Result<nlohmann::json>)> done);
    size_t agents() const;
    size_t knowledge_passages() const;

    struct Impl;

private:
    explicit CitizenDesk(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace citybrain::agents
