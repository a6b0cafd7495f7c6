// SPDX-License-Identifier: Apache-2.0
#include "nlp/classifier.hpp"

#include <fasttext/fasttext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include "core/file.hpp"

namespace citybrain::nlp {

namespace {

constexpr const char* kLabelPrefix = "__label__";

std::vector<std::string> Split(const std::string& line, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        const size_t at = line.find(sep, start);
        out.push_back(line.substr(start, at == std::string::npos ? std::string::npos : at - start));
        if (at == std::string::npos) break;
        start = at + 1;
    }
    return out;
}

/// A scratch file that removes itself.
struct TempFile {
    std::string path;
    TempFile() {
        static std::atomic<int> counter{0};
        path = (std::filesystem::temp_directory_path() /
                ("cb_nlp_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)))
                   .string();
    }
    ~TempFile() {
        std::error_code ec;
        std::filesystem::remove(path, ec);
    }
};

}  // namespace

Result<std::vector<Message>> ReadMessagesTsv(const std::string& path, const Normalizer& normalizer) {
    CB_TRY_ASSIGN(const std::string text, core::ReadFile(path));
    std::istringstream in(text);
    std::string line;
    if (!std::getline(in, line)) return InvalidArgument(path, "empty file: expected a header row");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto header = Split(line, '\t');
    const auto column = [&](const char* name) -> int {
        const auto it = std::find(header.begin(), header.end(), name);
        return it == header.end() ? -1 : static_cast<int>(it - header.begin());
    };
    const int label = column("label_l1"), title = column("title"), detail = column("detail");
    for (const auto& [name, idx] : {std::pair{"label_l1", label}, {"title", title}, {"detail", detail}}) {
        if (idx < 0) return InvalidArgument(path + ":1", std::string("missing column '") + name + "'");
    }
    std::vector<Message> out;
    for (size_t row = 2; std::getline(in, line); ++row) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        const std::string where = path + ":" + std::to_string(row);
        const auto f = Split(line, '\t');
        if (f.size() != header.size()) {
            return InvalidArgument(
                where, "expected " + std::to_string(header.size()) + " fields, got " + std::to_string(f.size()));
        }
        Message m;
        m.label = f[static_cast<size_t>(label)];
        if (m.label.empty() || m.label.find(' ') != std::string::npos) {
            return InvalidArgument(where, "label_l1: must be one word, got '" + m.label + "'");
        }
        auto t = normalizer.Normalize(f[static_cast<size_t>(title)], "title");
        if (!t.ok()) return InvalidArgument(where, t.error().ToString());
        // A message may have a title and no detail.
        auto d = f[static_cast<size_t>(detail)].empty()
                     ? Result<std::string>(std::string())
                     : normalizer.Normalize(f[static_cast<size_t>(detail)], "detail");
        if (!d.ok()) return InvalidArgument(where, d.error().ToString());
        m.title = std::move(*t);
        m.detail = std::move(*d);
        out.push_back(std::move(m));
    }
    if (out.empty()) return InvalidArgument(path, "no messages after the header");
    return out;
}

Result<TextClassifier> TextClassifier::Train(const std::vector<Message>& data, const TrainOptions& options) {
    if (data.empty()) return InvalidArgument("data", "no training messages");
    TempFile input;
    {
        std::ofstream out(input.path);
        for (const auto& m : data) out << kLabelPrefix << m.label << ' ' << Featurize(m.title, m.detail) << '\n';
        if (!out) return Error{ErrorCode::kInternal, "cannot write a scratch file", input.path};
    }
    fasttext::Args args;
    args.input = input.path;
    args.model = fasttext::model_name::sup;
    args.loss = fasttext::loss_name::softmax;
    args.epoch = options.epochs;
    args.lr = options.learning_rate;
    args.dim = options.dim;
    args.wordNgrams = options.word_ngrams;
    args.minCount = 1;
    args.minn = 0;  // tokens are single characters already
    args.maxn = 0;
    args.bucket = options.buckets;
    args.thread = 1;
    args.seed = static_cast<int>(options.seed);
    args.verbose = 0;
    TextClassifier c;
    c.model_ = std::make_shared<fasttext::FastText>();
    try {
        c.model_->train(args);
    } catch (const std::exception& e) {
        return Error{ErrorCode::kInternal, std::string("fastText training failed: ") + e.what(), "train"};
    }
    return c;
}

Result<TextClassifier> TextClassifier::Load(const std::string& path) {
    if (!std::filesystem::exists(path)) return NotFound(path, "cannot open file");
    TextClassifier c;
    c.model_ = std::make_shared<fasttext::FastText>();
    try {
        c.model_->loadModel(path);
    } catch (const std::exception& e) {
        return InvalidArgument(path, std::string("not a fastText model: ") + e.what());
    }
    return c;
}

Status TextClassifier::Save(const std::string& path) const {
    try {
        model_->saveModel(path);
    } catch (const std::exception& e) {
        return InvalidArgument(path, std::string("cannot write the model: ") + e.what());
    }
    return {};
}

std::vector<Prediction> TextClassifier::Predict(const std::string& title, const std::string& detail, int k) const {
    // fastText reads a line from a stream: let it read the featurised string in place rather than copying it
    // into a stringstream (this is the per-message hot path).
    struct ViewBuf : std::streambuf {
        explicit ViewBuf(std::string& s) { setg(s.data(), s.data(), s.data() + s.size()); }
    };
    std::string line = Featurize(title, detail);
    line.push_back('\n');
    ViewBuf buf(line);
    std::istream in(&buf);
    std::vector<std::pair<fasttext::real, std::string>> raw;
    model_->predictLine(in, raw, k, 0.0);
    std::vector<Prediction> out;
    // predictLine gives probabilities (it exponentiates the log-probabilities itself).
    for (const auto& [prob, label] : raw) {
        out.push_back({label.rfind(kLabelPrefix, 0) == 0 ? label.substr(std::strlen(kLabelPrefix)) : label,
                       static_cast<double>(prob)});
    }
    return out;
}

std::vector<std::string> TextClassifier::labels() const {
    std::vector<std::string> out;
    const auto dict = model_->getDictionary();
    for (int32_t i = 0; i < dict->nlabels(); ++i) out.push_back(dict->getLabel(i).substr(std::strlen(kLabelPrefix)));
    return out;
}

NaiveBayes NaiveBayes::Train(const std::vector<Message>& data) {
    NaiveBayes nb;
    std::map<std::string, size_t> index;
    for (const auto& m : data) {
        if (index.emplace(m.label, nb.labels_.size()).second) nb.labels_.push_back(m.label);
    }
    const size_t k = nb.labels_.size();
    std::vector<double> docs(k, 0);
    nb.totals_.assign(k, 0);
    for (const auto& m : data) {
        const size_t c = index[m.label];
        ++docs[c];
        std::istringstream in(Featurize(m.title, m.detail));
        std::string tok;
        while (in >> tok) {
            auto& row = nb.counts_[tok];
            if (row.empty()) row.assign(k, 0);
            ++row[c];
            ++nb.totals_[c];
        }
    }
    for (size_t c = 0; c < k; ++c) nb.log_prior_.push_back(std::log(docs[c] / static_cast<double>(data.size())));
    return nb;
}

std::string NaiveBayes::Predict(const std::string& title, const std::string& detail) const {
    const size_t k = labels_.size();
    std::vector<double> score = log_prior_;
    const double vocab = static_cast<double>(counts_.size());
    std::istringstream in(Featurize(title, detail));
    std::string tok;
    while (in >> tok) {
        const auto it = counts_.find(tok);
        if (it == counts_.end()) continue;
        for (size_t c = 0; c < k; ++c) score[c] += std::log((it->second[c] + 1) / (totals_[c] + vocab));
    }
    return labels_[static_cast<size_t>(std::max_element(score.begin(), score.end()) - score.begin())];
}

Evaluation Evaluate(const std::vector<std::string>& truth, const std::vector<std::string>& predicted) {
    Evaluation e;
    e.n = truth.size();
    std::map<std::string, size_t> index;
    for (const auto* v : {&truth, &predicted}) {
        for (const auto& l : *v) index.emplace(l, 0);
    }
    for (auto& [label, i] : index) i = e.labels.size(), e.labels.push_back(label);
    const size_t k = e.labels.size();
    e.confusion.assign(k, std::vector<size_t>(k, 0));
    size_t right = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
        ++e.confusion[index[truth[i]]][index[predicted[i]]];
        right += truth[i] == predicted[i];
    }
    e.accuracy = e.n == 0 ? 0 : static_cast<double>(right) / static_cast<double>(e.n);
    // Macro-F1 over the labels that occur in the truth.
    double f1_sum = 0;
    size_t classes = 0;
    for (size_t c = 0; c < k; ++c) {
        size_t tp = e.confusion[c][c], actual = 0, said = 0;
        for (size_t j = 0; j < k; ++j) actual += e.confusion[c][j], said += e.confusion[j][c];
        if (actual == 0) continue;
        ++classes;
        const double p = said == 0 ? 0 : static_cast<double>(tp) / static_cast<double>(said);
        const double r = static_cast<double>(tp) / static_cast<double>(actual);
        f1_sum += p + r == 0 ? 0 : 2 * p * r / (p + r);
    }
    e.macro_f1 = classes == 0 ? 0 : f1_sum / static_cast<double>(classes);
    return e;
}

