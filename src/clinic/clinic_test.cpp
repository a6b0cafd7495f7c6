// SPDX-License-Identifier: Apache-2.0
#include "clinic/clinic.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "clinic/evaluate.hpp"
#include "clinic/findings.hpp"
#include "clinic/model.hpp"
#include "clinic/screener.hpp"
#include "clinic/triage.hpp"
#include "core/file.hpp"
#include "core/utf8.hpp"

namespace citybrain::clinic {
namespace {

const Vocabulary& V() { return Vocabulary::Default(); }

TEST(Findings, SymptomsDurationAndNegationFromThePatientsWords) {
    const Findings f = V().Extract("咳嗽三天了，晚上更厉害，有点发烧，流鼻涕，不拉肚子，没有咳痰");
    ASSERT_NE(f.Find("咳嗽"), nullptr);
    EXPECT_EQ(f.Find("咳嗽")->answer, Answer::kYes);
    EXPECT_EQ(f.Find("咳嗽")->duration_days, 3);
    EXPECT_TRUE(f.Has("发烧"));
    EXPECT_TRUE(f.Has("流涕"));  // 流鼻涕 is one mention, not 鼻涕 + something
    ASSERT_NE(f.Find("腹泻"), nullptr);
    EXPECT_EQ(f.Find("腹泻")->answer, Answer::kNo);
    ASSERT_NE(f.Find("咳痰"), nullptr);
    EXPECT_EQ(f.Find("咳痰")->answer, Answer::kNo);
}

TEST(Findings, NegationCuesThatAreNotNegations) {
    // 不停 (non-stop), 不退 (will not come down): the symptom is there.
    const Findings f = V().Extract("孩子咳个不停，发烧不退");
    EXPECT_TRUE(f.Has("咳嗽"));
    EXPECT_TRUE(f.Has("发烧"));
    // A negation does not reach over a comma.
    const Findings g = V().Extract("不是很严重，咳嗽");
    EXPECT_TRUE(g.Has("咳嗽"));
    const Findings allergy = V().Extract("孩子不过敏，不过咳嗽比较厉害");
    ASSERT_NE(allergy.Find("过敏"), nullptr);
    EXPECT_EQ(allergy.Find("过敏")->answer, Answer::kNo);  // 不过敏: not allergic
    EXPECT_TRUE(allergy.Has("咳嗽"));                      // 不过: but
    const Findings h = V().Extract("不发烧");
    ASSERT_NE(h.Find("发烧"), nullptr);
    EXPECT_EQ(h.Find("发烧")->answer, Answer::kNo);
}

TEST(Findings, AgeTemperatureAndTheElderly) {
    EXPECT_DOUBLE_EQ(V().Extract("宝宝七个月大，发烧").age_months.value_or(-1), 7);
    EXPECT_DOUBLE_EQ(V().Extract("孩子3岁，咳嗽").age_months.value_or(-1), 36);
    EXPECT_NEAR(V().Extract("出生20天的宝宝吐奶").age_months.value_or(-1), 20.0 / 30, 1e-9);
    // "两个月" after a symptom is how long it lasted, not an age.
    const Findings d = V().Extract("咳嗽两个月了");
    EXPECT_FALSE(d.age_months.has_value());
    EXPECT_EQ(d.Find("咳嗽")->duration_days, 60);
    const Findings t = V().Extract("烧到39.5度");
    EXPECT_DOUBLE_EQ(t.max_temp_c.value_or(0), 39.5);
    EXPECT_TRUE(t.Has("高热"));
    EXPECT_TRUE(V().Extract("奶奶咳嗽").elderly);
    EXPECT_TRUE(V().Extract("患者72岁，咳嗽").elderly);
    EXPECT_FALSE(V().Extract("孩子5岁，咳嗽").elderly);
}

TEST(Findings, TextWithNoSymptomGivesNothing) {
    EXPECT_TRUE(V().Extract("").items.empty());
    EXPECT_TRUE(V().Extract("你好，请问几点开门？").items.empty());
}

TEST(Vocabulary, BadFilesAreRefusedByField) {
    auto twice = Vocabulary::Parse(R"({"symptoms":[{"name":"咳嗽"},{"name":"咳嗽"}]})", "v.json");
    ASSERT_FALSE(twice.ok());
    EXPECT_NE(twice.error().ToString().find("symptoms[1].name"), std::string::npos);
    auto clash =
        Vocabulary::Parse(R"({"symptoms":[{"name":"a","synonyms":["x"]},{"name":"b","synonyms":["x"]}]})", "v.json");
    ASSERT_FALSE(clash.ok());
    EXPECT_NE(clash.error().ToString().find("symptoms[1].synonyms[0]"), std::string::npos);
    EXPECT_FALSE(Vocabulary::Parse("[]", "v.json").ok());
    auto question = Vocabulary::Parse(R"({"symptoms":[{"name":"a","question":7}]})", "v.json");
    ASSERT_FALSE(question.ok());
    EXPECT_EQ(question.error().where, "v.json: symptoms[0].question");
    EXPECT_EQ(V().Canonical("发热"), "发烧");  // MuZhi's name for DXY's
    EXPECT_EQ(V().Canonical("鼻流涕"), "流涕");
}

std::vector<Case> Synthetic() {
    // A: always X, Y at random; B: never X. Z is noise for both.
    std::vector<Case> cases;
    for (int i = 0; i < 40; ++i) {
        Case a;
        a.disease = "A";
        a.volunteered = {{"Y", i % 2 == 0}};
        a.elicited = {{"X", true}, {"Z", i % 3 == 0}};
        cases.push_back(a);
        Case b;
        b.disease = "B";
        b.volunteered = {{"Y", i % 2 == 1}};
        b.elicited = {{"X", false}, {"Z", i % 3 == 1}};
        cases.push_back(b);
    }
    return cases;
}

TEST(Model, AsksTheQuestionThatSeparatesAndExplains) {
    auto m = Model::Train(Synthetic(), V());
    ASSERT_TRUE(m.ok()) << m.error().ToString();
    Findings f;
    f.Set("Y", Answer::kYes);
    Evidence ev = m->Observe(f);
    auto post = m->Posterior(ev);
    EXPECT_NEAR(post[0], 0.5, 0.05);
    const int q = m->NextQuestion(ev, post);
    ASSERT_GE(q, 0);
    EXPECT_EQ(m->symptoms()[static_cast<size_t>(q)], "X");
    f.Set("X", Answer::kYes);
    EXPECT_NEAR(m->Posterior(m->Observe(f))[0], 0.5, 0.05);  // said unasked, X tells nothing: nobody ever did
    ev = m->Observe(f, {"X"});                               // the answer to the question
    post = m->Posterior(ev);
    EXPECT_GT(post[0], 0.95);
    const auto why = m->Explain(ev, 0, 3);
    ASSERT_FALSE(why.empty());
    EXPECT_EQ(why.front().symptom, "X");
}

TEST(Model, SavesAndLoadsTheSamePosteriors) {
    auto m = Model::Train(Synthetic(), V());
    ASSERT_TRUE(m.ok());
    const auto path = std::filesystem::temp_directory_path() / "clinic_model_test.json";
    ASSERT_TRUE(m->Save(path.string()).ok());
    auto back = Model::Load(path.string());
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    Findings f;
    f.Set("X", Answer::kNo);
    f.Set("Z", Answer::kUnsure);
    EXPECT_EQ(m->Posterior(m->Observe(f)), back->Posterior(back->Observe(f)));
    std::ofstream(path) << R"({"format":5})";
    EXPECT_FALSE(Model::Load(path.string()).ok());
    EXPECT_FALSE(Model::FromKnowledge(
                     R"({"diseases":[{"name":"a","symptoms":{}},{"name":"b","symptoms":{}}],"unsure":"x"})", "kb.json")
                     .ok());
    std::ofstream(path) << R"({"format":"something-else"})";
    auto bad = Model::Load(path.string());
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().ToString().find("format"), std::string::npos);
    std::filesystem::remove(path);
}

TEST(Calibration, ShownProbabilitiesKeepTheOrderAndSoftenAboveOne) {
    auto m = Model::Train(Synthetic(), V());
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->Calibrated({0.8, 0.2}), (std::vector<double>{0.8, 0.2}));  // temperature 1: unchanged
    ASSERT_TRUE(m->set_temperature(2).ok());
    const auto soft = m->Calibrated({0.8, 0.2});  // sqrt(0.8) : sqrt(0.2) = 2 : 1
    EXPECT_NEAR(soft[0], 2.0 / 3.0, 1e-12);
    EXPECT_NEAR(soft[1], 1.0 / 3.0, 1e-12);
    EXPECT_FALSE(m->set_temperature(0).ok());
    auto nan = m->set_temperature(std::nan(""));
    ASSERT_FALSE(nan.ok());
    EXPECT_EQ(nan.error().where, "temperature");
}

