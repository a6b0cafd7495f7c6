// SPDX-License-Identifier: Apache-2.0
// `citybrain nlp train|eval|cv|classify`: the citizen-message classifier.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/commands.hpp"
#include "apps/gateway_args.hpp"
#include "dispatch/road_graph.hpp"
#include "district/brain.hpp"
#include "nlp/classifier.hpp"
#include "nlp/gazetteer.hpp"
#include "nlp/llm.hpp"
#include "nlp/message_model.hpp"
#include "nlp/tfidf_svm.hpp"
#include "nlp/urgency.hpp"

namespace citybrain::apps {

namespace {

struct NlpArgs {
    std::string data, model, out, title, detail, net, text, exclude;
    int folds = 5;
    int top = 3;
    double threshold = 0.5;
    std::string case_id, department, deadline_ms;
    nlp::LlmOptions llm;
    bool json = false;
    nlp::TrainOptions train;
    nlp::SvmOptions svm;
    std::string algo = "fasttext";
};

void AddTrainOptions(CLI::App* cmd, NlpArgs& a) {
    cmd->add_option("--epochs", a.train.epochs, "training epochs")->capture_default_str();
    cmd->add_option("--lr", a.train.learning_rate, "learning rate")->capture_default_str();
    cmd->add_option("--dim", a.train.dim, "vector size")->capture_default_str();
    cmd->add_option("--ngrams", a.train.word_ngrams, "token n-grams (tokens are characters)")->capture_default_str();
    cmd->add_option("--seed", a.train.seed, "seed")->capture_default_str();
    cmd->add_option("--buckets", a.train.buckets, "hash buckets for the n-grams")->capture_default_str();
    cmd->add_option("--svm-c", a.svm.c, "TF-IDF model: liblinear's cost C")->capture_default_str();
    cmd->add_flag("--svm-logistic", a.svm.logistic, "TF-IDF model: logistic regression instead of the SVM");
    cmd->add_option("--svm-min-df", a.svm.min_df, "TF-IDF model: n-grams in fewer messages are dropped")
        ->capture_default_str();
    cmd->add_option("--svm-max-tokens", a.svm.max_tokens, "TF-IDF model: tokens read per message")
        ->capture_default_str();
}

nlohmann::json ToJson(const nlp::Evaluation& e) {
    return {{"accuracy", e.accuracy},
            {"macro_f1", e.macro_f1},
            {"n", e.n},
            {"labels", e.labels},
            {"confusion", e.confusion}};  // [true][predicted]
}

void PrintConfusion(const nlp::Evaluation& e) {
    std::printf("confusion (rows: true, columns: predicted)\n");
    for (size_t i = 0; i < e.labels.size(); ++i) {
        std::printf("  %-12s", e.labels[i].c_str());
        for (size_t j = 0; j < e.labels.size(); ++j) std::printf(" %4zu", e.confusion[i][j]);
        std::printf("\n");
    }
}

void PrintEvaluation(const char* name, const nlp::Evaluation& e) {
    std::printf("%-22s accuracy %.3f  macro-F1 %.3f  (n=%zu)\n", name, e.accuracy, e.macro_f1, e.n);
}

/// The training messages of `--data`, less the near-duplicates of `--exclude`'s (messages kept apart for
/// evaluation), with how many went.
Result<std::vector<nlp::Message>> TrainingData(const NlpArgs& a, const nlp::Normalizer& norm, size_t* excluded) {
    CB_TRY_ASSIGN(std::vector<nlp::Message> data, nlp::ReadMessagesTsv(a.data, norm));
    *excluded = 0;
    if (a.exclude.empty()) return data;
    CB_TRY_ASSIGN(const std::vector<nlp::Message> held, nlp::ReadMessagesTsv(a.exclude, norm));
    return nlp::ExcludeNearDuplicates(std::move(data), held, 0.5, excluded);
}

int Train(const NlpArgs& a) {
    auto norm = nlp::Normalizer::Create();
    if (!norm.ok()) return ReportError(norm.error(), a.json);
    size_t excluded = 0;
    auto data = TrainingData(a, *norm, &excluded);
    if (!data.ok()) return ReportError(data.error(), a.json);
    std::vector<std::string> labels;
    if (a.algo == "fasttext") {
        auto model = nlp::TextClassifier::Train(*data, a.train);
        if (!model.ok()) return ReportError(model.error(), a.json);
        if (auto st = model->Save(a.out); !st.ok()) return ReportError(st.error(), a.json);
        labels = model->labels();
    } else if (a.algo == "tfidf") {
        auto model = nlp::TfidfSvm::Train(*data, a.svm);
        if (!model.ok()) return ReportError(model.error(), a.json);
        if (auto st = model->Save(a.out); !st.ok()) return ReportError(st.error(), a.json);
        labels = model->labels();
    } else {
        return ReportError(InvalidArgument("--algo", "must be fasttext or tfidf, got '" + a.algo + "'"), a.json);
    }
    if (a.json) {
        std::printf("%s\n",
                    nlohmann::json{{"model", a.out},
                                   {"algo", a.algo},
                                   {"messages", data->size()},
                                   {"excluded", excluded},
                                   {"labels", labels}}
                        .dump()
                        .c_str());
    } else {
        std::printf("trained %s on %zu messages (%zu near-duplicates of --exclude left out), %zu labels -> %s\n",
                    a.algo.c_str(),
                    data->size(),
                    excluded,
                    labels.size(),
                    a.out.c_str());
    }
    return kExitOk;
}

int Eval(const NlpArgs& a) {
    auto norm = nlp::Normalizer::Create();
    if (!norm.ok()) return ReportError(norm.error(), a.json);
    auto model = nlp::MessageModel::Load(a.model);
    if (!model.ok()) return ReportError(model.error(), a.json);
    auto data = nlp::ReadMessagesTsv(a.data, *norm);
    if (!data.ok()) return ReportError(data.error(), a.json);
    std::vector<std::string> truth, predicted;
    std::vector<double> confidence;
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& m : *data) {
        truth.push_back(m.label);
        const nlp::Prediction best = model->Predict(m.title, m.detail, 1).at(0);
        predicted.push_back(best.label);
        confidence.push_back(best.confidence);
    }
    // Throughput over repeated passes for at least a second: one pass of a small set is a few milliseconds, too
    // short to tell the classifier from the machine's noise.
    size_t classified = data->size();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    while (secs < 1.0) {
        for (const auto& m : *data) {
            if (model->Predict(m.title, m.detail, 1).empty())
                return ReportError(Error{ErrorCode::kInternal, "no prediction", m.title}, a.json);
        }
        classified += data->size();
        secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    const auto e = nlp::Evaluate(truth, predicted);
    // What a confidence threshold (intake's --classifier-threshold) would do: the share of messages routed by the
    // model, and how many of those it gets right; the rest go on to keywords and the human queue.
    nlohmann::json thresholds = nlohmann::json::array();
    for (const double t : {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}) {
        size_t taken = 0, right = 0;
        for (size_t i = 0; i < truth.size(); ++i) {
            if (confidence[i] < t) continue;
            ++taken;
            right += predicted[i] == truth[i] ? 1 : 0;
        }
        const double n = static_cast<double>(truth.size());
        thresholds.push_back({{"threshold", t},
                              {"coverage", n > 0 ? static_cast<double>(taken) / n : 0.0},
                              {"accuracy", taken > 0 ? static_cast<double>(right) / static_cast<double>(taken) : 0.0}});
    }
    if (a.json) {
        auto j = ToJson(e);
        j["messages_per_s"] = static_cast<double>(classified) / secs;
        j["thresholds"] = thresholds;
        std::printf("%s\n", j.dump().c_str());
        return kExitOk;
    }
    PrintEvaluation("model", e);
    PrintConfusion(e);
    std::printf("threshold  routed by the model  accuracy of those\n");
    for (const auto& t : thresholds) {
        std::printf("%9.1f  %18.1f%%  %16.1f%%\n",
                    t["threshold"].get<double>(),
                    100 * t["coverage"].get<double>(),
                    100 * t["accuracy"].get<double>());
    }
    return kExitOk;
}

/// How intake would route a labelled set (`nlp route`): each message through RouteMessage, scored by whether the
/// category it lands in belongs to the message's labelled domain. The human queue is counted apart, not as wrong.
int Route(const NlpArgs& a, const ClassifierArgs& classifier_args) {
    auto norm = nlp::Normalizer::Create();
    if (!norm.ok()) return ReportError(norm.error(), a.json);
    const incident::Taxonomy& taxonomy = incident::Taxonomy::Default();
    ClassifierArgs classifier = classifier_args;
    if (Status s = LoadClassifier(classifier, taxonomy); !s.ok()) return ReportError(s.error(), a.json);
    auto data = nlp::ReadMessagesTsv(a.data, *norm);
    if (!data.ok()) return ReportError(data.error(), a.json);
    std::map<std::string, std::pair<size_t, size_t>> by;  // routed by -> (messages, in the labelled domain)
    for (const nlp::Message& m : *data) {
        const std::string text = m.title.empty() ? m.detail : m.detail.empty() ? m.title : m.title + " " + m.detail;
        const district::Routing r = district::RouteMessage(
            classifier.model.get(), taxonomy, text, classifier.threshold, classifier.intake_order);
        auto& [n, right] = by[r.by];
        ++n;
        const auto& domains = r.category->domains;
        right += std::find(domains.begin(), domains.end(), m.label) != domains.end() ? 1 : 0;
    }
    const double total = static_cast<double>(data->size());
    size_t routed = 0, routed_right = 0;
    nlohmann::json j{
        {"n", data->size()},
        {"intake", district::IntakeDescription(classifier.model.get(), classifier.threshold, classifier.intake_order)}};
    for (const auto& [name, counts] : by) {
        const auto [n, right] = counts;
        j[name] = {{"share", static_cast<double>(n) / total},
                   {"in_domain", n > 0 ? static_cast<double>(right) / static_cast<double>(n) : 0.0}};
        if (name != "human_queue") routed += n, routed_right += right;
    }
    j["routed"] = static_cast<double>(routed) / total;
    j["routed_in_domain"] = routed > 0 ? static_cast<double>(routed_right) / static_cast<double>(routed) : 0.0;
    if (a.json) {
        std::printf("%s\n", j.dump().c_str());
        return kExitOk;
    }
    std::printf("%zu messages, routed by %s\n", data->size(), j["intake"].get<std::string>().c_str());
    for (const auto& [name, counts] : by) {
        std::printf("  %-12s %5.1f%% of messages, %5.1f%% of them in their labelled domain\n",
                    name.c_str(),
                    100 * j[name]["share"].get<double>(),
                    100 * j[name]["in_domain"].get<double>());
    }
    std::printf("routed %.1f%%, of which %.1f%% in the labelled domain\n",
                100 * j["routed"].get<double>(),
                100 * j["routed_in_domain"].get<double>());
    return kExitOk;
}

int Cv(const NlpArgs& a) {
    auto norm = nlp::Normalizer::Create();
    if (!norm.ok()) return ReportError(norm.error(), a.json);
    size_t excluded = 0;
    auto data = TrainingData(a, *norm, &excluded);
    if (!data.ok()) return ReportError(data.error(), a.json);
    auto cv = nlp::CrossValidate(*data, a.folds, a.train, a.svm);
    if (!cv.ok()) return ReportError(cv.error(), a.json);
    if (a.json) {
        std::printf("%s\n",
                    nlohmann::json{{"fasttext", ToJson(cv->fasttext)},
                                   {"tfidf", ToJson(cv->tfidf_svm)},
                                   {"naive_bayes", ToJson(cv->naive_bayes)},
                                   {"majority", ToJson(cv->majority)},
                                   {"folds", a.folds},
                                   {"excluded", excluded}}
                        .dump()
                        .c_str());
        return kExitOk;
    }
    std::printf("%d-fold cross-validation on %zu messages (%zu near-duplicates of --exclude left out)\n",
                a.folds,
                data->size(),
                excluded);
    PrintEvaluation("fastText", cv->fasttext);
    PrintEvaluation(a.svm.logistic ? "TF-IDF + logistic" : "TF-IDF + linear SVM", cv->tfidf_svm);
    PrintEvaluation("bag of characters (NB)", cv->naive_bayes);
    PrintEvaluation("majority class", cv->majority);
    std::printf("fastText ");
    PrintConfusion(cv->fasttext);
    std::printf("TF-IDF ");
    PrintConfusion(cv->tfidf_svm);
    return kExitOk;
}

int Classify(const NlpArgs& a) {
    auto norm = nlp::Normalizer::Create();
    if (!norm.ok()) return ReportError(norm.error(), a.json);
    auto model = nlp::MessageModel::Load(a.model);
    if (!model.ok()) return ReportError(model.error(), a.json);
    auto title = norm->Normalize(a.title, "--title");
    if (!title.ok()) return ReportError(title.error(), a.json);
    std::string detail;
    if (!a.detail.empty()) {
        auto d = norm->Normalize(a.detail, "--detail");
        if (!d.ok()) return ReportError(d.error(), a.json);
        detail = *d;
    }
    if (!(a.threshold >= 0 && a.threshold <= 1)) {
        return ReportError(InvalidArgument("--threshold", "must be within [0, 1]"), a.json);
    }
    const auto top = model->Predict(*title, detail, std::max(1, a.top));
    nlohmann::json j = nlohmann::json::array();
    for (const auto& p : top) j.push_back({{"label", p.label}, {"confidence", p.confidence}});
    // Below the threshold no category is taken: the message goes to an operator (the human queue).
    const bool human = top.empty() || top.front().confidence < a.threshold;
    if (a.json) {
        nlohmann::json out{{"predictions", j}, {"human_queue", human}};
        if (!human) out["label"] = top.front().label;
        std::printf("%s\n", out.dump().c_str());
    } else {
        for (const auto& p : top) std::printf("%-12s %.3f\n", p.label.c_str(), p.confidence);
        std::printf(human ? "below %.2f: to the human queue\n" : "taken (confidence at least %.2f)\n", a.threshold);
    }
    return kExitOk;
}

/// Street names and junctions of a road network (SUMO or OSM names) as a gazetteer.
Result<nlp::Gazetteer> GazetteerOf(const std::string& net) {
    CB_TRY_ASSIGN(const dispatch::RoadGraph g, dispatch::LoadRoadGraph(net));
    nlp::Gazetteer gz = district::GazetteerOf(g);
    if (gz.streets() == 0) return InvalidArgument(net, "has no street names to build a gazetteer from");
    return gz;
}

int Locate(const NlpArgs& a) {
    auto norm = nlp::Normalizer::Create();
    if (!norm.ok()) return ReportError(norm.error(), a.json);
    auto gz = GazetteerOf(a.net);
    if (!gz.ok()) return ReportError(gz.error(), a.json);
    if (!a.data.empty()) {
        auto data = nlp::ReadMessagesTsv(a.data, *norm);
        if (!data.ok()) return ReportError(data.error(), a.json);
        size_t located = 0, junctions = 0;
        for (const auto& m : *data) {
            const auto p = gz->Locate(m.title + " " + m.detail);
            located += p.has_value();
            junctions += p.has_value() && p->junction;
        }
        const double share = static_cast<double>(located) / static_cast<double>(data->size());
        if (a.json) {
            std::printf(
                "%s\n",
                nlohmann::json{{"n", data->size()}, {"located", located}, {"junctions", junctions}, {"share", share}}
                    .dump()
                    .c_str());
        } else {
            std::printf("%zu of %zu messages located (%.1f %%), %zu at a junction\n",
                        located,
                        data->size(),
                        100 * share,
                        junctions);
        }
        return kExitOk;
    }
    auto text = norm->Normalize(a.text, "--text");
    if (!text.ok()) return ReportError(text.error(), a.json);
    const auto p = gz->Locate(*text);
    const auto urgency = nlp::AssessUrgency(*text);
    nlohmann::json j{{"located", p.has_value()}, {"priority", urgency.priority}, {"cues", urgency.cues}};
    if (p) j.update({{"place", p->name}, {"junction", p->junction}, {"x", p->where.x}, {"y", p->where.y}});
    if (a.json) {
        std::printf("%s\n", j.dump().c_str());
    } else {
        std::printf("place     %s\npriority  %d\n", p ? p->name.c_str() : "(not found)", urgency.priority);
    }
    return kExitOk;
}

int Reply(const NlpArgs& a) {
    auto norm = nlp::Normalizer::Create();
    if (!norm.ok()) return ReportError(norm.error(), a.json);
    auto text = norm->Normalize(a.text, "--text");
    if (!text.ok()) return ReportError(text.error(), a.json);
    if (a.case_id.empty() || a.case_id.size() > 64)
        return ReportError(InvalidArgument("--case", "1 to 64 characters"), a.json);
    if (a.department.empty()) return ReportError(InvalidArgument("--department", "must not be empty"), a.json);
    int64_t deadline = 0;
    try {
        size_t used = 0;
        deadline = std::stoll(a.deadline_ms, &used);
        if (used != a.deadline_ms.size() || deadline < 0) throw std::invalid_argument("");
    } catch (const std::exception&) {
        return ReportError(InvalidArgument("--deadline-ms", "must be milliseconds since 1970 (UTC), a whole number"),
                           a.json);
    }
    nlp::LlmOptions llm = a.llm;
    if (const char* key = std::getenv("CITYBRAIN_LLM_KEY")) llm.api_key = key;
    if (Status s = nlp::ValidateLlmOptions(llm); !s.ok()) return ReportError(s.error(), a.json);
    const std::string reply = nlp::AcknowledgementReply(a.case_id, a.department, deadline);
    const auto urgency = nlp::AssessUrgency(*text);
    const auto drafted = nlp::DraftReply(llm, *text, reply, {a.case_id, nlp::DeadlineText(deadline)});
    if (a.json) {
        nlohmann::json j{{"reply", drafted.text},
                         {"source", drafted.from_model ? "model" : "template"},
                         {"priority", urgency.priority},
                         {"template", reply}};
        if (!drafted.from_model) j["fallback_reason"] = drafted.fallback_reason;
        std::printf("%s\n", j.dump().c_str());
    } else {
        std::printf("%s\n", drafted.text.c_str());
        if (!drafted.from_model && !llm.url.empty()) {
            std::fprintf(stderr, "note: the template reply was used: %s\n", drafted.fallback_reason.c_str());
        }
    }
    return kExitOk;
}

}  // namespace

void RegisterNlp(CLI::App& app) {
    auto* nlp = app.add_subcommand("nlp", "citizen messages: train, evaluate and run the classifier");
    nlp->require_subcommand(1);
    auto a = std::make_shared<NlpArgs>();
    auto* train = nlp->add_subcommand(
        "train", "train a classifier from a TSV (label_l1 with title and detail, or text_segmented)");
    train->add_option("--data", a->data, "labelled TSV")->required();
    train->add_option("--out", a->out, "model file to write")->required();
    train->add_option("--algo", a->algo, "fasttext, or tfidf (TF-IDF over character n-grams, linear model)")
        ->capture_default_str();
    train->add_option("--exclude", a->exclude, "leave out near-duplicates of this TSV's messages (an evaluation set)");
    AddTrainOptions(train, *a);
    train->add_flag("--json", a->json, "machine-readable output");
    train->callback([a] { SetExitCode(Train(*a)); });

    auto* eval = nlp->add_subcommand("eval", "accuracy, macro-F1 and confusion matrix of a model on a TSV");
    eval->add_option("--model", a->model, "model file")->required();
    eval->add_option("--data", a->data, "labelled TSV")->required();
    eval->add_flag("--json", a->json, "machine-readable output");
    eval->callback([a] { SetExitCode(Eval(*a)); });

    auto classifier = std::make_shared<ClassifierArgs>();
    auto* route = nlp->add_subcommand(
        "route", "how intake routes a labelled TSV through the taxonomy: share routed, and in the labelled domain");
    route->add_option("--data", a->data, "labelled TSV (labels: the taxonomy's domains)")->required();
    AddClassifierOptions(route, *classifier);
    route->add_flag("--json", a->json, "machine-readable output");
    route->callback([a, classifier] { SetExitCode(Route(*a, *classifier)); });

    auto* cv = nlp->add_subcommand("cv", "k-fold cross-validation against naive Bayes and majority baselines");
    cv->add_option("--data", a->data, "labelled TSV")->required();
    cv->add_option("--folds", a->folds, "folds")->capture_default_str();
    cv->add_option("--exclude", a->exclude, "leave out near-duplicates of this TSV's messages (an evaluation set)");
    AddTrainOptions(cv, *a);
    cv->add_flag("--json", a->json, "machine-readable output");
    cv->callback([a] { SetExitCode(Cv(*a)); });

    auto* classify = nlp->add_subcommand("classify", "top-k categories of one message");
    classify->add_option("--model", a->model, "model file")->required();
    classify->add_option("--title", a->title, "message title (or the whole message)")->required();
    classify->add_option("--detail", a->detail, "message detail");
    classify->add_option("--top", a->top, "how many labels")->capture_default_str();
    classify->add_option("--threshold", a->threshold, "below this confidence the message goes to the human queue")
        ->capture_default_str();
    classify->add_flag("--json", a->json, "machine-readable output");
    classify->callback([a] { SetExitCode(Classify(*a)); });

    auto* reply = nlp->add_subcommand(
        "reply",
        "the acknowledgement to a citizen; with --llm-url a model drafts it more warmly (template on failure)");
    reply->add_option("--text", a->text, "the citizen's message")->required();
    reply->add_option("--case", a->case_id, "case number")->required();
    reply->add_option("--department", a->department, "department in charge")->required();
    reply->add_option("--deadline-ms", a->deadline_ms, "deadline, ms since 1970 UTC")->required();
    reply->add_option(
        "--llm-url", a->llm.url, "OpenAI-compatible base URL, e.g. http://10.0.0.5:8000/v1 (key: $CITYBRAIN_LLM_KEY)");
    reply->add_option("--llm-model", a->llm.model, "model name")->capture_default_str();
    reply->add_option("--llm-timeout", a->llm.timeout_s, "seconds before the template is used")->capture_default_str();
    reply->add_flag("--json", a->json, "machine-readable output");
    reply->callback([a] { SetExitCode(Reply(*a)); });

    auto* locate = nlp->add_subcommand(
        "locate", "the street or junction a message names (gazetteer from a network's street names), and its urgency");
    locate->add_option("--net", a->net, "road network with street names (SUMO .edg.xml/.net.xml, OSM)")->required();
    locate->add_option("--text", a->text, "one message");
    locate->add_option("--data", a->data, "a labelled TSV: report the share of messages located");
    locate->add_flag("--json", a->json, "machine-readable output");
    locate->callback([a] {
        if (a->text.empty() == a->data.empty()) {
            SetExitCode(ReportError(InvalidArgument("--text", "give --text or --data, one of them"), a->json));
            return;
        }
        SetExitCode(Locate(*a));
    });
}

}  // namespace citybrain::apps
