// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "incident/taxonomy.hpp"

namespace citybrain::agents {

/// The brain functions an agent may be allowed to call.
inline const std::vector<std::string>& ToolNames() {
    static const std::vector<std::string> kNames{"create_case",
                                                 "case_status",
                                                 "nearest_facility",
                                                 "traffic_status",
                                                 "search_knowledge",
                                                 "handover_to_human",
                                                 "request_resident_data"};
    return kNames;
}

/// An agent is configuration: what it answers for, what it may do, what it knows and what it may spend.
struct AgentSpec {
    std::string name;
    std::string department;  // a taxonomy department code, or "*" for the front desk that takes every message
    std::string instructions;
    std::vector<std::string> tools;
    std::vector<std::string> knowledge;  // Markdown files, resolved against the agent file's folder
    std::string model = "citybrain-local";
    int64_t budget_tokens = 0;  // per day; 0: unlimited
    bool Allows(std::string_view tool) const;
};

/// One agent file (JSON): {"name", "department", "instructions", "tools", "knowledge", "model", "budget_tokens"}.
/// Errors name the file and the field; unknown fields and tools are refused by name.
Result<AgentSpec> ParseAgent(std::string_view json, const std::string& source, const std::string& base_dir);
/// Every *.json in a folder, sorted by name; names must be unique.
Result<std::vector<AgentSpec>> LoadAgentDir(const std::string& dir);
/// The agents a district has without any configuration: a front desk with every tool, and one agent per taxonomy
/// department that files its cases and answers for their status.
std::vector<AgentSpec> DefaultAgents(const incident::Taxonomy& taxonomy);

/// A tool's parameters as a JSON Schema (the subset the tools use: object, properties, required,
/// additionalProperties, type, enum, minimum, maximum, minLength, maxLength), as an LLM sees it.
const nlohmann::json& ToolSchema(std::string_view tool);
/// The tools in OpenAI's `tools` shape, for an upstream model's tool-calling loop.
nlohmann::json OpenAiTools(const AgentSpec& agent);
/// Checks arguments against a schema; the error names the path, e.g. "arguments.lat: must be a number".
Status ValidateArguments(const nlohmann::json& schema,
                         const nlohmann::json& value,
                         const std::string& path = "arguments");

}  // namespace citybrain::agents