TEST(Calibration, AnOverConfidentModelIsCooledByItsOwnCrossValidation) {
    // Five names for one sign that is right 70 % of the time: naive Bayes counts it five times over, and says 0.99
    // where the truth is 0.7.
    std::vector<Case> cases;
    for (int i = 0; i < 100; ++i) {
        const bool sign = i % 10 < 7;
        Case a, b;
        a.disease = "A";
        b.disease = "B";
        for (const char* s : {"S1", "S2", "S3", "S4", "S5"}) {
            a.volunteered.emplace_back(s, sign);
            b.volunteered.emplace_back(s, !sign);
        }
        cases.push_back(a);
        cases.push_back(b);
    }
    auto raw = Model::Train(cases, V());
    auto m = TrainCalibrated(cases, V(), Model::TrainOptions{}, EvalOptions{});
    ASSERT_TRUE(raw.ok() && m.ok());
    EXPECT_GT(m->temperature(), 3.0);  // the five copies, undone (about 5)
    EXPECT_LT(m->temperature(), 8.0);
    const EvalResult before = Evaluate(*raw, cases, V(), EvalOptions{});
    const EvalResult after = Evaluate(*m, cases, V(), EvalOptions{});
    EXPECT_EQ(after.top1, before.top1);  // the ranking is the same
    EXPECT_GT(before.ece, 0.2);
    EXPECT_LT(after.ece, 0.05);
    EXPECT_LT(after.brier, before.brier);

    const auto path = std::filesystem::temp_directory_path() / "clinic_calibrated_test.json";
    ASSERT_TRUE(m->Save(path.string()).ok());
    auto back = Model::Load(path.string());
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    EXPECT_DOUBLE_EQ(back->temperature(), m->temperature());
    auto doc = nlohmann::json::parse(core::ReadFile(path.string()).value());
    doc["temperature"] = 50;
    std::ofstream(path) << doc.dump();
    auto hot = Model::Load(path.string());
    ASSERT_FALSE(hot.ok());
    EXPECT_EQ(hot.error().where, path.string() + ": temperature");
    std::filesystem::remove(path);
}

