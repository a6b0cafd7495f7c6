// SPDX-License-Identifier: Apache-2.0
#include "nlp/tfidf_svm.hpp"

#include <linear.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string_view>

#include "nlp/text.hpp"

namespace citybrain::nlp {

namespace {

constexpr char kMagic[8] = {'C', 'B', 'T', 'F', 'S', 'V', 'M', '2'};    // with a temperature
constexpr char kMagicV1[8] = {'C', 'B', 'T', 'F', 'S', 'V', 'M', '1'};  // without
constexpr uint32_t kEmpty = UINT32_MAX;

uint64_t Fnv(std::string_view s) {
    uint64_t h = 1469598103934665603ULL;
    for (const char c : s) {
        h ^= static_cast<uint8_t>(c);
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t Mix(uint64_t a, uint64_t b) {
    // splitmix64's finaliser over the pair: order matters, so "ab" and "ba" differ.
    uint64_t z = a * 0x9E3779B97F4A7C15ULL ^ (b + 0xBF58476D1CE4E5B9ULL + (a << 6) + (a >> 2));
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/// The message's n-gram keys in text order, repeats included: token 1-, 2- and 3-grams over the title then the
/// detail.
std::vector<uint64_t> GramKeys(const std::string& title, const std::string& detail, size_t max_tokens) {
    const std::string tokens = Featurize("", title.empty() ? detail : title + " " + detail, max_tokens);
    std::vector<uint64_t> h;
    size_t start = 0;
    while (start < tokens.size()) {
        size_t end = tokens.find(' ', start);
        if (end == std::string::npos) end = tokens.size();
        if (end > start) h.push_back(Fnv(std::string_view(tokens).substr(start, end - start)));
        start = end + 1;
    }
    std::vector<uint64_t> keys;
    keys.reserve(h.size() * 3);
    for (size_t i = 0; i < h.size(); ++i) {
        keys.push_back(Mix(1, h[i]));
        if (i + 1 < h.size()) keys.push_back(Mix(Mix(2, h[i]), h[i + 1]));
        if (i + 2 < h.size()) keys.push_back(Mix(Mix(Mix(3, h[i]), h[i + 1]), h[i + 2]));
    }
    return keys;
}

/// Runs of equal values in a sorted vector, as (value, count).
template <class T>
std::vector<std::pair<T, uint32_t>> Counted(const std::vector<T>& sorted) {
    std::vector<std::pair<T, uint32_t>> out;
    for (const T k : sorted) {
        if (!out.empty() && out.back().first == k) {
            ++out.back().second;
        } else {
            out.emplace_back(k, 1);
        }
    }
    return out;
}

/// The message's distinct n-gram keys with their counts, sorted by key (for document frequencies).
std::vector<std::pair<uint64_t, uint32_t>> Grams(const std::string& title,
                                                 const std::string& detail,
                                                 size_t max_tokens) {
    std::vector<uint64_t> keys = GramKeys(title, detail, max_tokens);
    std::sort(keys.begin(), keys.end());
    return Counted(keys);
}

void Quiet(const char*) {}

template <class T>
void Put(std::ofstream& out, const T& v) {
    out.write(reinterpret_cast<const char*>(&v), sizeof v);
}

template <class T>
bool Get(std::ifstream& in, T& v) {
    return static_cast<bool>(in.read(reinterpret_cast<char*>(&v), sizeof v));
}

}  // namespace

Result<TfidfSvm> TfidfSvm::Train(const std::vector<Message>& data, const SvmOptions& options) {
    if (data.empty()) return InvalidArgument("data", "no training messages");
    if (!(options.c > 0)) return InvalidArgument("--svm-c", "must be positive");
    TfidfSvm m;
    m.max_tokens_ = options.max_tokens;
    std::map<std::string, int> label_id;
    for (const Message& msg : data) label_id.emplace(msg.label, 0);
    for (auto& [label, id] : label_id) {
        id = static_cast<int>(m.labels_.size());
        m.labels_.push_back(label);
    }
    // Document frequencies, then the vocabulary: n-grams in at least min_df messages, in order of first sight.
    std::unordered_map<uint64_t, uint32_t> df;
    std::vector<uint64_t> seen_order;
    for (const Message& msg : data) {
        for (const auto& [key, count] : Grams(msg.title, msg.detail, m.max_tokens_)) {
            if (df[key]++ == 0) seen_order.push_back(key);
        }
    }
    const auto n = static_cast<double>(data.size());
    for (const uint64_t key : seen_order) {
        const uint32_t d = df[key];
        if (static_cast<int>(d) < options.min_df) continue;
        m.keys_.push_back(key);
        m.idf_.push_back(static_cast<float>(std::log((1 + n) / (1 + d)) + 1));
    }
    if (m.idf_.empty())
        return InvalidArgument("data", "no n-gram occurs in --svm-min-df messages: too little text to train on");
    m.BuildIndex();
    const auto features = static_cast<int>(m.idf_.size());
    // liblinear's problem: one row per message, 1-based feature indices, the bias as one more feature (liblinear
    // expects that node when `bias` is set, and reports its weight apart: get_decfun_bias).
    std::vector<std::vector<feature_node>> rows(data.size());
    std::vector<feature_node*> x(data.size());
    std::vector<double> y(data.size());
    std::vector<int> per_label(m.labels_.size(), 0);
    for (size_t i = 0; i < data.size(); ++i) {
        for (const auto& [f, v] : m.Vector(data[i].title, data[i].detail)) {
            rows[i].push_back({static_cast<int>(f) + 1, static_cast<double>(v)});
        }
        rows[i].push_back({features + 1, 1.0});
        rows[i].push_back({-1, 0});
        x[i] = rows[i].data();
        const int label = label_id.at(data[i].label);
        y[i] = label;
        ++per_label[static_cast<size_t>(label)];
    }
    problem prob{};
    prob.l = static_cast<int>(data.size());
    prob.n = features + 1;
    prob.y = y.data();
    prob.x = x.data();
    prob.bias = 1;
    // Classes weighted by their rarity, so that a small department is not drowned by a large one.
    std::vector<int> weight_label(m.labels_.size());
    std::vector<double> weight(m.labels_.size());
    for (size_t k = 0; k < m.labels_.size(); ++k) {
        weight_label[k] = static_cast<int>(k);
        weight[k] = n / (static_cast<double>(m.labels_.size()) * std::max(1, per_label[k]));
    }
    parameter param{};
    param.solver_type = options.logistic ? L2R_LR_DUAL : L2R_L2LOSS_SVC_DUAL;
    param.eps = 0.1;
    param.C = options.c;
    param.nr_weight = static_cast<int>(weight.size());
    param.weight_label = weight_label.data();
    param.weight = weight.data();
    param.p = 0.1;
    param.init_sol = nullptr;
    if (const char* why = check_parameter(&prob, &param)) return InvalidArgument("svm", why);
    set_print_string_function(&Quiet);
    std::srand(1);  // the dual solvers shuffle with rand(): the same seed gives the same model
    model* trained = train(&prob, &param);
    if (trained == nullptr) return Error{ErrorCode::kInternal, "liblinear did not return a model", "svm"};
    // The weights, out of liblinear's layout, as one row of `classes` floats per feature (a class liblinear never
    // saw, impossible here since every label has a message, would keep zeros).
    const size_t classes = m.labels_.size();
    std::vector<int> order(static_cast<size_t>(get_nr_class(trained)));
    get_labels(trained, order.data());
    m.weights_.assign(static_cast<size_t>(features) * classes, 0.0F);
    m.bias_.assign(classes, 0.0F);
    for (size_t c = 0; c < order.size(); ++c) {
        const auto label = static_cast<size_t>(order[c]);
        for (int f = 0; f < features; ++f) {
            m.weights_[static_cast<size_t>(f) * classes + label] =
                static_cast<float>(get_decfun_coef(trained, f + 1, static_cast<int>(c)));
        }
        m.bias_[label] = static_cast<float>(get_decfun_bias(trained, static_cast<int>(c)));
    }
    free_and_destroy_model(&trained);
    if (options.calibrate && data.size() >= 30) m.temperature_ = FitTemperature(data, options, m.labels_);
    return m;
}

double TfidfSvm::FitTemperature(const std::vector<Message>& data,
                                const SvmOptions& options,
                                const std::vector<std::string>& labels) {
    // Out-of-fold scores: every third message held out in turn, the model of the other two thirds scoring it.
    constexpr size_t kFolds = 3;
    SvmOptions inner = options;
    inner.calibrate = false;
    std::vector<std::vector<double>> scores;  // in `labels` order
    std::vector<size_t> truth;
    for (size_t fold = 0; fold < kFolds; ++fold) {
        std::vector<Message> train;
        for (size_t i = 0; i < data.size(); ++i) {
            if (i % kFolds != fold) train.push_back(data[i]);
        }
        auto model = Train(train, inner);
        if (!model.ok()) return 0;  // a fold too small to train: no calibration, the uncalibrated scores stand
        for (size_t i = fold; i < data.size(); i += kFolds) {
            const std::vector<double> s = model->Scores(data[i].title, data[i].detail);
            std::vector<double> row(labels.size(), -1e9);  // a label the fold never saw scores nothing
            for (size_t c = 0; c < model->labels_.size(); ++c) {
                const auto at = std::find(labels.begin(), labels.end(), model->labels_[c]);
                row[static_cast<size_t>(at - labels.begin())] = s[c];
            }
            scores.push_back(std::move(row));
            truth.push_back(
                static_cast<size_t>(std::find(labels.begin(), labels.end(), data[i].label) - labels.begin()));
        }
    }
    const auto log_loss = [&](double t) {
        double loss = 0;
        for (size_t i = 0; i < scores.size(); ++i) {
            const double top = *std::max_element(scores[i].begin(), scores[i].end());
            double z = 0;
            for (const double v : scores[i]) z += std::exp(t * (v - top));
            loss += std::log(z) - t * (scores[i][truth[i]] - top);
        }
        return loss;
    };
    // Golden-section search on log t over [1/20, 100]: the loss is convex in t.
    double lo = std::log(0.05), hi = std::log(100.0);
    const double g = (std::sqrt(5.0) - 1) / 2;
    double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
    double fa = log_loss(std::exp(a)), fb = log_loss(std::exp(b));
    for (int it = 0; it < 60; ++it) {
        if (fa < fb) {
            hi = b, b = a, fb = fa;
            a = hi - g * (hi - lo);
            fa = log_loss(std::exp(a));
        } else {
            lo = a, a = b, fa = fb;
            b = lo + g * (hi - lo);
            fb = log_loss(std::exp(b));
        }
    }
    return std::exp((lo + hi) / 2);
}

void TfidfSvm::BuildIndex() {
    size_t slots = 16;
    while (slots < keys_.size() * 2) slots *= 2;  // at most half full: short probes
    slot_key_.assign(slots, 0);
    slot_feature_.assign(slots, kEmpty);
    for (size_t f = 0; f < keys_.size(); ++f) {
        size_t i = keys_[f] & (slots - 1);  // keys are mixed hashes already: their low bits are as good as any
        while (slot_feature_[i] != kEmpty) i = (i + 1) & (slots - 1);
        slot_key_[i] = keys_[f];
        slot_feature_[i] = static_cast<uint32_t>(f);
    }
}

int64_t TfidfSvm::Feature(uint64_t key) const {
    const size_t mask = slot_key_.size() - 1;
    for (size_t i = key & mask;; i = (i + 1) & mask) {
        if (slot_feature_[i] == kEmpty) return -1;
        if (slot_key_[i] == key) return slot_feature_[i];
    }
}

std::vector<std::pair<uint32_t, float>> TfidfSvm::Vector(const std::string& title, const std::string& detail) const {
    // Unknown n-grams are dropped before sorting, and the features are sorted as 32-bit numbers: the sort of every
    // 64-bit key was a third of the time per message.
    std::vector<uint32_t> features;
    for (const uint64_t key : GramKeys(title, detail, max_tokens_)) {
        const int64_t f = Feature(key);
        if (f >= 0) features.push_back(static_cast<uint32_t>(f));
    }
    std::sort(features.begin(), features.end());
    std::vector<std::pair<uint32_t, float>> v;
    v.reserve(features.size());
    for (const auto& [f, count] : Counted(features))
        v.emplace_back(f, (1 + std::log(static_cast<float>(count))) * idf_[f]);
    double norm = 0;
    for (const auto& [f, w] : v) norm += static_cast<double>(w) * w;
    if (norm > 0) {
        const auto scale = static_cast<float>(1 / std::sqrt(norm));
        for (auto& [f, w] : v) w *= scale;
    }
    return v;
}

std::vector<double> TfidfSvm::Scores(const std::string& title, const std::string& detail) const {
    const size_t classes = labels_.size();
    std::vector<double> score(bias_.begin(), bias_.end());
    for (const auto& [f, w] : Vector(title, detail)) {
        const float* row = &weights_[static_cast<size_t>(f) * classes];
        for (size_t c = 0; c < classes; ++c) score[c] += static_cast<double>(w) * row[c];
    }
    return score;
}

std::vector<Prediction> TfidfSvm::Predict(const std::string& title, const std::string& detail, int k) const {
    const size_t classes = labels_.size();
    std::vector<double> score = Scores(title, detail);
    double total = 0;
    if (temperature_ > 0) {
        const double top = *std::max_element(score.begin(), score.end());
        for (double& s : score) {
            s = std::exp(temperature_ * (s - top));
            total += s;
        }
    } else {
        for (double& s : score) {
            s = 1 / (1 + std::exp(-s));
            total += s;
        }
    }
    std::vector<Prediction> out;
    for (size_t c = 0; c < classes; ++c) out.push_back({labels_[c], total > 0 ? score[c] / total : 0});
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.confidence > b.confidence; });
    out.resize(std::min(out.size(), static_cast<size_t>(std::max(k, 1))));
    return out;
}

bool TfidfSvm::IsModelFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[sizeof kMagic] = {};
    return in.read(magic, sizeof magic) &&
           (std::memcmp(magic, kMagic, sizeof magic) == 0 || std::memcmp(magic, kMagicV1, sizeof magic) == 0);
}

Status TfidfSvm::Save(const std::string& path) const {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) return InvalidArgument(path, "cannot write the model");
    out.write(kMagic, sizeof kMagic);
    Put(out, static_cast<uint32_t>(labels_.size()));
    for (const std::string& l : labels_) {
        Put(out, static_cast<uint32_t>(l.size()));
        out.write(l.data(), static_cast<std::streamsize>(l.size()));
    }
    Put(out, static_cast<uint32_t>(max_tokens_));
    Put(out, static_cast<uint32_t>(idf_.size()));
    out.write(reinterpret_cast<const char*>(keys_.data()),
              static_cast<std::streamsize>(keys_.size() * sizeof(uint64_t)));
    out.write(reinterpret_cast<const char*>(idf_.data()), static_cast<std::streamsize>(idf_.size() * sizeof(float)));
    out.write(reinterpret_cast<const char*>(weights_.data()),
              static_cast<std::streamsize>(weights_.size() * sizeof(float)));
    out.write(reinterpret_cast<const char*>(bias_.data()), static_cast<std::streamsize>(bias_.size() * sizeof(float)));
    Put(out, temperature_);
    if (!out) return InvalidArgument(path, "cannot write the model");
    return {};
}

