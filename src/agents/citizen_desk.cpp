// SPDX-License-Identifier: Apache-2.0
#include "agents/citizen_desk.hpp"

#include <cmath>
#include <map>
#include <regex>
#include <sstream>

#include "agents/conversations.hpp"
#include "agents/vault_client.hpp"
#include "core/time.hpp"
#include "core/utf8.hpp"
#include "nlp/urgency.hpp"

namespace citybrain::agents {

using nlohmann::json;

namespace {

constexpr int64_t kPendingMs =
    int64_t{30} * 60 * 1000;  // a question for a missing slot is forgotten after half an hour

bool HasAny(const std::string& text, std::initializer_list<const char*> cues) {
    for (const char* c : cues) {
        if (text.find(c) != std::string::npos) return true;
    }
    return false;
}

bool AsksStatus(const std::string& t) {
    return HasAny(t,
                  {"处理得怎么样",
                   "处理的怎么样",
                   "办得怎么样",
                   "怎么样了",
                   "进展",
                   "进度",
                   "处理了吗",
                   "处理没有",
                   "有结果",
                   "结果如何",
                   "办结了吗",
                   "回复了吗",
                   "有人管了吗",
                   "查一下我",
                   "查询一下我"});
}

bool AsksQuestion(const std::string& t) {
    return HasAny(t, {"怎么办理", "如何办理", "需要什么", "哪些材料", "什么材料", "在哪里办", "在哪办", "怎么申请",
                      "如何申请", "多久",     "什么时间", "什么时候", "几点",     "可以吗",   "能不能", "是否",
                      "请问",     "咨询",     "怎么",     "如何",     "吗？",     "吗?",      "？",     "?"});
}

bool AsksTraffic(const std::string& t) {
    return HasAny(t, {"堵不堵", "堵车吗", "堵吗", "路况", "交通情况", "拥堵吗", "好走吗", "通畅吗"});
}

bool Greets(const std::string& t) {
    return core::Utf8Length(t) <= 8 && HasAny(t, {"你好", "您好", "在吗", "hello", "hi"});
}

std::optional<int64_t> CaseNumberIn(const std::string& t) {
    static const std::regex kNumber(R"((?:编号|案件|工单|案号)\s*[:：]?\s*(\d{1,12}))");
    std::smatch m;
    if (std::regex_search(t, m, kNumber)) return std::stoll(m[1].str());
    return std::nullopt;
}

const char* StatusText(incident::CaseStatus s) {
    switch (s) {
        case incident::CaseStatus::kReported:
            return "已受理，正在核实立案";
        case incident::CaseStatus::kFiled:
            return "已立案，等待派遣";
        case incident::CaseStatus::kDispatched:
            return "已派遣至承办单位";
        case incident::CaseStatus::kHandling:
            return "正在现场处置";
        case incident::CaseStatus::kHandled:
            return "已处置完毕，等待核查";
        case incident::CaseStatus::kClosed:
            return "已核查办结";
        case incident::CaseStatus::kEvaluated:
            return "已办结并完成评价";
        case incident::CaseStatus::kRejected:
            return "经核实不予立案";
        case incident::CaseStatus::kMerged:
            return "已与同一问题的案件合并办理";
    }
    return "处理中";
}

std::string Cut(const std::string& text, size_t chars) {
    if (core::Utf8Length(text) <= chars) return text;
    size_t i = 0;
    for (size_t n = 0; n < chars && i < text.size(); ++n) {
        const auto c = static_cast<unsigned char>(text[i]);
        i += core::Utf8SequenceLength(c);
    }
    return text.substr(0, i) + "…";
}

}  // namespace

struct CitizenDesk::Impl {
    DeskOptions options;
    incident::IncidentEngine& engine;
    incident::IntakeQueue& intake;
    std::unique_ptr<Conversations> conversations;
    std::unique_ptr<LocalModel> local;
    std::unique_ptr<KnowledgeBase> knowledge;
    std::vector<AgentSpec> agents;
    std::map<std::string, vault::DepartmentKeys> vault_keys;  // by agent name

    Impl(DeskOptions o, incident::IncidentEngine& e, incident::IntakeQueue& q)
        : options(std::move(o)), engine(e), intake(q) {}

    int64_t Now() const { return options.clock ? options.clock() : core::NowMs(); }
    const incident::Taxonomy& taxonomy() const { return engine.taxonomy(); }

    const AgentSpec& Desk() const {
        for (const auto& a : agents) {
            if (a.department == "*") return a;
        }
        return agents.front();
    }
    const AgentSpec* Find(const std::string& name) const {
        for (const auto& a : agents) {
            if (a.name == name) return &a;
        }
        return nullptr;
    }
    /// The agent that answers for a department's cases: its own, else the front desk.
    const AgentSpec& ForDepartment(const std::string& department, const char* tool) const {
        for (const auto& a : agents) {
            if (a.department == department && a.Allows(tool)) return a;
        }
        return Desk();
    }
    std::string DepartmentName(const std::string& code) const {
        const auto* d = taxonomy().FindDepartment(code);
        return d != nullptr ? d->name : code;
    }