TEST(VolunteerModel, WhatAPatientDoesNotSayIsEvidenceToo) {
    // Three in four of A's patients say they have diarrhoea; B's never mention it, and nobody asks. Both have a
    // fever at random, and half have a cough on record that only a question finds (A yes, B no).
    std::vector<Case> cases;
    for (int i = 0; i < 40; ++i) {
        Case a, b;
        a.disease = "A";
        b.disease = "B";
        a.volunteered = {{"发烧", i % 2 == 0}};
        if (i % 4 != 0) a.volunteered.emplace_back("腹泻", true);
        b.volunteered = {{"发烧", i % 2 == 1}};
        if (i % 2 == 0) {
            a.elicited = {{"咳嗽", true}};
            b.elicited = {{"咳嗽", false}};
        }
        cases.push_back(a);
        cases.push_back(b);
    }
    Model::TrainOptions alike;
    alike.volunteered = false;
    auto plain = Model::Train(cases, V(), alike);
    auto apart = Model::Train(cases, V());
    ASSERT_TRUE(plain.ok() && apart.ok());
    EXPECT_FALSE(plain->has_volunteer_model());
    ASSERT_TRUE(apart->has_volunteer_model());
    Findings f;
    f.Set("发烧", Answer::kYes);
    EXPECT_NEAR(plain->Posterior(plain->Observe(f))[0], 0.5, 0.05);  // only what was said counts
    EXPECT_LT(apart->Posterior(apart->Observe(f))[0], 0.3);          // A's patient would likely have said diarrhoea
    f.Set("咳嗽", Answer::kYes);  // then asked: a cough, which only A's patients have
    EXPECT_GT(apart->Posterior(apart->Observe(f, {"咳嗽"}))[0], 0.8);

    // With no questions to ask (a question about diarrhoea would find as much), the training data's own CV chooses
    // it; --no-volunteer-model keeps every answer alike.
    EvalOptions no_questions;
    no_questions.max_questions = 0;
    auto chosen = TrainCalibrated(cases, V(), Model::TrainOptions{}, no_questions);
    ASSERT_TRUE(chosen.ok());
    EXPECT_TRUE(chosen->has_volunteer_model());
    EXPECT_GT(Evaluate(*chosen, cases, V(), no_questions).top1, Evaluate(*plain, cases, V(), no_questions).top1);
    auto refused = TrainCalibrated(cases, V(), alike, no_questions);
    ASSERT_TRUE(refused.ok());
    EXPECT_FALSE(refused->has_volunteer_model());

    const auto path = std::filesystem::temp_directory_path() / "clinic_volunteer_model_test.json";
    ASSERT_TRUE(apart->Save(path.string()).ok());
    auto back = Model::Load(path.string());
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    EXPECT_TRUE(back->has_volunteer_model());
    EXPECT_EQ(back->Posterior(back->Observe(f, {"咳嗽"})), apart->Posterior(apart->Observe(f, {"咳嗽"})));
    auto doc = nlohmann::json::parse(core::ReadFile(path.string()).value());
    doc["volunteered"].erase(0);
    std::ofstream(path) << doc.dump();
    auto shortened = Model::Load(path.string());
    ASSERT_FALSE(shortened.ok());
    EXPECT_EQ(shortened.error().where, path.string() + ": volunteered");
    std::filesystem::remove(path);
}

