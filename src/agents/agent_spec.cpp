// SPDX-License-Identifier: Apache-2.0
#include "agents/agent_spec.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/file.hpp"
#include "core/utf8.hpp"

namespace citybrain::agents {

using nlohmann::json;

bool AgentSpec::Allows(std::string_view tool) const {
    return std::find(tools.begin(), tools.end(), tool) != tools.end();
}

Result<AgentSpec> ParseAgent(std::string_view text, const std::string& source, const std::string& base_dir) {
    const json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return InvalidArgument(source, "must be a JSON object");
    static const std::set<std::string> kFields{
        "name", "department", "instructions", "tools", "knowledge", "model", "budget_tokens"};
    for (const auto& [k, v] : doc.items()) {
        if (kFields.count(k) == 0) return InvalidArgument(source + ": " + k, "unknown field");
    }
    AgentSpec a;
    auto text_field = [&](const char* name, std::string& out, bool required) -> Status {
        if (!doc.contains(name)) {
            if (required) return InvalidArgument(source + ": " + name, "missing");
            return {};
        }
        if (!doc[name].is_string() || (required && doc[name].get<std::string>().empty())) {
            return InvalidArgument(source + ": " + name, "must be a non-empty string");
        }
        out = doc[name].get<std::string>();
        return {};
    };
    CB_TRY(text_field("name", a.name, true));
    CB_TRY(text_field("department", a.department, true));
    CB_TRY(text_field("instructions", a.instructions, false));
    CB_TRY(text_field("model", a.model, false));
    if (a.model.empty()) a.model = "citybrain-local";
    if (doc.contains("tools")) {
        if (!doc["tools"].is_array()) return InvalidArgument(source + ": tools", "must be an array of tool names");
        for (size_t i = 0; i < doc["tools"].size(); ++i) {
            const json& t = doc["tools"][i];
            const std::string at = source + ": tools[" + std::to_string(i) + "]";
            if (!t.is_string()) return InvalidArgument(at, "must be a tool name");
            const auto& names = ToolNames();
            if (std::find(names.begin(), names.end(), t.get<std::string>()) == names.end()) {
                return InvalidArgument(
                    at,
                    "'" + t.get<std::string>() +
                        "' is not a tool (create_case, case_status, nearest_facility, "
                        "traffic_status, search_knowledge, handover_to_human, request_resident_data)");
            }
            a.tools.push_back(t.get<std::string>());
        }
    }
    if (doc.contains("knowledge")) {
        if (!doc["knowledge"].is_array()) return InvalidArgument(source + ": knowledge", "must be an array of files");
        for (size_t i = 0; i < doc["knowledge"].size(); ++i) {
            const json& k = doc["knowledge"][i];
            if (!k.is_string() || k.get<std::string>().empty()) {
                return InvalidArgument(source + ": knowledge[" + std::to_string(i) + "]", "must be a file name");
            }
            std::filesystem::path p(k.get<std::string>());
            if (p.is_relative() && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
            a.knowledge.push_back(p.lexically_normal().string());
        }
        if (!a.Allows("search_knowledge")) {
            return InvalidArgument(source + ": knowledge", "documents need the search_knowledge tool");
        }
    }
    if (doc.contains("budget_tokens")) {
        if (!doc["budget_tokens"].is_number_integer() || doc["budget_tokens"].get<int64_t>() < 0) {
            return InvalidArgument(source + ": budget_tokens", "must be a non-negative integer");
        }
        a.budget_tokens = doc["budget_tokens"].get<int64_t>();
    }
    return a;
}

Result<std::vector<AgentSpec>> LoadAgentDir(const std::string& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) return InvalidArgument("--agents", "'" + dir + "' is not a folder");
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    std::vector<AgentSpec> agents;
    agents.reserve(files.size());
    std::set<std::string> names;
    for (const std::string& f : files) {
        CB_TRY_ASSIGN(const std::string text, core::ReadFile(f));
        CB_TRY_ASSIGN(AgentSpec a, ParseAgent(text, f, dir));
        if (!names.insert(a.name).second) return InvalidArgument(f + ": name", "'" + a.name + "' is used twice");
        agents.push_back(std::move(a));
    }
    if (agents.empty()) return InvalidArgument("--agents", "'" + dir + "' has no agent files (*.json)");
    return agents;
}

std::vector<AgentSpec> DefaultAgents(const incident::Taxonomy& taxonomy) {
    std::vector<AgentSpec> out;
    AgentSpec desk;
    desk.name = "front-desk";
    desk.department = "*";
    desk.instructions = "受理市民诉求：识别意图，立案并告知编号、承办部门和时限；查询进度；解答政策；不确定时转人工。";
    // Every tool but the resident's data, which an operator gives an agent on purpose, with its department key.
    for (const std::string& t : ToolNames()) {
        if (t != "request_resident_data") desk.tools.push_back(t);
    }
    out.push_back(desk);
    for (const auto& d : taxonomy.departments()) {
        AgentSpec a;
        a.name = "dept-" + d.code;
        a.department = d.code;
        a.instructions = d.name + "的办件助手：为本部门立案，回答本部门案件的进度。";
        a.tools = {"create_case", "case_status", "handover_to_human"};
        out.push_back(std::move(a));
    }
    return out;
}

const json& ToolSchema(std::string_view tool) {
    static const std::unordered_map<std::string, json> kSchemas = {
        {"create_case",
         {{"type", "object"},
          {"description", "立案：把市民反映的问题登记为案件，交承办部门办理"},
          {"properties",
           {{"text", {{"type", "string"}, {"minLength", 1}, {"maxLength", 4000}}},
            {"lat", {{"type", "number"}, {"minimum", -90}, {"maximum", 90}}},
            {"long", {{"type", "number"}, {"minimum", -180}, {"maximum", 180}}},
            {"address", {{"type", "string"}, {"maxLength", 200}}},
            {"category", {{"type", "string"}, {"maxLength", 64}}}}},
          {"required", {"text"}},
          {"additionalProperties", false}}},
        {"case_status",
         {{"type", "object"},
          {"description", "查询市民本人案件的办理进度"},
          {"properties",
           {{"case_id", {{"type", "integer"}, {"minimum", 1}}}, {"topic", {{"type", "string"}, {"maxLength", 200}}}}},
          {"additionalProperties", false}}},
        {"nearest_facility",
         {{"type", "object"},
          {"description", "某地附近最近的设施（学校、医院、公园、市场等地标）"},
          {"properties",
           {{"kind", {{"type", "string"}, {"minLength", 1}, {"maxLength", 20}}},
            {"near", {{"type", "string"}, {"minLength", 1}, {"maxLength", 200}}}}},
          {"required", {"kind", "near"}},
          {"additionalProperties", false}}},
        {"traffic_status",
         {{"type", "object"},
          {"description", "某条道路或路口附近当前的路况（平均车速与限速之比）"},
          {"properties", {{"near", {{"type", "string"}, {"minLength", 1}, {"maxLength", 200}}}}},
          {"required", {"near"}},
          {"additionalProperties", false}}},
        {"search_knowledge",
         {{"type", "object"},
          {"description", "检索政策与办事指南"},
          {"properties",
           {{"query", {{"type", "string"}, {"minLength", 1}, {"maxLength", 500}}},
            {"k", {{"type", "integer"}, {"minimum", 1}, {"maximum", 5}}}}},
          {"required", {"query"}},
          {"additionalProperties", false}}},
        {"request_resident_data",
         {{"type", "object"},
          {"description",
           "在居民授权范围内向居民的数据保险箱申请其个人数据（仅用于该案件）：vault_url 与 grant 由居民提供，"
           "fields 为逗号分隔的 类型.字段（如 identity.name,residence_permit.expires），purpose 须与授权一致"},
          {"properties",
           {{"vault_url", {{"type", "string"}, {"minLength", 8}, {"maxLength", 200}}},
            {"grant", {{"type", "string"}, {"minLength", 32}, {"maxLength", 32}}},
            {"fields", {{"type", "string"}, {"minLength", 1}, {"maxLength", 1000}}},
            {"purpose", {{"type", "string"}, {"minLength", 1}, {"maxLength", 200}}},
            {"case_id", {{"type", "integer"}, {"minimum", 1}}}}},
          {"required", {"vault_url", "grant", "fields", "purpose", "case_id"}},
          {"additionalProperties", false}}},
        {"handover_to_human",
         {{"type", "object"},
          {"description", "转人工坐席"},
          {"properties",
           {{"reason", {{"type", "string"}, {"minLength", 1}, {"maxLength", 200}}},
            {"text", {{"type", "string"}, {"maxLength", 4000}}},
            {"lat", {{"type", "number"}, {"minimum", -90}, {"maximum", 90}}},
            {"long", {{"type", "number"}, {"minimum", -180}, {"maximum", 180}}},
            {"address", {{"type", "string"}, {"maxLength", 200}}}}},
          {"required", {"reason"}},
          {"additionalProperties", false}}},
    };
    static const json kEmpty = json::object();
    const auto it = kSchemas.find(std::string(tool));
    return it == kSchemas.end() ? kEmpty : it->second;
}

json OpenAiTools(const AgentSpec& agent) {
    json tools = json::array();
    for (const std::string& t : agent.tools) {
        json params = ToolSchema(t);
        const std::string description = params.value("description", "");
        params.erase("description");
        tools.push_back(
            {{"type", "function"}, {"function", {{"name", t}, {"description", description}, {"parameters", params}}}});
    }
    return tools;
}

Status ValidateArguments(const json& schema, const json& value, const std::string& path) {
    const std::string type = schema.value("type", "");
    if (type == "object") {
        if (!value.is_object()) return InvalidArgument(path, "must be an object");
        const json props = schema.value("properties", json::object());
        for (const auto& r : schema.value("required", json::array())) {
            if (!value.contains(r.get<std::string>()))
                return InvalidArgument(path + "." + r.get<std::string>(), "missing");
        }
        for (const auto& [k, v] : value.items()) {
            if (!props.contains(k)) {
                if (!schema.value("additionalProperties", true))
                    return InvalidArgument(path + "." + k, "unknown field");
                continue;
            }
            CB_TRY(ValidateArguments(props[k], v, path + "." + k));
        }
        return {};
    }
    if (type == "string") {
        if (!value.is_string()) return InvalidArgument(path, "must be a string");
        const std::string& s = value.get_ref<const std::string&>();
        if (!core::ValidUtf8(s)) return InvalidArgument(path, "not valid UTF-8");
        const size_t n = core::Utf8Length(s);
        if (schema.contains("minLength") && n < schema["minLength"].get<size_t>()) {
            return InvalidArgument(path, "must not be empty");
        }
        if (schema.contains("maxLength") && n > schema["maxLength"].get<size_t>()) {
            return InvalidArgument(path,
                                   "longer than " + std::to_string(schema["maxLength"].get<size_t>()) + " characters");
        }
    } else if (type == "integer") {
        if (!value.is_number_integer()) return InvalidArgument(path, "must be an integer");
    } else if (type == "number") {
        if (!value.is_number()) return InvalidArgument(path, "must be a number");
    } else if (type == "boolean") {
        if (!value.is_boolean()) return InvalidArgument(path, "must be true or false");
    }
    if ((type == "integer" || type == "number") && value.is_number()) {
        const double x = value.get<double>();
        if (schema.contains("minimum") && x < schema["minimum"].get<double>()) {
            return InvalidArgument(path, "must be at least " + schema["minimum"].dump());
        }
        if (schema.contains("maximum") && x > schema["maximum"].get<double>()) {
            return InvalidArgument(path, "must be at most " + schema["maximum"].dump());
        }
    }
    if (schema.contains("enum") &&
        std::find(schema["enum"].begin(), schema["enum"].end(), value) == schema["enum"].end()) {
        return InvalidArgument(path, "must be one of " + schema["enum"].dump());
    }
    return {};
}

}  // namespace citybrain::agents