    void Tool(const AgentSpec& agent,
              const std::string& tool,
              const json& args,
              const CitizenMessage& ctx,
              std::function<void(Result<json>)> done);
    void CreateCase(const json& args, const CitizenMessage& ctx, bool handover, std::function<void(Result<json>)> done);
    Result<json> CaseStatus(const json& args, const CitizenMessage& ctx);
    Result<json> NearestFacility(const json& args);
    Result<json> TrafficStatus(const json& args);
    Result<json> SearchKnowledge(const AgentSpec& agent, const json& args);
    Result<json> ResidentData(const AgentSpec& agent, const json& args, const CitizenMessage& ctx);

    void Report(const CitizenMessage& m,
                const std::string& text,
                const std::string& address,
                bool unsure,
                DeskReply reply,
                std::function<void(Result<DeskReply>)> done);
    void Finish(const CitizenMessage& m, DeskReply reply, const std::function<void(Result<DeskReply>)>& done);
    void Local(const CitizenMessage& m, std::function<void(Result<DeskReply>)> done);

    /// The tool-calling loop with an upstream model through the gateway.
    struct Turn;
    void ModelTurn(const std::shared_ptr<Turn>& t);
    void OnModelAnswer(const std::shared_ptr<Turn>& t, int status, const std::string& answer);
    void ModelCall(const json& body, std::function<void(int status, std::string body)> done);
};

void CitizenDesk::Impl::Tool(const AgentSpec& agent,
                             const std::string& tool,
                             const json& args,
                             const CitizenMessage& ctx,
                             std::function<void(Result<json>)> done) {
    auto logged = [this, agent = agent.name, tool, args, ctx, done = std::move(done)](Result<json> r) {
        std::string outcome = r.ok() ? r.value().dump() : r.error().ToString();
        if (r.ok() && tool == "request_resident_data") {
            // The log keeps the vault's receipt, never the resident's data: that lives only in this case's answer.
            json kept = r.value();
            kept.erase("records");
            outcome = kept.dump();
        }
        (void)conversations->AppendToolCall(ctx.citizen_id, Now(), agent, tool, args, r.ok(), Cut(outcome, 2000));
        done(std::move(r));
    };
    if (!agent.Allows(tool)) {
        return logged(
            Error{ErrorCode::kFailedPrecondition, "the agent '" + agent.name + "' may not call " + tool, "tool"});
    }
    if (Status s = ValidateArguments(ToolSchema(tool), args); !s.ok()) return logged(s.error());
    if (tool == "create_case") return CreateCase(args, ctx, false, std::move(logged));
    if (tool == "handover_to_human") {
        if (args.value("text", "").empty()) return logged(json{{"queued", true}, {"case_id", 0}});
        // The person takes over a recorded case, so that nothing the citizen said is lost.
        json a = {{"text", args["text"]}};
        for (const char* k : {"lat", "long", "address"}) {
            if (args.contains(k)) a[k] = args[k];
        }
        if (!a.contains("lat") && ctx.lat && ctx.lon) {
            a["lat"] = *ctx.lat;
            a["long"] = *ctx.lon;
        }
        return CreateCase(a, ctx, true, std::move(logged));
    }
    if (tool == "case_status") return logged(CaseStatus(args, ctx));
    if (tool == "nearest_facility") return logged(NearestFacility(args));
    if (tool == "traffic_status") return logged(TrafficStatus(args));
    if (tool == "search_knowledge") return logged(SearchKnowledge(agent, args));
    if (tool == "request_resident_data") return logged(ResidentData(agent, args, ctx));
    logged(InvalidArgument("tool", "unknown tool " + tool));
}

void CitizenDesk::Impl::CreateCase(const json& args,
                                   const CitizenMessage& ctx,
                                   bool handover,
                                   std::function<void(Result<json>)> done) {
    incident::Report r;
    r.source = incident::Source::kCitizen;
    r.description = args["text"].get<std::string>();
    if (args.contains("lat") != args.contains("long")) {
        return done(InvalidArgument("arguments.lat", "lat and long come together"));
    }
    if (args.contains("lat")) {
        r.lat = args["lat"].get<double>();
        r.lon = args["long"].get<double>();
    }
    r.address = args.value("address", "");
    r.category = args.value("category", "");
    if (handover) r.category = taxonomy().Fallback().code;
    if (!r.category.empty() && taxonomy().Find(r.category) == nullptr) {
        return done(InvalidArgument("arguments.category", "'" + r.category + "' is not a service code"));
    }
    if (!ctx.message_id.empty()) r.idempotency_key = "msg:" + ctx.citizen_id + ":" + ctx.message_id;
    r.via = ctx.via;
    if (Status s = incident::ValidateReport(r, taxonomy()); !s.ok()) return done(s.error());
    intake.Submit(std::move(r), [done = std::move(done)](Result<incident::Receipt> rec) {
        if (!rec.ok()) return done(rec.error());
        done(json{{"case_id", rec->case_id},
                  {"duplicate", rec->duplicate},
                  {"retried", rec->retried},
                  {"category", rec->category},
                  {"department", rec->department},
                  {"deadline_ms", rec->deadline_ms}});
    });
}

Result<json> CitizenDesk::Impl::ResidentData(const AgentSpec& agent, const json& args, const CitizenMessage& ctx) {
    const auto key = vault_keys.find(agent.name);
    if (key == vault_keys.end()) {
        return Error{ErrorCode::kFailedPrecondition,
                     "the agent '" + agent.name + "' has no department key (--vault-keys)",
                     "tool"};
    }
    // Only for a case of this citizen's own: the data serves that case and nothing else.
    CB_TRY_ASSIGN(const std::vector<int64_t> mine, conversations->CasesOf(ctx.citizen_id));
    const int64_t case_id = args["case_id"].get<int64_t>();
    if (std::find(mine.begin(), mine.end(), case_id) == mine.end()) {
        return NotFound("arguments.case_id", "case " + std::to_string(case_id) + " is not one this citizen reported");
    }
    ReleaseAsk ask;
    ask.vault_url = args["vault_url"].get<std::string>();
    ask.grant_id = args["grant"].get<std::string>();
    ask.purpose = args["purpose"].get<std::string>();
    ask.case_id = std::to_string(case_id);
    std::stringstream fields(args["fields"].get<std::string>());
    for (std::string f; std::getline(fields, f, ',');) {
        if (f.empty()) continue;
        CB_TRY(vault::CheckFieldName(f, "arguments.fields"));
        ask.fields.push_back(f);
    }
    if (ask.fields.empty()) return InvalidArgument("arguments.fields", "names no field");
    // The vault is a device in the resident's home: its freshness check runs on the wall clock, not the brain's.
    CB_TRY_ASSIGN(ReleaseOutcome out, RequestRelease(key->second, ask, core::NowMs()));
    json result{{"released", out.released}, {"case_id", case_id}, {"receipt", out.receipt}};
    if (out.released) {
        // What a vault sent is read without trusting its shape.
        const json& data = out.opened.data;
        result["records"] = data.is_object() && data.contains("records") ? data["records"] : json::array();
        result["missing"] = data.is_object() && data.contains("missing") ? data["missing"] : json::array();
    } else {
        result["refused"] = {{"status", out.status}, {"code", out.code}, {"field", out.field}, {"reason", out.reason}};
    }
    return result;
}

Result<json> CitizenDesk::Impl::CaseStatus(const json& args, const CitizenMessage& ctx) {
    CB_TRY_ASSIGN(const std::vector<int64_t> mine, conversations->CasesOf(ctx.citizen_id));
    int64_t id = 0;
    if (args.contains("case_id")) {
        id = args["case_id"].get<int64_t>();
        if (std::find(mine.begin(), mine.end(), id) == mine.end()) {
            return NotFound("arguments.case_id", "case " + std::to_string(id) + " is not one this citizen reported");
        }
    }
    std::vector<incident::Case> cases;
    for (int64_t c : mine) {
        CB_TRY_ASSIGN(auto found, engine.GetCase(c));
        if (found) cases.push_back(*found);
    }
    if (id == 0 && !cases.empty()) {
        id = cases.front().id;  // the newest, unless the topic names another
        if (args.contains("topic")) {
            auto a = local->Analyse(args["topic"].get<std::string>());
            if (a.ok() && a->classifier != "fallback") {
                for (const auto& c : cases) {
                    if (c.category == a->category) {
                        id = c.id;
                        break;
                    }
                }
            }
        }
    }
    if (id == 0) return json{{"case_id", 0}, {"cases", 0}};
    const auto it = std::find_if(cases.begin(), cases.end(), [&](const incident::Case& c) { return c.id == id; });
    if (it == cases.end()) return NotFound("arguments.case_id", "case " + std::to_string(id) + " is not in the store");
    const incident::Case& c = *it;
    const auto* category = taxonomy().Find(c.category);
    return json{{"case_id", c.id},
                {"cases", cases.size()},
                {"status", incident::StatusName(c.status)},
                {"status_text", StatusText(c.status)},
                {"category", c.category},
                {"category_name", category != nullptr ? category->name : c.category},
                {"department", c.department},
                {"department_name", DepartmentName(c.department)},
                {"deadline_ms", c.deadline_ms},
                {"created_ms", c.created_ms},
                {"merged_into", c.merged_into}};
}

Result<json> CitizenDesk::Impl::NearestFacility(const json& args) {
    if (options.gazetteer == nullptr) {
        return Error{ErrorCode::kUnavailable, "this brain has no district map (serve --district)", "nearest_facility"};
    }
    const auto at = options.gazetteer->Locate(args["near"].get<std::string>());
    if (!at) return NotFound("arguments.near", "no street, junction or landmark of the district is named");
    const std::string kind = args["kind"].get<std::string>();
    std::string best;
    double best_m = 1e18;
    for (const auto& [name, p] : options.gazetteer->landmark_points()) {
        if (name.find(kind) == std::string::npos) continue;
        const double d = std::hypot(p.x - at->where.x, p.y - at->where.y);
        if (d < best_m) {
            best_m = d;
            best = name;
        }
    }
    if (best.empty()) return NotFound("arguments.kind", "no landmark of the district is a " + kind);
    return json{{"name", best}, {"distance_m", std::lround(best_m)}, {"from", at->name}};
}

Result<json> CitizenDesk::Impl::TrafficStatus(const json& args) {
    if (options.gazetteer == nullptr || !options.traffic) {
        return Error{
            ErrorCode::kUnavailable, "this brain has no district traffic (run, or serve --district)", "traffic_status"};
    }
    const auto at = options.gazetteer->Locate(args["near"].get<std::string>());
    if (!at) return NotFound("arguments.near", "no street, junction or landmark of the district is named");
    json t = options.traffic(at->where.x, at->where.y);
    t["place"] = at->name;
    return t;
}

Result<json> CitizenDesk::Impl::SearchKnowledge(const AgentSpec& agent, const json& args) {
    if (!knowledge) return json{{"hits", json::array()}};
    const size_t k = args.value("k", 3);
    json hits = json::array();
    for (const Hit& h : knowledge->Search(args["query"].get<std::string>(), k, agent.knowledge)) {
        const Passage& p = knowledge->passage(h.passage);
        hits.push_back({{"document", p.document}, {"heading", p.heading}, {"text", p.text}, {"score", h.score}});
    }
    return json{{"hits", hits}};
}

void CitizenDesk::Impl::Finish(const CitizenMessage& m,
                               DeskReply reply,
                               const std::function<void(Result<DeskReply>)>& done) {
    const int64_t now = Now();
    (void)conversations->Append({m.citizen_id, now, "citizen", "", m.text, reply.intent, reply.case_id});
    (void)conversations->Append({m.citizen_id, now, "agent", reply.agent, reply.reply, reply.intent, reply.case_id});
    done(std::move(reply));
}

void CitizenDesk::Impl::Report(const CitizenMessage& m,
                               const std::string& text,
                               const std::string& address,
                               bool unsure,
                               DeskReply reply,
                               std::function<void(Result<DeskReply>)> done) {
    json args = {{"text", text}};
    if (m.lat && m.lon) {
        args["lat"] = *m.lat;
        args["long"] = *m.lon;
    }
    if (!address.empty()) args["address"] = address;
    const AgentSpec& desk = Desk();
    const std::string tool = unsure || !desk.Allows("create_case") ? "handover_to_human" : "create_case";
    if (tool == "handover_to_human") args["reason"] = unsure ? "分类不确定" : "前台无立案权限";
    auto after = [this, m, reply, unsure, tool, args, done = std::move(done)](Result<json> r) mutable {
        reply.tool_calls.push_back({{"tool", tool}, {"arguments", args}, {"ok", r.ok()}});
        if (!r.ok()) return done(r.error());
        const json& c = r.value();
        reply.case_id = c.value("case_id", int64_t{0});
        reply.duplicate = c.value("duplicate", false);
        reply.category = c.value("category", "");
        reply.department = c.value("department", "");
        reply.department_name = DepartmentName(reply.department);
        reply.deadline_ms = c.value("deadline_ms", int64_t{0});
        reply.status = "reported";
        reply.agent = ForDepartment(reply.department, "create_case").name;
        std::string answer =
            nlp::AcknowledgementReply(std::to_string(reply.case_id), reply.department_name, reply.deadline_ms);
        if (reply.duplicate) answer = "该问题已有市民反映，您的反映已并入同一案件办理。" + answer;
        if (unsure) {
            reply.handover = true;
            reply.intent = "handover";
            answer += "由于需要人工确认问题类别，已转人工坐席，工作人员将尽快与您联系。";
        }
        reply.reply = std::move(answer);
        Finish(m, std::move(reply), done);
    };
    Tool(desk, tool, args, m, std::move(after));
}

CitizenDesk::CitizenDesk(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CitizenDesk::~CitizenDesk() = default;

Result<std::unique_ptr<CitizenDesk>> CitizenDesk::Open(DeskOptions options,
                                                       incident::IncidentEngine& engine,
                                                       incident::IntakeQueue& intake) {
    auto impl = std::make_unique<Impl>(std::move(options), engine, intake);
    impl->agents = impl->options.agents.empty() ? DefaultAgents(engine.taxonomy()) : impl->options.agents;
    if (std::none_of(
            impl->agents.begin(), impl->agents.end(), [](const AgentSpec& a) { return a.department == "*"; })) {
        return InvalidArgument("--agents", "no front-desk agent (department \"*\") to take citizens' messages");
    }
    for (const auto& a : impl->agents) {
        if (a.department != "*" && engine.taxonomy().FindDepartment(a.department) == nullptr) {
            return InvalidArgument(
                "--agents", "agent '" + a.name + "': '" + a.department + "' is not a department of the taxonomy");
        }
    }
    for (const auto& a : impl->agents) {
        if (a.model != kLocalModel && impl->options.gateway == nullptr) {
            return InvalidArgument("--agents",
                                   "agent '" + a.name + "' uses the model " + a.model +
                                       ", which needs the model gateway (--gateway-config and "
                                       "CITYBRAIN_AGENTS_KEY)");
        }
    }
    for (const auto& a : impl->agents) {
        if (!a.Allows("request_resident_data")) continue;
        if (impl->options.vault_keys_dir.empty()) {
            return InvalidArgument("--vault-keys",
                                   "agent '" + a.name + "' may request residents' data and needs its key (" + a.name +
                                       ".key in the --vault-keys folder)");
        }
        CB_TRY_ASSIGN(vault::DepartmentKeys k,
                      vault::LoadDepartmentKeys(impl->options.vault_keys_dir + "/" + a.name + ".key"));
        impl->vault_keys.emplace(a.name, std::move(k));
    }
    CB_TRY_ASSIGN(impl->conversations, Conversations::Open(impl->options.conversations_path));
    LocalModelOptions local = impl->options.local;
    local.taxonomy = &engine.taxonomy();
    if (impl->options.gazetteer != nullptr && !local.locate) local.locate = LocateWith(*impl->options.gazetteer);
    CB_TRY_ASSIGN(LocalModel model, LocalModel::Create(std::move(local)));
    impl->local = std::make_unique<LocalModel>(std::move(model));
    bool any_docs = false;
    for (const auto& a : impl->agents) any_docs = any_docs || !a.knowledge.empty();
    if (any_docs) {
        CB_TRY_ASSIGN(Segmenter seg, Segmenter::Load(impl->options.jieba_dict));
        impl->knowledge = std::make_unique<KnowledgeBase>(std::make_shared<const Segmenter>(std::move(seg)));
        for (const auto& a : impl->agents) {
            for (const std::string& f : a.knowledge) CB_TRY(impl->knowledge->AddFile(f));
        }
    }
    return std::unique_ptr<CitizenDesk>(new CitizenDesk(std::move(impl)));
}

size_t CitizenDesk::agents() const { return impl_->agents.size(); }
size_t CitizenDesk::knowledge_passages() const { return impl_->knowledge ? impl_->knowledge->size() : 0; }

void CitizenDesk::CallTool(const std::string& agent,
                           const std::string& tool,
                           const json& arguments,
                           const CitizenMessage& context,
                           std::function<void(Result<json>)> done) {
    const AgentSpec* a = impl_->Find(agent);
    if (a == nullptr) return done(NotFound("agent", "no agent named '" + agent + "'"));
    impl_->Tool(*a, tool, arguments, context, std::move(done));
}

Result<json> CitizenDesk::History(const std::string& citizen_id, size_t limit) {
    CB_TRY_ASSIGN(auto rows, impl_->conversations->History(citizen_id, limit));
    json out = json::array();
    for (const auto& u : rows) {
        out.push_back({{"time", core::FormatTimestamp(u.ts_ms)},
                       {"role", u.role},
                       {"agent", u.agent},
                       {"text", u.text},
                       {"intent", u.intent},
                       {"case_id", u.case_id}});
    }
    return out;
}

/// One message's conversation with an upstream model: the messages so far, the turns taken, the reply being built.
struct CitizenDesk::Impl::Turn {
    CitizenMessage message;
    const AgentSpec* agent = nullptr;
    json messages = json::array();
    int turns = 0;
    DeskReply reply;
    std::function<void(Result<DeskReply>)> done;
};

namespace {

/// Collects the gateway's answer to an in-process call.
class CollectingResponder : public Responder {
public:
    explicit CollectingResponder(std::function<void(int, std::string)> done) : done_(std::move(done)) {}
    void Reply(int status, std::string, std::string body, Headers) override { done_(status, std::move(body)); }
    void Begin(int status, std::string, Headers) override { status_ = status; }
    bool Write(std::string piece) override {
        body_ += piece;
        return true;
    }
    void End() override { done_(status_, std::move(body_)); }

private:
    std::function<void(int, std::string)> done_;
    int status_ = 0;
    std::string body_;
};

}  // namespace

void CitizenDesk::Impl::ModelCall(const json& body, std::function<void(int, std::string)> done) {
    GatewayRequest req{"POST", "/v1/chat/completions", body.dump(), options.gateway_key, "desk"};
    options.gateway->Handle(req, std::make_shared<CollectingResponder>(std::move(done)));
}

void CitizenDesk::Impl::ModelTurn(const std::shared_ptr<Turn>& t) {
    if (t->turns++ >= options.max_turns) {
        t->reply.intent = "handover";
        t->reply.handover = true;
        t->reply.reply = "这个问题需要人工进一步处理，已转人工坐席，工作人员将尽快与您联系。";
        (void)conversations->AppendToolCall(t->message.citizen_id,
                                            Now(),
                                            t->agent->name,
                                            "handover_to_human",
                                            json{{"reason", "the model used all its turns"}},
                                            true,
                                            "{}");
        return Finish(t->message, std::move(t->reply), t->done);
    }
    const json body = {{"model", t->agent->model},
                       {"messages", t->messages},
                       {"tools", OpenAiTools(*t->agent)},
                       {"tool_choice", "auto"},
                       {"temperature", 0.2}};
    ModelCall(body, [this, t](int status, const std::string& answer) {
        try {
            OnModelAnswer(t, status, answer);
        } catch (const std::exception& e) {
            // An answer shaped in a way no check foresaw: the deterministic pipeline answers the citizen instead.
            (void)conversations->AppendToolCall(
                t->message.citizen_id, Now(), t->agent->name, "model", json(), false, e.what());
            Local(t->message, t->done);
        }
    });
}

void CitizenDesk::Impl::OnModelAnswer(const std::shared_ptr<Turn>& t, int status, const std::string& answer) {
    {
        const json doc = json::parse(answer, nullptr, false);
        const bool ok = status == 200 && doc.is_object() && doc.contains("choices") && doc["choices"].is_array() &&
                        !doc["choices"].empty() && doc["choices"][0].is_object() &&
                        doc["choices"][0].contains("message") && doc["choices"][0]["message"].is_object();
        if (!ok) {
            // The model is unreachable or over its key's limits: the deterministic pipeline answers instead.
            (void)conversations->AppendToolCall(t->message.citizen_id,
                                                Now(),
                                                t->agent->name,
                                                "model",
                                                json{{"model", t->agent->model}},
                                                false,
                                                "HTTP " + std::to_string(status) + ": " + Cut(answer, 300));
            return Local(t->message, t->done);
        }
        const json& msg = doc["choices"][0]["message"];
        const json calls = msg.contains("tool_calls") && msg["tool_calls"].is_array() ? msg["tool_calls"] : json();
        if (!calls.is_array() || calls.empty()) {
            t->reply.reply = msg.contains("content") && msg["content"].is_string() ? msg["content"].get<std::string>()
                                                                                   : std::string();
            if (t->reply.reply.empty()) t->reply.reply = "您的诉求已收到，我们将尽快处理。";
            if (t->reply.intent.empty()) t->reply.intent = "answer";
            return Finish(t->message, std::move(t->reply), t->done);
        }
        t->messages.push_back(
            {{"role", "assistant"}, {"content", msg.value("content", json())}, {"tool_calls", calls}});
        // The calls run one after another; each result goes back to the model as a tool message.
        auto pending = std::make_shared<std::vector<json>>(calls.begin(), calls.end());
        // The step holds itself only weakly; whoever waits on a tool (its callback) holds it strongly, so it lives
        // exactly as long as calls remain.
        auto run_next = std::make_shared<std::function<void()>>();
        std::weak_ptr<std::function<void()>> weak = run_next;
        *run_next = [this, t, pending, weak] {
            if (pending->empty()) return ModelTurn(t);
            auto next = weak.lock();
            const json call = pending->front();
            pending->erase(pending->begin());
            const std::string id =
                call.is_object() && call.contains("id") && call["id"].is_string() ? call["id"].get<std::string>() : "";
            const json fn = call.is_object() && call.contains("function") && call["function"].is_object()
                                ? call["function"]
                                : json::object();
            const std::string name = fn.contains("name") && fn["name"].is_string() ? fn["name"].get<std::string>() : "";
            const json args = fn.contains("arguments") && fn["arguments"].is_string()
                                  ? json::parse(fn["arguments"].get<std::string>(), nullptr, false)
                                  : json(json::value_t::discarded);
            auto answer_tool = [this, t, id, name, args, next](Result<json> r) {
                t->reply.tool_calls.push_back({{"tool", name}, {"arguments", args}, {"ok", r.ok()}});
                json content;
                if (r.ok()) {
                    content = r.value();
                    if (name == "create_case" || name == "handover_to_human") {
                        t->reply.case_id = content.value("case_id", int64_t{0});
                        t->reply.department = content.value("department", "");
                        t->reply.department_name = DepartmentName(t->reply.department);
                        t->reply.deadline_ms = content.value("deadline_ms", int64_t{0});
                        t->reply.category = content.value("category", "");
                        t->reply.intent = name == "create_case" ? "report" : "handover";
                        t->reply.handover = name == "handover_to_human";
                        t->reply.status = t->reply.case_id > 0 ? "reported" : "";
                    }
                } else {
                    // The model hears what was wrong, by argument, and may try again within its turns.
                    content = {{"error", r.error().where + ": " + r.error().message}};
                }
                t->messages.push_back({{"role", "tool"}, {"tool_call_id", id}, {"content", content.dump()}});
                (*next)();
            };
            if (args.is_discarded()) {
                (void)conversations->AppendToolCall(
                    t->message.citizen_id, Now(), t->agent->name, name, json(), false, "arguments: not JSON");
                return answer_tool(InvalidArgument("arguments", "not valid JSON"));
            }
            Tool(*t->agent, name, args, t->message, answer_tool);
        };
        (*run_next)();
    }
}

void CitizenDesk::Converse(const CitizenMessage& m, std::function<void(Result<DeskReply>)> done) {
    Impl& d = *impl_;
    const AgentSpec& desk = d.Desk();
    if (desk.model != kLocalModel) {
        auto t = std::make_shared<Impl::Turn>();
        t->message = m;
        t->agent = &desk;
        t->done = std::move(done);
        t->reply.agent = desk.name;
        const std::string system =
            desk.instructions +
            "\n你通过工具办理：反映问题用 create_case（必须有 text，位置用 address 或 lat/long），查询进度用 "
            "case_status，政策问题用 search_knowledge，无法处理时用 handover_to_human。回复要包含案件编号、承办部门和"
            "办理时限（如有）。";
        t->messages.push_back({{"role", "system"}, {"content", system}});
        if (auto history = d.conversations->History(m.citizen_id, 10); history.ok()) {
            for (const auto& u : *history) {
                t->messages.push_back({{"role", u.role == "citizen" ? "user" : "assistant"}, {"content", u.text}});
            }
        }
        std::string user = m.text;
        if (m.lat && m.lon) {
            user += "\n（位置坐标：" + std::to_string(*m.lat) + ", " + std::to_string(*m.lon) + "）";
        }
        t->messages.push_back({{"role", "user"}, {"content", user}});
        return d.ModelTurn(t);
    }
    d.Local(m, std::move(done));
}

void CitizenDesk::Impl::Local(const CitizenMessage& m, std::function<void(Result<DeskReply>)> done) {
    Impl& d = *this;

    auto analysis = d.local->Analyse(m.text);
    if (!analysis.ok()) return done(InvalidArgument("text", analysis.error().message));
    const std::string text = m.text;
    DeskReply reply;
    reply.agent = d.Desk().name;
    auto pending = d.conversations->Pending(m.citizen_id);
    if (!pending.ok()) return done(pending.error());
    std::optional<PendingReport> waiting = *pending;
    if (waiting && d.Now() - waiting->ts_ms > kPendingMs) waiting.reset();

    if (Greets(text) && !waiting) {
        reply.intent = "greeting";
        reply.reply =
            "您好！我是龙岗区政务服务助手。您可以直接描述遇到的问题和位置（例如：龙城大道路灯不亮），也可以查询"
            "已反映问题的办理进度，或咨询办事政策。";
        return d.Finish(m, std::move(reply), done);
    }
    if (AsksStatus(text) || CaseNumberIn(text)) {
        json args = {{"topic", text}};
        if (auto n = CaseNumberIn(text)) args["case_id"] = *n;
        reply.intent = "status";
        return d.Tool(d.Desk(), "case_status", args, m, [&d, m, reply, args, done](Result<json> r) mutable {
            reply.tool_calls.push_back({{"tool", "case_status"}, {"arguments", args}, {"ok", r.ok()}});
            if (!r.ok()) {
                if (r.error().code != ErrorCode::kNotFound) return done(r.error());
                reply.reply = "没有查到您名下编号为" + std::to_string(args.value("case_id", 0)) +
                              "的案件，请核对编号；如需反映新问题，请直接描述问题和位置。";
                return d.Finish(m, std::move(reply), done);
            }
            const json& c = r.value();
            reply.case_id = c.value("case_id", int64_t{0});
            if (reply.case_id == 0) {
                reply.reply = "暂未查到您反映过的案件。如需反映问题，请直接描述问题和位置。";
                return d.Finish(m, std::move(reply), done);
            }
            reply.status = c["status"];
            reply.category = c["category"];
            reply.department = c["department"];
            reply.department_name = c["department_name"];
            reply.deadline_ms = c["deadline_ms"];
            reply.agent = d.ForDepartment(reply.department, "case_status").name;
            std::string t = "您反映的" + c["category_name"].get<std::string>() + "问题（案件编号" +
                            std::to_string(reply.case_id) + "）" + c["status_text"].get<std::string>() +
                            "，承办部门：" + reply.department_name;
            if (reply.deadline_ms > 0 && reply.status != "closed" && reply.status != "evaluated") {
                t += "，本环节办理时限：" + nlp::DeadlineText(reply.deadline_ms);
            }
            t += "。";
            if (c.value("merged_into", int64_t{0}) > 0) {
                t += "该问题已并入案件" + std::to_string(c["merged_into"].get<int64_t>()) + "一并办理。";
            }
            reply.reply = std::move(t);
            d.Finish(m, std::move(reply), done);
        });
    }
    if (AsksTraffic(text) && d.Desk().Allows("traffic_status")) {
        const json args = {{"near", Cut(text, 200)}};
        reply.intent = "traffic";
        return d.Tool(d.Desk(), "traffic_status", args, m, [&d, m, reply, args, done](Result<json> r) mutable {
            reply.tool_calls.push_back({{"tool", "traffic_status"}, {"arguments", args}, {"ok", r.ok()}});
            if (!r.ok()) {
                reply.reply = r.error().code == ErrorCode::kNotFound
                                  ? "请告诉我想查询的道路或路口名称，例如：龙城大道与龙翔大道路口现在堵不堵？"
                                  : "暂时无法获取实时路况，请稍后再试。";
                return d.Finish(m, std::move(reply), done);
            }
            const json& t = r.value();
            if (!t.value("available", false) || !t.contains("level")) {
                reply.reply = t.value("available", false) ? t["place"].get<std::string>() + "附近暂无道路数据。"
                                                          : "暂时无法获取实时路况，请稍后再试。";
                return d.Finish(m, std::move(reply), done);
            }
            static const std::map<std::string, std::string> kLevel{
                {"free", "畅通"}, {"slow", "缓行"}, {"jammed", "拥堵"}};
            std::string out = t["place"].get<std::string>() + "附近当前路况：" + kLevel.at(t["level"]) + "。";
            for (const json& road : t["roads"]) {
                out += road["name"].get<std::string>() + "平均车速约" +
                       std::to_string(road["speed_kmh"].get<int64_t>()) + "公里/小时（限速" +
                       std::to_string(road["limit_kmh"].get<int64_t>()) + "）；";
            }
            reply.reply = std::move(out);
            d.Finish(m, std::move(reply), done);
        });
    }
    const bool unsure = analysis->classifier == "fallback";
    if (AsksQuestion(text) && (unsure || !waiting)) {
        json args = {{"query", text}, {"k", 3}};
        auto r = Result<json>(json{{"hits", json::array()}});
        bool called = false;
        if (d.Desk().Allows("search_knowledge")) {
            d.Tool(d.Desk(), "search_knowledge", args, m, [&](Result<json> x) {
                r = std::move(x);
                called = true;
            });
        }
        const json hits = r.ok() ? r.value().value("hits", json::array()) : json::array();
        if (called) reply.tool_calls.push_back({{"tool", "search_knowledge"}, {"arguments", args}, {"ok", r.ok()}});
        if (!hits.empty() && hits[0]["score"].get<double>() >= d.options.min_knowledge_score) {
            reply.intent = "question";
            const json& h = hits[0];
            reply.reply = "根据《" + h["document"].get<std::string>() + "》（" + h["heading"].get<std::string>() +
                          "）：" + Cut(h["text"].get<std::string>(), 300);
            for (const json& x : hits) {
                reply.sources.push_back(
                    {{"document", x["document"]}, {"heading", x["heading"]}, {"score", x["score"]}});
            }
            return d.Finish(m, std::move(reply), done);
        }
        if (unsure) {
            // A question the documents do not answer and no category fits: a person answers it.
            reply.intent = "handover";
            reply.handover = true;
            json h = {{"reason", "知识库无答案"}};
            d.Tool(d.Desk(), "handover_to_human", h, m, [](const Result<json>&) {});
            reply.tool_calls.push_back({{"tool", "handover_to_human"}, {"arguments", h}, {"ok", true}});
            reply.reply = "这个问题我暂时无法准确回答，已转人工坐席，工作人员将尽快答复您。";
            return d.Finish(m, std::move(reply), done);
        }
    }
    // A report. Its place: coordinates sent with it, a place named in it, or the citizen's answer when asked.
    std::string report_text = text;
    std::string address;
    if (waiting) {
        report_text = waiting->text;
        address = Cut(text, 100);
        CitizenMessage with = m;
        if (!with.lat && waiting->lat) {
            with.lat = waiting->lat;
            with.lon = waiting->lon;
        }
        (void)d.conversations->ClearPending(m.citizen_id);
        auto again = d.local->Analyse(report_text + " " + text);
        const bool unsure_now = !again.ok() || again->classifier == "fallback";
        if (again.ok() && again->place) address = again->place->name;
        reply.intent = "report";
        return d.Report(with,
                        report_text + "（地点：" + Cut(text, 100) + "）",
                        address,
                        unsure_now,
                        std::move(reply),
                        std::move(done));
    }
    if (!(m.lat && m.lon)) {
        if (analysis->place) {
            address = analysis->place->name;
        } else {
            (void)d.conversations->SetPending(m.citizen_id, {text, d.Now(), m.lat, m.lon});
            reply.intent = "ask_location";
            reply.category = analysis->category;
            reply.department = analysis->department;
            reply.department_name = analysis->department_name;
            reply.reply = "收到，您反映的是" + analysis->category_name +
                          "问题。请告诉我具体位置（路名、路口或附近的地标），以便安排处理。";
            return d.Finish(m, std::move(reply), done);
        }
    }
    reply.intent = "report";
    d.Report(m, report_text, address, unsure, std::move(reply), std::move(done));
}

}  // namespace citybrain::agents