Result<CrossValidation> CrossValidate(const std::vector<Message>& data, int folds, const TrainOptions& options) {
    if (folds < 2) return InvalidArgument("--folds", "must be at least 2");
    if (data.size() < static_cast<size_t>(folds)) return InvalidArgument("--folds", "more folds than messages");
    // Stratified: each label's messages are shuffled and dealt round the folds.
    std::map<std::string, std::vector<size_t>> by_label;
    for (size_t i = 0; i < data.size(); ++i) by_label[data[i].label].push_back(i);
    std::mt19937_64 rng(options.seed);
    std::vector<int> fold_of(data.size());
    int next = 0;
    for (auto& [label, idx] : by_label) {
        std::shuffle(idx.begin(), idx.end(), rng);
        for (const size_t i : idx) fold_of[i] = next++ % folds;
    }
    std::vector<std::string> truth, ft, nb, maj;
    for (int f = 0; f < folds; ++f) {
        std::vector<Message> train, test;
        for (size_t i = 0; i < data.size(); ++i) (fold_of[i] == f ? test : train).push_back(data[i]);
        CB_TRY_ASSIGN(const auto model, TextClassifier::Train(train, options));
        const auto bayes = NaiveBayes::Train(train);
        std::map<std::string, size_t> freq;
        for (const auto& m : train) ++freq[m.label];
        const std::string majority =
            std::max_element(freq.begin(), freq.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
        for (const auto& m : test) {
            truth.push_back(m.label);
            ft.push_back(model.Predict(m.title, m.detail, 1).at(0).label);
            nb.push_back(bayes.Predict(m.title, m.detail));
            maj.push_back(majority);
        }
    }
    return CrossValidation{Evaluate(truth, ft), Evaluate(truth, nb), Evaluate(truth, maj)};
}

}  // namespace citybrain::nlp
