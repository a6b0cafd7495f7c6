// SPDX-License-Identifier: Apache-2.0
#include "clinic/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace citybrain::clinic {

namespace {

struct Tally {
    size_t n = 0, skipped = 0, top1 = 0, top3 = 0, full = 0, volunteered = 0, questions = 0;
    double brier = 0;
    std::vector<ReliabilityBin> bins = std::vector<ReliabilityBin>(10);
    /// Each consultation's raw posterior at the end of its inquiry, and the true disease (for the temperature).
    std::vector<std::pair<std::vector<double>, size_t>> finals;
};

size_t Rank(const std::vector<double>& post, size_t truth) {
    size_t rank = 0;
    for (size_t d = 0; d < post.size(); ++d)
        if (post[d] > post[truth] || (post[d] == post[truth] && d < truth)) ++rank;
    return rank;
}

void Run(
    const Model& model, const std::vector<Case>& cases, const Vocabulary& vocabulary, const EvalOptions& o, Tally& t) {
    const auto& diseases = model.diseases();
    for (const Case& c : cases) {
        const auto it = std::find(diseases.begin(), diseases.end(), c.disease);
        if (it == diseases.end()) {  // a disease the model was never taught: counted apart
            ++t.skipped;
            continue;
        }
        const auto truth = static_cast<size_t>(it - diseases.begin());
        Findings f;
        if (o.use_text && !c.self_report.empty()) {
            // The parent's own words: age, and symptoms the record's volunteered list left out.
            f = c.Words(vocabulary);
            if (!o.text_symptoms) f.items.clear();
        }
        for (const auto& [s, v] : c.volunteered) f.Set(s, v ? Answer::kYes : Answer::kNo);
        Evidence ev = model.Observe(f);
        if (!o.use_text) ev.age_band = 0;
        if (o.use_text && o.text_model) ev.text = model.TextScores(c.self_report);
        const std::vector<double> at_start = model.Posterior(ev);
        t.volunteered += Rank(at_start, truth) == 0;

        Evidence full = ev;
        for (const auto& [s, v] : c.elicited) {
            const int k = model.SymptomIndex(s);
            if (k < 0) continue;
            full.answer[static_cast<size_t>(k)] = static_cast<int>(v ? Answer::kYes : Answer::kNo);
            full.volunteered[static_cast<size_t>(k)] = 0;  // as if asked
        }
        t.full += Rank(model.Posterior(full), truth) == 0;

        int asked = 0;
        std::vector<double> post = at_start;
        while (asked < o.max_questions && *std::max_element(post.begin(), post.end()) < o.stop) {
            const int s = model.NextQuestion(ev, post);
            if (s < 0) break;
            ++asked;
            const std::string& name = model.symptoms()[static_cast<size_t>(s)];
            Answer a = Answer::kUnsure;
            for (const auto& [e, v] : c.elicited)
                if (e == name) a = v ? Answer::kYes : Answer::kNo;
            ev.answer[static_cast<size_t>(s)] = static_cast<int>(a);
            ev.volunteered[static_cast<size_t>(s)] = 0;
            post = model.Posterior(ev);
        }
        const size_t rank = Rank(post, truth);
        ++t.n;
        t.top1 += rank == 0;
        t.top3 += rank < 3;
        t.questions += static_cast<size_t>(asked);
        const std::vector<double> shown = model.Calibrated(post);
        for (size_t d = 0; d < shown.size(); ++d)
            t.brier += (shown[d] - (d == truth ? 1.0 : 0.0)) * (shown[d] - (d == truth ? 1.0 : 0.0));
        const double conf = *std::max_element(shown.begin(), shown.end());
        auto& bin = t.bins[std::min<size_t>(9, static_cast<size_t>(conf * 10))];
        bin.n += 1;
        bin.confidence += conf;
        bin.accuracy += rank == 0 ? 1 : 0;
        t.finals.emplace_back(std::move(post), truth);
    }
}

EvalResult Finish(const Tally& t) {
    EvalResult r;
    r.n = t.n;
    r.skipped = t.skipped;
    if (t.n == 0) return r;
    const auto n = static_cast<double>(t.n);
    r.top1 = static_cast<double>(t.top1) / n;
    r.top3 = static_cast<double>(t.top3) / n;
    r.full_top1 = static_cast<double>(t.full) / n;
    r.explicit_top1 = static_cast<double>(t.volunteered) / n;
    r.avg_questions = static_cast<double>(t.questions) / n;
    r.brier = t.brier / n;
    for (size_t b = 0; b < t.bins.size(); ++b) {
        ReliabilityBin bin = t.bins[b];
        bin.low = static_cast<double>(b) / 10;
        bin.high = static_cast<double>(b + 1) / 10;
        if (bin.n > 0) {
            bin.confidence /= static_cast<double>(bin.n);
            bin.accuracy /= static_cast<double>(bin.n);
            r.ece += static_cast<double>(bin.n) / n * std::abs(bin.confidence - bin.accuracy);
        }
        r.reliability.push_back(bin);
    }
    return r;
}

std::vector<std::vector<size_t>> Folds(size_t n, int folds, uint64_t seed) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<std::vector<size_t>> out(static_cast<size_t>(folds));
    for (size_t i = 0; i < n; ++i) out[i % static_cast<size_t>(folds)].push_back(order[i]);
    return out;
}