// Two diseases with the same symptoms, told apart only by how the parents describe them.
std::vector<Case> Worded() {
    const char* rash[] = {"宝宝手上有疱疹", "手心脚心长了疱疹", "嘴里有疱疹，手上也有", "屁股上有红疹子"};
    const char* stool[] = {"宝宝拉肚子，水样便", "大便稀，一天拉五次", "拉水样的大便", "大便有奶瓣，拉得多"};
    std::vector<Case> cases;
    for (int i = 0; i < 40; ++i) {
        Case a, b;
        a.disease = "A";
        b.disease = "B";
        a.volunteered = b.volunteered = {{"发烧", i % 2 == 0}};
        a.elicited = b.elicited = {{"咳嗽", i % 3 == 0}};
        a.self_report = rash[i % 4];
        b.self_report = stool[i % 4];
        cases.push_back(a);
        cases.push_back(b);
    }
    return cases;
}

TEST(TextModel, TheParentsWordsSeparateWhatTheSymptomsDoNot) {
    auto m = Model::Train(Worded(), V());
    ASSERT_TRUE(m.ok()) << m.error().ToString();
    ASSERT_TRUE(m->has_text_model());
    EXPECT_TRUE(m->TextScores("手上有疱疹").empty());  // weight 0: the words are not read
    ASSERT_TRUE(m->set_text_weight(0.5).ok());
    EXPECT_FALSE(m->set_text_weight(3).ok());
    EXPECT_FALSE(m->set_text_weight(std::nan("")).ok());
    EXPECT_TRUE(m->TextScores("，。！？ ...").empty());  // no letters: no evidence

    Findings f;
    f.Set("发烧", Answer::kYes);
    Evidence ev = m->Observe(f);
    EXPECT_NEAR(m->Posterior(ev)[0], 0.5, 0.01);  // the symptoms alone cannot tell
    ev.text = m->TextScores("孩子脚上起了疱疹");
    ASSERT_EQ(ev.text.size(), 2u);
    EXPECT_GT(m->Posterior(ev)[0], 0.8);  // A: the rash
    ev.text = m->TextScores("这两天拉肚子");
    EXPECT_LT(m->Posterior(ev)[0], 0.2);

    // Chosen on out-of-fold consultations: here the words are all there is to go on.
    auto cal = TrainCalibrated(Worded(), V(), Model::TrainOptions{}, EvalOptions{});
    ASSERT_TRUE(cal.ok());
    EXPECT_GT(cal->text_weight(), 0);
    EXPECT_EQ(Evaluate(*cal, Worded(), V(), EvalOptions{}).top1, 1.0);
    EvalOptions no_words;
    no_words.text_model = false;
    auto plain = TrainCalibrated(Worded(), V(), Model::TrainOptions{}, no_words);
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain->text_weight(), 0);
    EXPECT_LT(Evaluate(*plain, Worded(), V(), no_words).top1, 0.7);

    // Saved and read back with the same scores; a damaged table is refused by name.
    const auto path = std::filesystem::temp_directory_path() / "clinic_text_model_test.json";
    ASSERT_TRUE(m->Save(path.string()).ok());
    auto back = Model::Load(path.string());
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    EXPECT_EQ(back->TextScores("手上有疱疹"), m->TextScores("手上有疱疹"));
    auto doc = nlohmann::json::parse(core::ReadFile(path.string()).value());
    std::swap(doc["text"]["grams"][0], doc["text"]["grams"][1]);
    std::ofstream(path) << doc.dump();
    auto unsorted = Model::Load(path.string());
    ASSERT_FALSE(unsorted.ok());
    EXPECT_EQ(unsorted.error().where, path.string() + ": text");
    std::swap(doc["text"]["grams"][0], doc["text"]["grams"][1]);
    doc["text"]["unseen"][0] = 0.5;
    std::ofstream(path) << doc.dump();
    EXPECT_FALSE(Model::Load(path.string()).ok());
    doc["text"]["unseen"][0] = -1;
    doc["text"]["weight"] = -1;
    std::ofstream(path) << doc.dump();
    auto heavy = Model::Load(path.string());
    ASSERT_FALSE(heavy.ok());
    EXPECT_EQ(heavy.error().where, path.string() + ": text.weight");
    std::filesystem::remove(path);
}

