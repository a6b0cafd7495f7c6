// SPDX-License-Identifier: Apache-2.0
// `citybrain clinic train|eval|cv|screen`: the clinic screening engine.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "apps/commands.hpp"
#include "clinic/evaluate.hpp"
#include "clinic/model.hpp"
#include "clinic/screener.hpp"
#include "clinic/triage.hpp"

namespace citybrain::apps {
namespace {

struct ClinicArgs {
    std::string data;
    std::string out;
    std::string model;
    std::string vocabulary;
    std::string text;
    double age_months = -1;
    double alpha = 1.0;
    int max_questions = 5;
    double stop = 0.9;
    int folds = 5;
    uint64_t seed = 1;
    bool no_text = false;
    bool text_symptoms = false;
    bool no_text_model = false;
    bool no_volunteer_model = false;
    bool json = false;
};

Result<clinic::Vocabulary> LoadVocabulary(const ClinicArgs& a) {
    if (a.vocabulary.empty()) return clinic::Vocabulary::Default();
    return clinic::Vocabulary::Load(a.vocabulary);
}

Result<clinic::Model> LoadModel(const ClinicArgs& a) {
    if (a.model.empty()) return clinic::Model::Default();
    return clinic::Model::Load(a.model);
}

Status CheckEval(const ClinicArgs& a) {
    if (a.max_questions < 0 || a.max_questions > 50) return InvalidArgument("--max-questions", "must be 0 to 50");
    if (!(a.stop > 0 && a.stop <= 1)) return InvalidArgument("--stop", "must be above 0 and at most 1");
    return {};
}

void PrintEval(const clinic::EvalResult& r, const char* what) {
    std::printf("%s: %zu consultations", what, r.n);
    if (r.skipped > 0) std::printf(" (%zu more have a disease the model does not know: left out)", r.skipped);
    std::printf("\n");
    std::printf("  top-1 %.3f  top-3 %.3f  questions %.2f on average\n", r.top1, r.top3, r.avg_questions);
    std::printf("  top-1 with the volunteered symptoms only %.3f; with every recorded symptom %.3f\n",
                r.explicit_top1,
                r.full_top1);
    std::printf("  Brier %.3f  ECE %.3f\n  reliability (top-1 probability → accuracy):\n", r.brier, r.ece);
    for (const auto& b : r.reliability)
        if (b.n > 0)
            std::printf(
                "    %.1f–%.1f  n=%-4zu confidence %.2f accuracy %.2f\n", b.low, b.high, b.n, b.confidence, b.accuracy);
}

int Train(const ClinicArgs& a) {
    auto vocab = LoadVocabulary(a);
    if (!vocab.ok()) return ReportError(vocab.error(), a.json);
    auto cases = clinic::ReadCases(a.data, *vocab);
    if (!cases.ok()) return ReportError(cases.error(), a.json);
    clinic::EvalOptions inquiry;
    inquiry.text_model = !a.no_text_model;
    auto model =
        clinic::TrainCalibrated(*cases, *vocab, clinic::Model::TrainOptions{a.alpha, !a.no_volunteer_model}, inquiry);
    if (!model.ok()) return ReportError(model.error(), a.json);
    if (auto st = model->Save(a.out); !st.ok()) return ReportError(st.error(), a.json);
    if (a.json) {
        std::printf("%s\n",
                    nlohmann::json{{"model", a.out},
                                   {"consultations", cases->size()},
                                   {"diseases", model->diseases()},
                                   {"symptoms", model->symptoms().size()},
                                   {"temperature", model->temperature()},
                                   {"text_weight", model->text_weight()},
                                   {"volunteered_apart", model->has_volunteer_model()}}
                        .dump()
                        .c_str());
    } else {
        std::printf(
            "trained on %zu consultations: %zu diseases, %zu symptoms, text weight %.1f, temperature %.2f → "
            "%s\n",
            cases->size(),
            model->diseases().size(),
            model->symptoms().size(),
            model->text_weight(),
            model->temperature(),
            a.out.c_str());
    }
    return kExitOk;
}

int Eval(const ClinicArgs& a) {
    if (auto st = CheckEval(a); !st.ok()) return ReportError(st.error(), a.json);
    auto vocab = LoadVocabulary(a);
    if (!vocab.ok()) return ReportError(vocab.error(), a.json);
    auto model = LoadModel(a);
    if (!model.ok()) return ReportError(model.error(), a.json);
    auto cases = clinic::ReadCases(a.data, *vocab);
    if (!cases.ok()) return ReportError(cases.error(), a.json);
    const auto t0 = std::chrono::steady_clock::now();
    const auto r =
        clinic::Evaluate(*model,
                         *cases,
                         *vocab,
                         clinic::EvalOptions{a.max_questions, a.stop, !a.no_text, a.text_symptoms, !a.no_text_model});
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (r.n == 0) return ReportError(InvalidArgument(a.data, "no consultation has a disease the model knows"), a.json);
    if (a.json) {
        auto j = r.ToJson();
        j["model"] = model->source();
        j["ms_per_consultation"] = ms / static_cast<double>(r.n);
        std::printf("%s\n", j.dump().c_str());
    } else {
        PrintEval(r, "evaluation");
        std::printf("  %.3f ms per consultation (all its turns)\n", ms / static_cast<double>(r.n));
    }
    return kExitOk;
}

int Cv(const ClinicArgs& a) {
    if (auto st = CheckEval(a); !st.ok()) return ReportError(st.error(), a.json);
    auto vocab = LoadVocabulary(a);
    if (!vocab.ok()) return ReportError(vocab.error(), a.json);
    auto cases = clinic::ReadCases(a.data, *vocab);
    if (!cases.ok()) return ReportError(cases.error(), a.json);
    auto r = clinic::CrossValidate(
        *cases,
        *vocab,
        a.folds,
        a.seed,
        clinic::Model::TrainOptions{a.alpha, !a.no_volunteer_model},
        clinic::EvalOptions{a.max_questions, a.stop, !a.no_text, a.text_symptoms, !a.no_text_model});
    if (!r.ok()) return ReportError(r.error(), a.json);
    if (a.json) {
        auto j = r->ToJson();
        j["folds"] = a.folds;
        j["seed"] = a.seed;
        std::printf("%s\n", j.dump().c_str());
    } else {
        PrintEval(*r, (std::to_string(a.folds) + "-fold cross-validation").c_str());
    }
    return kExitOk;
}

void PrintTurn(const clinic::Turn& t) {
    std::printf("可能的原因：");
    for (size_t i = 0; i < t.ranking.size() && i < 3; ++i)
        std::printf("%s%s %.0f%%", i ? "，" : "", t.ranking[i].first.c_str(), t.ranking[i].second * 100);
    std::printf("\n");
    const bool words = t.words_log_ratio && *t.words_log_ratio > 0;
    if (!t.because.empty() || words) {
        std::printf("依据：%s ←", t.ranking.front().first.c_str());
        for (size_t i = 0; i < t.because.size(); ++i)
            std::printf("%s%s%s",
                        i ? " + " : " ",
                        t.because[i].answer == clinic::Answer::kNo ? "无" : "",
                        t.because[i].symptom.c_str());
        if (words) std::printf("%s您的描述", t.because.empty() ? " " : " + ");
        std::printf("\n");
    }
    std::printf("分诊：%s（%s）\n", clinic::CareName(t.triage.care), t.triage.reason.c_str());
}

int Screen(const ClinicArgs& a) {
    if (auto st = CheckEval(a); !st.ok()) return ReportError(st.error(), a.json);
    auto vocab = LoadVocabulary(a);
    if (!vocab.ok()) return ReportError(vocab.error(), a.json);
    auto model = LoadModel(a);
    if (!model.ok()) return ReportError(model.error(), a.json);
    const clinic::Screener screener(*model, *vocab, clinic::ScreenerOptions{a.max_questions, a.stop, true});
    const std::optional<double> age = a.age_months >= 0 ? std::optional<double>(a.age_months) : std::nullopt;
    if (a.age_months < -1 || a.age_months > 1560)
        return ReportError(InvalidArgument("--age-months", "must be 0 to 1560"), a.json);
    auto session = screener.Start(a.text, age);
    if (!session.ok()) return ReportError(session.error(), a.json);
    clinic::Turn turn = screener.Next(*session);
    const bool interactive = !a.json && isatty(STDIN_FILENO) != 0;
    if (a.json) {
        auto j = clinic::TurnJson(*session, turn);
        j["model"] = model->source();
        std::printf("%s\n", j.dump().c_str());
        return kExitOk;
    }
    PrintTurn(turn);
    while (interactive && turn.question) {
        std::printf("\n%s（是/没有/不确定）> ", turn.question->text.c_str());
        std::fflush(stdout);
        std::string line;
        if (!std::getline(std::cin, line)) break;
        auto answer = clinic::ParseAnswer(line, "answer");
        if (!answer.ok()) {
            std::printf("%s\n", answer.error().ToString().c_str());
            continue;
        }
        if (auto st = screener.Answer(*session, turn.question->symptom, *answer); !st.ok())
            return ReportError(st.error(), false);
        turn = screener.Next(*session);
        PrintTurn(turn);
    }
    if (!interactive && turn.question) std::printf("下一个问题：%s\n", turn.question->text.c_str());
    std::printf("（仅供筛查参考，不能代替医生诊断）\n");
    return kExitOk;
}

}  // namespace

void RegisterClinic(CLI::App& app) {
    auto* clinic =
        app.add_subcommand("clinic", "Clinic screening: symptoms from text, a ranked differential, questions, triage");
    clinic->require_subcommand(1);
    auto a = std::make_shared<ClinicArgs>();
    auto common = [a](CLI::App* c) {
        c->add_option("--vocabulary", a->vocabulary, "Symptom vocabulary JSON (default: the embedded one)");
        c->add_flag("--json", a->json, "One JSON object on stdout");
    };
    auto asking = [a](CLI::App* c) {
        c->add_option("--max-questions", a->max_questions, "Diagnostic questions at most (default 5)");
        c->add_option("--stop", a->stop, "Stop asking when the leading disease is this likely (default 0.9)");
    };
    auto* train = clinic->add_subcommand("train", "Train the naive Bayes model from a consultations file");
    train->add_option("--data", a->data, "Consultations JSON (the fields of ../shared/data/health/*/train.json)")
        ->required();
    train->add_option("--out", a->out, "Model file to write")->required();
    train->add_option("--alpha", a->alpha, "Laplace smoothing (default 1)");
    train->add_flag(
        "--no-volunteer-model",
        a->no_volunteer_model,
        "Read volunteered and asked symptoms alike (default: whichever the training data's own CV prefers)");
    train->add_flag("--no-text-model", a->no_text_model, "Do not read self_report's words as evidence (weight 0)");
    common(train);
    train->callback([a] { SetExitCode(Train(*a)); });

    auto* eval = clinic->add_subcommand("eval", "Simulated-patient evaluation: top-1, top-3, questions, calibration");
    eval->add_option("--model", a->model, "Model file (default: the embedded knowledge base)");
    eval->add_option("--data", a->data, "Consultations JSON")->required();
    eval->add_flag("--no-text", a->no_text, "Ignore self_report (the age and the words in the parent's text)");
    eval->add_flag("--text-symptoms", a->text_symptoms, "Also take the symptoms named in self_report");
    eval->add_flag("--no-text-model", a->no_text_model, "Read the age in self_report but not its words as evidence");
    asking(eval);
    common(eval);
    eval->callback([a] { SetExitCode(Eval(*a)); });

    auto* cv = clinic->add_subcommand("cv", "k-fold cross-validation of training and evaluation on one file");
    cv->add_option("--data", a->data, "Consultations JSON")->required();
    cv->add_option("--folds", a->folds, "Folds (default 5)");
    cv->add_option("--seed", a->seed, "Seed of the folds (default 1)");
    cv->add_option("--alpha", a->alpha, "Laplace smoothing (default 1)");
    cv->add_flag("--no-volunteer-model",
                 a->no_volunteer_model,
                 "Read volunteered and asked symptoms alike (default: whichever the training data's own CV prefers)");
    cv->add_flag("--no-text", a->no_text, "Ignore self_report (the age and the words in the parent's text)");
    cv->add_flag("--text-symptoms", a->text_symptoms, "Also take the symptoms named in self_report");
    cv->add_flag("--no-text-model", a->no_text_model, "Read the age in self_report but not its words as evidence");
    asking(cv);
    common(cv);
    cv->callback([a] { SetExitCode(Cv(*a)); });

    auto* screen =
        clinic->add_subcommand("screen", "Screen a patient from their own words (asks questions in a terminal)");
    screen->add_option("--text", a->text, "What the patient says, e.g. 咳嗽三天了，有点发烧")->required();
    screen->add_option("--age-months", a->age_months, "Age in months, when the text does not say it");
    screen->add_option("--model", a->model, "Model file (default: the embedded knowledge base)");
    asking(screen);
    common(screen);
    screen->callback([a] { SetExitCode(Screen(*a)); });
}

}  // namespace citybrain::apps