/// The cases outside a fold (to fit on) and those in it (held out, in the fold's order).
std::pair<std::vector<Case>, std::vector<Case>> Split(const std::vector<Case>& cases, const std::vector<size_t>& held) {
    std::vector<char> is_held(cases.size(), 0);
    for (const size_t i : held) is_held[i] = 1;
    std::pair<std::vector<Case>, std::vector<Case>> out;
    for (size_t i = 0; i < cases.size(); ++i)
        if (is_held[i] == 0) out.first.push_back(cases[i]);
    for (const size_t i : held) out.second.push_back(cases[i]);
    return out;
}

/// The temperature with the least log-loss of the true disease. With u = 1/T the loss, −u·log p_truth +
/// log Σ p^u, is convex in u, so a golden-section search on u over [1/20, 1/0.2] finds it.
double FitTemperature(const std::vector<std::pair<std::vector<double>, size_t>>& finals) {
    std::vector<std::vector<double>> logs;
    logs.reserve(finals.size());
    for (const auto& [post, truth] : finals) {
        std::vector<double> l(post.size());
        for (size_t d = 0; d < post.size(); ++d) l[d] = std::log(std::max(post[d], 1e-300));
        std::swap(l[0], l[truth]);  // the truth first
        logs.push_back(std::move(l));
    }
    auto loss = [&](double u) {
        double total = 0;
        for (const auto& l : logs) {
            const double top = u * *std::max_element(l.begin(), l.end());
            double z = 0;
            for (const double x : l) z += std::exp(u * x - top);
            total += top + std::log(z) - u * l[0];
        }
        return total;
    };
    const double phi = (std::sqrt(5.0) - 1) / 2;
    double a = 1.0 / 20, b = 1.0 / 0.2;
    double c = b - phi * (b - a), d = a + phi * (b - a);
    double fc = loss(c), fd = loss(d);
    while (b - a > 1e-5) {
        if (fc <= fd) {
            b = d, d = c, fd = fc;
            c = b - phi * (b - a), fc = loss(c);
        } else {
            a = c, c = d, fc = fd;
            d = a + phi * (b - a), fd = loss(d);
        }
    }
    return std::clamp(2 / (a + b), 0.2, 20.0);
}

}  // namespace