TEST(TextModel, ALongTextGivesAFiniteRatioAndRanking) {
    auto m = Model::Train(Worded(), V());
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE(m->set_text_weight(2).ok());
    const Screener screener(*m, V(), ScreenerOptions{});
    std::string text;
    while (core::Utf8Length(text) < 1990) text += "手上疱疹";
    auto session = screener.Start(text, std::nullopt);
    ASSERT_TRUE(session.ok()) << session.error().ToString();
    const Turn t = screener.Next(*session);
    ASSERT_TRUE(t.words_log_ratio.has_value());
    EXPECT_TRUE(std::isfinite(*t.words_log_ratio));
    EXPECT_GT(*t.words_log_ratio, 100);  // thousands of characters that only A's parents write
    EXPECT_EQ(t.ranking.front().first, "A");
    EXPECT_TRUE(std::isfinite(t.ranking.front().second));
    EXPECT_FALSE(TurnJson(*session, t)["words_log_ratio"].is_null());
}

TEST(TextModel, AStoredSessionKeepsWhatTheWordsSaidButNotTheWords) {
    auto m = Model::Train(Worded(), V());
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE(m->set_text_weight(0.5).ok());
    const auto path = std::filesystem::temp_directory_path() / "clinic_text_sessions_test.db";
    std::filesystem::remove(path);
    std::string id;
    {
        auto c = Clinic::Open(path.string(), *m, V(), ScreenerOptions{});
        ASSERT_TRUE(c.ok()) << c.error().ToString();
        auto first = (*c)->Start("孩子发烧，左手心有疱疹", std::nullopt, 1000);
        ASSERT_TRUE(first.ok()) << first.error().ToString();
        id = (*first)["session_id"].get<std::string>();
        EXPECT_EQ((*first)["ranking"][0]["disease"], "A");
        EXPECT_GT((*first)["words_log_ratio"].get<double>(), 1.0);  // the ranking says the words made it
    }
    auto again = Clinic::Open(path.string(), *m, V(), ScreenerOptions{});
    ASSERT_TRUE(again.ok());
    auto next = (*again)->Answer(id, "咳嗽", "no", 2000);
    ASSERT_TRUE(next.ok()) << next.error().ToString();
    EXPECT_EQ((*next)["ranking"][0]["disease"], "A");  // the words' evidence outlived the restart
    EXPECT_GT((*next)["ranking"][0]["probability"].get<double>(), 0.8);
    again->reset();
    const std::string bytes = core::ReadFile(path.string()).value();
    EXPECT_EQ(bytes.find("左手"), std::string::npos);  // the patient's words are not stored (疱疹 is, as a finding)
    std::filesystem::remove(path);
}