Result<TfidfSvm> TfidfSvm::Load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound(path, "cannot open file");
    char magic[sizeof kMagic] = {};
    const bool v2 = in.read(magic, sizeof magic) && std::memcmp(magic, kMagic, sizeof magic) == 0;
    if (!v2 && std::memcmp(magic, kMagicV1, sizeof magic) != 0) return InvalidArgument(path, "not a TF-IDF model");
    const auto bad = [&](const char* what) {
        return InvalidArgument(path, std::string("truncated or corrupt: ") + what);
    };
    TfidfSvm m;
    uint32_t classes = 0, max_tokens = 0, features = 0;
    if (!Get(in, classes) || classes == 0 || classes > 10000) return bad("labels");
    for (uint32_t c = 0; c < classes; ++c) {
        uint32_t len = 0;
        if (!Get(in, len) || len > 1000) return bad("label");
        std::string l(len, '\0');
        if (!in.read(l.data(), len)) return bad("label");
        m.labels_.push_back(std::move(l));
    }
    if (!Get(in, max_tokens) || !Get(in, features) || features == 0 || features > 50'000'000) return bad("features");
    m.max_tokens_ = max_tokens;
    m.keys_.resize(features);
    m.idf_.resize(features);
    m.weights_.resize(static_cast<size_t>(features) * classes);
    m.bias_.resize(classes);
    if (!in.read(reinterpret_cast<char*>(m.keys_.data()),
                 static_cast<std::streamsize>(m.keys_.size() * sizeof(uint64_t))) ||
        !in.read(reinterpret_cast<char*>(m.idf_.data()), static_cast<std::streamsize>(m.idf_.size() * sizeof(float))) ||
        !in.read(reinterpret_cast<char*>(m.weights_.data()),
                 static_cast<std::streamsize>(m.weights_.size() * sizeof(float))) ||
        !in.read(reinterpret_cast<char*>(m.bias_.data()),
                 static_cast<std::streamsize>(m.bias_.size() * sizeof(float)))) {
        return bad("weights");
    }
    if (v2 && (!Get(in, m.temperature_) || !std::isfinite(m.temperature_) || m.temperature_ < 0))
        return bad("temperature");
    m.BuildIndex();
    return m;
}

}  // namespace citybrain::nlp