nlohmann::json EvalResult::ToJson() const {
    nlohmann::json bins = nlohmann::json::array();
    for (const auto& b : reliability) {
        if (b.n == 0) continue;
        bins.push_back(
            {{"from", b.low}, {"to", b.high}, {"n", b.n}, {"confidence", b.confidence}, {"accuracy", b.accuracy}});
    }
    return {{"n", n},
            {"skipped", skipped},
            {"top1", top1},
            {"top3", top3},
            {"avg_questions", avg_questions},
            {"brier", brier},
            {"ece", ece},
            {"top1_volunteered_only", explicit_top1},
            {"top1_all_recorded", full_top1},
            {"reliability", bins}};
}

EvalResult Evaluate(const Model& model,
                    const std::vector<Case>& cases,
                    const Vocabulary& vocabulary,
                    const EvalOptions& options) {
    Tally t;
    Run(model, cases, vocabulary, options, t);
    return Finish(t);
}

Result<Model> TrainCalibrated(const std::vector<Case>& cases,
                              const Vocabulary& vocabulary,
                              const Model::TrainOptions& train,
                              const EvalOptions& options) {
    constexpr int kFolds = 5;
    Model::TrainOptions plain = train;
    plain.volunteered = false;
    if (cases.size() < size_t{2} * static_cast<size_t>(kFolds)) return Model::Train(cases, vocabulary, plain);
    const auto folds = Folds(cases.size(), kFolds, /*seed=*/1);
    // The variant (volunteered symptoms learnt apart or not; the text's weight) with the most diseases first at the
    // end of the simulated inquiry; on a tie the simpler one (apart only if it wins; the lighter weight). Then the
    // temperature that calibrates that model.
    Tally best;
    bool have = false;
    Model::TrainOptions best_options = plain;
    double best_w = 0;
    for (const bool apart : {false, true}) {
        if (apart && !train.volunteered) continue;
        Model::TrainOptions o = train;
        o.volunteered = apart;
        std::vector<Model> inner;
        std::vector<std::vector<Case>> held;
        for (const auto& held_idx : folds) {
            auto [fit, out] = Split(cases, held_idx);
            auto m = Model::Train(fit, vocabulary, o);
            if (!m.ok()) continue;  // a fold without two diseases tells nothing
            inner.push_back(std::move(m).value());
            held.push_back(std::move(out));
        }
        const bool text = options.use_text && options.text_model &&
                          std::all_of(inner.begin(), inner.end(), [](const Model& m) { return m.has_text_model(); });
        for (int step = 0; step <= (text ? 10 : 0); ++step) {
            const double w = 0.1 * step;
            Tally t;
            for (size_t k = 0; k < inner.size(); ++k) {
                CB_TRY(inner[k].set_text_weight(w));
                Run(inner[k], held[k], vocabulary, options, t);
            }
            if (!have || t.top1 > best.top1) best = std::move(t), best_options = o, best_w = w, have = true;
        }
    }
    CB_TRY_ASSIGN(Model model, Model::Train(cases, vocabulary, best_options));
    if (model.has_text_model()) CB_TRY(model.set_text_weight(best_w));
    if (best.finals.empty()) return model;
    CB_TRY(model.set_temperature(FitTemperature(best.finals)));
    return model;
}

Result<EvalResult> CrossValidate(const std::vector<Case>& cases,
                                 const Vocabulary& vocabulary,
                                 int folds,
                                 uint64_t seed,
                                 const Model::TrainOptions& train,
                                 const EvalOptions& options) {
    if (folds < 2 || static_cast<size_t>(folds) > cases.size())
        return InvalidArgument("--folds", "must be 2 to the number of consultations");
    Tally t;
    for (const auto& held_idx : Folds(cases.size(), folds, seed)) {
        auto [fit, held] = Split(cases, held_idx);
        auto model = TrainCalibrated(fit, vocabulary, train, options);
        if (!model.ok()) return model.error();
        Run(*model, held, vocabulary, options, t);
    }
    return Finish(t);
}

}  // namespace citybrain::clinic