TEST(Model, DatasetEntriesAreCheckedByIndex) {
    auto bad = ParseCases(
        R"([{"disease":"A","explicit":{"咳嗽":true}},{"disease":"B","explicit":{"咳嗽":"yes"}}])", "d.json", V());
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().ToString().find("[1].explicit.咳嗽"), std::string::npos);
    auto nodisease = ParseCases(R"([{"explicit":{}}])", "d.json", V());
    ASSERT_FALSE(nodisease.ok());
    EXPECT_NE(nodisease.error().ToString().find("[0].disease"), std::string::npos);
    auto one = ParseCases(R"([{"disease":"A","explicit":{"发热":true},"implicit":{"发烧":false}}])", "d.json", V());
    ASSERT_TRUE(one.ok());
    // Both names are one symptom: volunteered wins, and it is not counted twice.
    ASSERT_EQ(one->front().volunteered.size(), 1u);
    EXPECT_TRUE(one->front().elicited.empty());
}

TEST(Model, TheEmbeddedKnowledgeBaseRanksACommonCold) {
    const Model& kb = Model::Default();
    const Screener s(kb, V(), ScreenerOptions{});
    auto session = s.Start("孩子三岁，流鼻涕，鼻塞，嗓子疼，有点咳嗽", std::nullopt);
    ASSERT_TRUE(session.ok());
    const Turn t = s.Next(*session);
    EXPECT_EQ(t.ranking.front().first, "上呼吸道感染");
    EXPECT_EQ(t.triage.care, Care::kSelfCare);
    ASSERT_TRUE(t.question.has_value());
    double total = 0;
    for (const auto& [d, p] : t.ranking) total += p;
    EXPECT_NEAR(total, 1.0, 1e-9);
}

TEST(Screener, RefusesBadInputByName) {
    const Screener s(Model::Default(), V(), ScreenerOptions{});
    auto empty = s.Start("", std::nullopt);
    ASSERT_FALSE(empty.ok());
    EXPECT_EQ(empty.error().where, "text");
    auto bad = s.Start("\xff\xfe", std::nullopt);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().where, "text");
    auto age = s.Start("咳嗽", -3.0);
    ASSERT_FALSE(age.ok());
    EXPECT_EQ(age.error().where, "age_months");
    auto ok = s.Start("咳嗽", std::nullopt);
    ASSERT_TRUE(ok.ok());
    auto st = s.Answer(*ok, "会飞", Answer::kYes);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().where, "symptom");
    EXPECT_FALSE(ParseAnswer("maybe", "answer").ok());
    EXPECT_EQ(ParseAnswer("没有", "answer").value(), Answer::kNo);
}

