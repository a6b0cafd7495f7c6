// SPDX-License-Identifier: Apache-2.0
#include "clinic/screener.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/utf8.hpp"

namespace citybrain::clinic {

namespace {

// IMCI's general danger signs and the adult ones, asked once if nobody said them.
constexpr const char* kSafety[] = {"呼吸困难", "抽搐", "嗜睡", "口唇发紫"};

}  // namespace

Result<Session> Screener::Start(std::string_view text, std::optional<double> age_months) const {
    if (text.empty()) return InvalidArgument("text", "must not be empty");
    if (!core::ValidUtf8(text)) return InvalidArgument("text", "is not valid UTF-8");
    if (core::Utf8Length(text) > 2000) return InvalidArgument("text", "is longer than 2,000 characters");
    if (age_months && !(*age_months >= 0 && *age_months <= 130 * 12))
        return InvalidArgument("age_months", "must be 0 to 1560");
    Session s;
    s.findings = vocabulary_->Extract(text);
    s.text = model_->TextScores(text);
    if (age_months) {
        s.findings.age_months = age_months;
        s.findings.elderly = s.findings.elderly || *age_months >= 65 * 12;
    }
    return s;
}

Status Screener::Answer(Session& session, std::string_view symptom, clinic::Answer answer) const {
    const std::string canon = vocabulary_->Canonical(symptom);
    if (!vocabulary_->Known(canon) && model_->SymptomIndex(canon) < 0)
        return InvalidArgument("symptom",
                               "'" + core::Utf8Prefix(symptom, 64) + "' is not a symptom this screening knows");
    session.findings.Set(canon, answer);
    if (std::find(session.asked.begin(), session.asked.end(), canon) == session.asked.end()) {
        const bool safety =
            std::any_of(std::begin(kSafety), std::end(kSafety), [&](const char* s) { return canon == s; });
        session.asked.push_back(canon);
        if (!safety) ++session.questions;
    }
    return {};
}

Turn Screener::Next(const Session& session) const {
    Turn t;
    Evidence ev = model_->Observe(session.findings, session.asked);
    ev.text = session.text;  // a size that is not the model's (a session stored under another model) is ignored
    const std::vector<double> post = model_->Posterior(ev);
    const std::vector<double> shown = model_->Calibrated(post);  // what is shown and triaged on
    std::vector<size_t> order(post.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return post[a] > post[b]; });
    for (size_t d : order) t.ranking.emplace_back(model_->diseases()[d], shown[d]);
    t.because = model_->Explain(ev, order.front(), 3);
    // The leading disease's words against the others', as Explain weighs each symptom.
    if (ev.text.size() == post.size()) t.words_log_ratio = LogRatioAgainstOthers(post, order.front(), ev.text);
    t.triage =
        Decide(session.findings, model_->care(order.front()), shown[order.front()], model_->diseases()[order.front()]);
    if (t.triage.care == Care::kReferNow) return t;  // no more questions: the patient goes now

    if (session.questions < options_.max_questions && post[order.front()] < options_.stop) {
        const int s = model_->NextQuestion(ev, post);
        if (s >= 0) {
            const std::string& name = model_->symptoms()[static_cast<size_t>(s)];
            t.question = Question{name, vocabulary_->Question(name), false};
            return t;
        }
    }
    if (options_.safety_questions) {
        for (const char* s : kSafety) {
            if (session.findings.Find(s) != nullptr) continue;
            t.question = Question{s, vocabulary_->Question(s), true};
            return t;
        }
    }
    return t;
}

nlohmann::json TurnJson(const Session& session, const Turn& turn) {
    nlohmann::json findings = nlohmann::json::array();
    for (const Finding& f : session.findings.items) {
        nlohmann::json x{{"symptom", f.symptom}, {"answer", AnswerName(f.answer)}};
        if (f.duration_days >= 0) x["duration_days"] = f.duration_days;
        findings.push_back(std::move(x));
    }
    nlohmann::json ranking = nlohmann::json::array();
    for (const auto& [d, p] : turn.ranking) ranking.push_back({{"disease", d}, {"probability", p}});
    nlohmann::json because = nlohmann::json::array();
    for (const Reason& r : turn.because)
        because.push_back({{"symptom", r.symptom}, {"answer", AnswerName(r.answer)}, {"log_ratio", r.log_ratio}});
    nlohmann::json flags = nlohmann::json::array();
    for (const Flag& f : turn.triage.flags)
        flags.push_back({{"rule", f.rule}, {"care", CareName(f.care)}, {"reason", f.reason}});
    nlohmann::json out{
        {"findings", findings},
        {"age_months", session.findings.age_months ? nlohmann::json(*session.findings.age_months) : nlohmann::json()},
        {"ranking", ranking},
        {"because", because},
        {"words_log_ratio", turn.words_log_ratio ? nlohmann::json(*turn.words_log_ratio) : nlohmann::json()},
        {"triage", {{"care", CareName(turn.triage.care)}, {"reason", turn.triage.reason}, {"flags", flags}}},
        {"questions_asked", session.questions}};
    if (session.findings.max_temp_c) out["max_temp_c"] = *session.findings.max_temp_c;
    if (turn.question)
        out["question"] = {
            {"symptom", turn.question->symptom}, {"text", turn.question->text}, {"safety", turn.question->safety}};
    else
        out["question"] = nullptr;
    return out;
}

}  // namespace citybrain::clinic
