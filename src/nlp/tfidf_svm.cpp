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

constexpr char kMagic[8] = {'C', 'B', 'T', 'F', 'S', 'V', 'M', '1'};

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

/// The message's n-gram keys with their counts, sorted by key: token 1-, 2- and 3-grams over the title then the
/// detail. (A sorted vector, not a hash map: one allocation per message, and most of the time is in the lookups.)
std::vector<std::pair<uint64_t, uint32_t>> Grams(const std::string& title,
                                                 const std::string& detail,
                                                 size_t max_tokens) {
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
    std::sort(keys.begin(), keys.end());
    std::vector<std::pair<uint64_t, uint32_t>> out;
    for (const uint64_t k : keys) {
        if (!out.empty() && out.back().first == k) {
            ++out.back().second;
        } else {
            out.emplace_back(k, 1);
        }
    }
    return out;
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
        m.index_.emplace(key, static_cast<uint32_t>(m.idf_.size()));
        m.idf_.push_back(static_cast<float>(std::log((1 + n) / (1 + d)) + 1));
    }
    if (m.idf_.empty())
        return InvalidArgument("data", "no n-gram occurs in --svm-min-df messages: too little text to train on");
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
    return m;
}

std::vector<std::pair<uint32_t, float>> TfidfSvm::Vector(const std::string& title, const std::string& detail) const {
    std::vector<std::pair<uint32_t, float>> v;
    for (const auto& [key, count] : Grams(title, detail, max_tokens_)) {
        auto it = index_.find(key);
        if (it == index_.end()) continue;
        v.emplace_back(it->second, (1 + std::log(static_cast<float>(count))) * idf_[it->second]);
    }
    double norm = 0;
    for (const auto& [f, w] : v) norm += static_cast<double>(w) * w;
    if (norm > 0) {
        const auto scale = static_cast<float>(1 / std::sqrt(norm));
        for (auto& [f, w] : v) w *= scale;
    }
    std::sort(v.begin(), v.end());
    return v;
}

std::vector<Prediction> TfidfSvm::Predict(const std::string& title, const std::string& detail, int k) const {
    const size_t classes = labels_.size();
    std::vector<double> score(bias_.begin(), bias_.end());
    for (const auto& [f, w] : Vector(title, detail)) {
        const float* row = &weights_[static_cast<size_t>(f) * classes];
        for (size_t c = 0; c < classes; ++c) score[c] += static_cast<double>(w) * row[c];
    }
    double total = 0;
    for (double& s : score) {
        s = 1 / (1 + std::exp(-s));
        total += s;
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
    return in.read(magic, sizeof magic) && std::memcmp(magic, kMagic, sizeof magic) == 0;
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
    std::vector<uint64_t> keys(idf_.size());
    for (const auto& [key, f] : index_) keys[f] = key;
    out.write(reinterpret_cast<const char*>(keys.data()), static_cast<std::streamsize>(keys.size() * sizeof(uint64_t)));
    out.write(reinterpret_cast<const char*>(idf_.data()), static_cast<std::streamsize>(idf_.size() * sizeof(float)));
    out.write(reinterpret_cast<const char*>(weights_.data()),
              static_cast<std::streamsize>(weights_.size() * sizeof(float)));
    out.write(reinterpret_cast<const char*>(bias_.data()), static_cast<std::streamsize>(bias_.size() * sizeof(float)));
    if (!out) return InvalidArgument(path, "cannot write the model");
    return {};
}

Result<TfidfSvm> TfidfSvm::Load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound(path, "cannot open file");
    if (!IsModelFile(path)) return InvalidArgument(path, "not a TF-IDF model");
    in.seekg(sizeof kMagic);
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
    std::vector<uint64_t> keys(features);
    m.idf_.resize(features);
    m.weights_.resize(static_cast<size_t>(features) * classes);
    m.bias_.resize(classes);
    if (!in.read(reinterpret_cast<char*>(keys.data()), static_cast<std::streamsize>(keys.size() * sizeof(uint64_t))) ||
        !in.read(reinterpret_cast<char*>(m.idf_.data()), static_cast<std::streamsize>(m.idf_.size() * sizeof(float))) ||
        !in.read(reinterpret_cast<char*>(m.weights_.data()),
                 static_cast<std::streamsize>(m.weights_.size() * sizeof(float))) ||
        !in.read(reinterpret_cast<char*>(m.bias_.data()),
                 static_cast<std::streamsize>(m.bias_.size() * sizeof(float)))) {
        return bad("weights");
    }
    m.index_.reserve(features);
    for (uint32_t f = 0; f < features; ++f) m.index_.emplace(keys[f], f);
    return m;
}

}  // namespace citybrain::nlp