TEST(Screener, AsksAtMostTheLimitThenTheDangerSignsThenStops) {
    const Screener s(Model::Default(), V(), ScreenerOptions{3, 0.999, true});
    auto session = s.Start("咳嗽", std::nullopt);
    ASSERT_TRUE(session.ok());
    int diagnostic = 0, safety = 0;
    for (int turn = 0; turn < 20; ++turn) {
        const Turn t = s.Next(*session);
        if (!t.question) break;
        (t.question->safety ? safety : diagnostic) += 1;
        if (t.question->safety) {
            EXPECT_EQ(diagnostic, 3) << "danger signs come after the diagnostic questions";
        }
        ASSERT_TRUE(s.Answer(*session, t.question->symptom, Answer::kUnsure).ok());
    }
    EXPECT_EQ(diagnostic, 3);
    EXPECT_EQ(safety, 4);
    EXPECT_EQ(session->questions, 3);
}

TEST(Screener, ARedFlagEndsTheQuestionsAndWinsOverTheRanking) {
    const Screener s(Model::Default(), V(), ScreenerOptions{});
    auto session = s.Start("孩子三岁，流鼻涕打喷嚏", std::nullopt);
    ASSERT_TRUE(session.ok());
    ASSERT_TRUE(s.Answer(*session, "呼吸困难", Answer::kYes).ok());
    const Turn t = s.Next(*session);
    EXPECT_EQ(t.triage.care, Care::kReferNow);
    EXPECT_EQ(t.triage.flags.front().rule, "breathing_difficulty");
    EXPECT_FALSE(t.question.has_value());
    EXPECT_NE(t.ranking.front().first, "肺炎");  // the ranking did not decide it
}

// Every rule fires on its own vignettes (tests/clinic/vignettes.json); a vignette that expects a referral never gets
// less (red-flag recall 100 %), and the self-care ones are not sent to a doctor.
TEST(Triage, VignettesGetTheirTriageAndEveryRuleIsTested) {
    auto text = core::ReadFile(std::string(CB_SOURCE_DIR) + "/tests/clinic/vignettes.json");
    ASSERT_TRUE(text.ok());
    const auto doc = nlohmann::json::parse(*text);
    const Screener s(Model::Default(), V(), ScreenerOptions{});
    std::map<std::string, int> fired;
    int urgent = 0, caught = 0, calm = 0, calm_kept = 0;
    for (const auto& v : doc["vignettes"]) {
        const std::string t = v["text"].get<std::string>();
        std::optional<double> age;
        if (v.contains("age_months")) age = v["age_months"].get<double>();
        auto session = s.Start(t, age);
        ASSERT_TRUE(session.ok()) << t;
        const Turn turn = s.Next(*session);
        const Care want = CareFromName(v["expect"].get<std::string>());
        if (want != Care::kSelfCare) {
            ++urgent;
            if (turn.triage.care >= want) ++caught;
            EXPECT_GE(turn.triage.care, want) << t << " got " << CareName(turn.triage.care);
            ASSERT_TRUE(v.contains("rule")) << t;
            bool found = false;
            for (const auto& f : turn.triage.flags) found = found || f.rule == v["rule"].get<std::string>();
            EXPECT_TRUE(found) << t << ": rule " << v["rule"] << " did not fire";
            if (found) ++fired[v["rule"].get<std::string>()];
        } else {
            ++calm;
            if (turn.triage.care == Care::kSelfCare) ++calm_kept;
            EXPECT_EQ(turn.triage.care, Care::kSelfCare) << t << ": " << turn.triage.reason;
        }
    }
    EXPECT_GE(urgent, 50);
    EXPECT_EQ(caught, urgent) << "red-flag recall " << caught << "/" << urgent;
    EXPECT_EQ(calm_kept, calm);
    // Each rule RedFlags knows has at least one vignette that makes it fire.
    const std::set<std::string> rules = {"breathing_difficulty",
                                         "cyanosis",
                                         "convulsion",
                                         "confusion",
                                         "unrousable",
                                         "chest_pain",
                                         "haemoptysis",
                                         "stiff_neck",
                                         "non_blanching_rash",
                                         "dehydration_signs",
                                         "fever_under_3_months",
                                         "high_fever_3_to_6_months",
                                         "hyperpyrexia",
                                         "fever_5_days",
                                         "elderly_fever_3_days",
                                         "elderly_cough_fever",
                                         "high_fever",
                                         "projectile_vomiting",
                                         "blood_in_stool",
                                         "little_urine",
                                         "lethargy",
                                         "cold_extremities",
                                         "lung_findings",
                                         "cough_3_weeks",
                                         "cough_weight_loss",
                                         "newborn"};
    for (const auto& r : rules) EXPECT_GE(fired[r], 1) << "no vignette tests rule " << r;
    EXPECT_EQ(fired.size(), rules.size());
}

TEST(Clinic, SessionsAreStoredAndReadBack) {
    const auto path = std::filesystem::temp_directory_path() / "clinic_sessions_test.db";
    std::filesystem::remove(path);
    std::string id;
    {
        auto c = Clinic::Open(path.string(), Model::Default(), V(), ScreenerOptions{});
        ASSERT_TRUE(c.ok()) << c.error().ToString();
        auto first = (*c)->Start("老人咳嗽两天，发烧", std::nullopt, 1000);
        ASSERT_TRUE(first.ok());
        id = (*first)["session_id"].get<std::string>();
        auto next = (*c)->Answer(id, "咳痰", "yes", 2000);
        ASSERT_TRUE(next.ok()) << next.error().ToString();
        EXPECT_EQ((*next)["triage"]["care"], "see_doctor_today");  // an elderly patient with cough and fever
        EXPECT_TRUE((*next)["words_log_ratio"].is_null());         // the knowledge base reads no words
        auto missing = (*c)->Answer(std::string(32, 'a'), "咳痰", "yes", 3000);
        ASSERT_FALSE(missing.ok());
        EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
        EXPECT_FALSE((*c)->Answer(id, "咳痰", "perhaps", 3000).ok());
        EXPECT_EQ((*c)->sessions(), 1u);
    }
    auto again = Clinic::Open(path.string(), Model::Default(), V(), ScreenerOptions{});
    ASSERT_TRUE(again.ok());
    auto back = (*again)->Get(id);
    ASSERT_TRUE(back.ok());
    bool sputum = false;
    for (const auto& f : (*back)["findings"]) sputum = sputum || (f["symptom"] == "咳痰" && f["answer"] == "yes");
    EXPECT_TRUE(sputum);
    EXPECT_TRUE((*back)["age_months"].is_null());
    std::filesystem::remove(path);
    EXPECT_FALSE(Clinic::Open("/nonexistent-dir/x/clinic.db", Model::Default(), V(), ScreenerOptions{}).ok());
}

// The datasets' protocol, where ../shared/data/health is present: 5-fold CV on DXY's training split.
TEST(Evaluate, DxyCrossValidationBeatsAskingNothing) {
    const std::string path = std::string(CB_DATA_DIR) + "/health/dxy/train.json";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent";
    auto cases = ReadCases(path, V());
    ASSERT_TRUE(cases.ok()) << cases.error().ToString();
    auto r = CrossValidate(*cases, V(), 5, 1, Model::TrainOptions{}, EvalOptions{});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->n, cases->size());
    EXPECT_LE(r->avg_questions, 5.0);
    EXPECT_GT(r->top1, r->explicit_top1);  // the questions help
    EXPECT_GT(r->top1, 0.75);
    EXPECT_GE(r->top3, r->top1);
    EXPECT_LT(r->brier, 0.5);
    EvalOptions symptoms_only;
    symptoms_only.text_model = false;
    auto plain = CrossValidate(*cases, V(), 5, 1, Model::TrainOptions{}, symptoms_only);
    ASSERT_TRUE(plain.ok());
    EXPECT_GT(r->top1, plain->top1);  // the parents' words add to the symptoms
}

}  // namespace
}  // namespace citybrain::clinic
