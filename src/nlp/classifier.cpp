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
#include <string_view>
#include <unordered_map>

#include "core/file.hpp"
#include "core/utf8.hpp"
#include "nlp/tfidf_svm.hpp"

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
    // The full labelled set comes word-segmented in one column (title and detail joined, stop words removed):
    // its words are joined back, since the classifier reads characters, as it does in raw messages at run time.
    const int segmented = column("text_segmented");
    if (label < 0) return InvalidArgument(path + ":1", "missing column 'label_l1'");
    if (segmented < 0) {
        for (const auto& [name, idx] : {std::pair{"title", title}, {"detail", detail}}) {
            if (idx < 0) {
                return InvalidArgument(path + ":1", std::string("missing column '") + name + "' (or 'text_segmented')");
            }
        }
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
        if (segmented >= 0) {
            std::string joined = f[static_cast<size_t>(segmented)];
            std::erase(joined, ' ');
            if (joined.empty()) return InvalidArgument(where, "text_segmented: empty");
            // A few messages quote whole documents: what the classifier reads is the beginning.
            std::u32string chars = core::DecodeUtf8(joined);
            if (chars.size() > 4000) joined = core::EncodeUtf8(std::u32string_view(chars).substr(0, 4000));
            auto d = normalizer.Normalize(joined, "text_segmented");
            if (!d.ok()) return InvalidArgument(where, d.error().ToString());
            m.detail = std::move(*d);
            out.push_back(std::move(m));
            continue;
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
    c.BuildIndex();
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
    c.BuildIndex();
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

namespace {

/// fastText's word hash (FNV-1a over the bytes, each sign-extended as fastText does).
uint32_t FastTextHash(std::string_view s) {
    uint32_t h = 2166136261u;
    for (char c : s) {
        h ^= static_cast<uint32_t>(static_cast<int8_t>(c));
        h *= 16777619u;
    }
    return h;
}

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct TextClassifier::Index {
    std::unordered_map<std::string, std::pair<int32_t, uint32_t>, StringHash, std::equal_to<>> words;  // id, hash
    int32_t nwords = 0;
    int32_t eos = -1;
    uint32_t eos_hash = 0;
    uint64_t buckets = 0;
    int ngrams = 1;
    std::vector<std::string> labels;
};

void TextClassifier::BuildIndex() {
    index_.reset();
    const fasttext::Args args = model_->getArgs();
    if (model_->isQuant() || args.maxn > 0 || args.bucket <= 0) return;
    auto index = std::make_shared<Index>();
    const auto dict = model_->getDictionary();
    index->nwords = dict->nwords();
    index->buckets = static_cast<uint64_t>(args.bucket);
    index->ngrams = args.wordNgrams;
    index->words.reserve(static_cast<size_t>(index->nwords));
    for (int32_t i = 0; i < index->nwords; ++i) {
        std::string w = dict->getWord(i);
        const uint32_t h = FastTextHash(w);
        index->words.emplace(std::move(w), std::pair{i, h});
    }
    index->eos_hash = FastTextHash(fasttext::Dictionary::EOS);
    if (auto it = index->words.find(fasttext::Dictionary::EOS); it != index->words.end()) index->eos = it->second.first;
    for (int32_t i = 0; i < dict->nlabels(); ++i) {
        const std::string label = dict->getLabel(i);
        index->labels.push_back(label.rfind(kLabelPrefix, 0) == 0 ? label.substr(std::strlen(kLabelPrefix)) : label);
    }
    index_ = std::move(index);
}

std::vector<Prediction> TextClassifier::Predict(const std::string& title, const std::string& detail, int k) const {
    if (!index_) return PredictReference(title, detail, k);
    // What fastText's Dictionary::getLine does for a supervised line without subwords: the ids of known tokens,
    // the line's end-of-sentence token, then the hashed n-grams over every token's hash (unknown ones included).
    const Index& ix = *index_;
    const std::string line = Featurize(title, detail);
    std::vector<int32_t> ids;
    // fastText keeps the hashes as int32_t, so they widen with sign extension in the n-gram hash below.
    std::vector<int32_t> hashes;
    ids.reserve(line.size() / 2 + 8);
    hashes.reserve(line.size() / 2 + 8);
    for (size_t at = 0; at < line.size();) {
        size_t end = line.find(' ', at);
        if (end == std::string::npos) end = line.size();
        if (end > at) {
            const std::string_view token(line.data() + at, end - at);
            if (auto it = ix.words.find(token); it != ix.words.end()) {
                ids.push_back(it->second.first);
                hashes.push_back(static_cast<int32_t>(it->second.second));
            } else {
                hashes.push_back(static_cast<int32_t>(FastTextHash(token)));
            }
        }
        at = end + 1;
    }
    if (ix.eos >= 0) ids.push_back(ix.eos);
    hashes.push_back(static_cast<int32_t>(ix.eos_hash));
    for (size_t i = 0; i < hashes.size(); ++i) {
        uint64_t h = static_cast<uint64_t>(static_cast<int64_t>(hashes[i]));
        for (size_t j = i + 1; j < hashes.size() && j < i + static_cast<size_t>(ix.ngrams); ++j) {
            h = h * 116049371 + static_cast<uint64_t>(static_cast<int64_t>(hashes[j]));
            ids.push_back(ix.nwords + static_cast<int32_t>(h % ix.buckets));
        }
    }
    std::vector<std::pair<fasttext::real, int32_t>> raw;
    if (!ids.empty()) model_->predict(k, ids, raw, 0.0);
    std::vector<Prediction> out;
    out.reserve(raw.size());
    for (const auto& [log_prob, label] : raw) {
        out.push_back({ix.labels[static_cast<size_t>(label)], std::exp(static_cast<double>(log_prob))});
    }
    return out;
}

std::vector<Prediction> TextClassifier::PredictReference(const std::string& title,
                                                         const std::string& detail,
                                                         int k) const {
    // fastText reads a line from a stream: let it read the featurised string in place.
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

namespace {

/// The distinct character trigrams of a message (title and detail), each packed into one integer.
std::vector<uint64_t> Trigrams(const Message& m) {
    const std::u32string t = core::DecodeUtf8(m.title + m.detail);
    std::vector<uint64_t> out;
    for (size_t i = 0; i + 3 <= t.size(); ++i) {
        out.push_back((static_cast<uint64_t>(t[i]) << 42) | (static_cast<uint64_t>(t[i + 1]) << 21) | t[i + 2]);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace

std::vector<Message> ExcludeNearDuplicates(std::vector<Message> data,
                                           const std::vector<Message>& held,
                                           double threshold,
                                           size_t* removed) {
    // Each trigram → the held messages that have it; a training message counts its hits per held message.
    std::unordered_map<uint64_t, std::vector<uint32_t>> index;
    for (size_t h = 0; h < held.size(); ++h) {
        for (uint64_t g : Trigrams(held[h])) index[g].push_back(static_cast<uint32_t>(h));
    }
    std::vector<uint32_t> hits(held.size(), 0);
    std::vector<Message> kept;
    for (Message& m : data) {
        const std::vector<uint64_t> grams = Trigrams(m);
        std::fill(hits.begin(), hits.end(), 0);
        uint32_t best = 0;
        for (uint64_t g : grams) {
            auto it = index.find(g);
            if (it == index.end()) continue;
            for (uint32_t h : it->second) best = std::max(best, ++hits[h]);
        }
        if (!grams.empty() && static_cast<double>(best) >= threshold * static_cast<double>(grams.size())) continue;
        kept.push_back(std::move(m));
    }
    if (removed != nullptr) *removed = data.size() - kept.size();
    return kept;
}

Result<CrossValidation> CrossValidate(const std::vector<Message>& data,
                                      int folds,
                                      const TrainOptions& options,
                                      const SvmOptions& svm) {
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
    SvmOptions ranking = svm;
    ranking.calibrate = false;  // accuracy only ranks; the temperature would not change one answer
    std::vector<std::string> truth, ft, sv, nb, maj;
    for (int f = 0; f < folds; ++f) {
        std::vector<Message> train, test;
        for (size_t i = 0; i < data.size(); ++i) (fold_of[i] == f ? test : train).push_back(data[i]);
        CB_TRY_ASSIGN(const auto model, TextClassifier::Train(train, options));
        CB_TRY_ASSIGN(const auto linear, TfidfSvm::Train(train, ranking));
        const auto bayes = NaiveBayes::Train(train);
        std::map<std::string, size_t> freq;
        for (const auto& m : train) ++freq[m.label];
        const std::string majority =
            std::max_element(freq.begin(), freq.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
        for (const auto& m : test) {
            truth.push_back(m.label);
            ft.push_back(model.Predict(m.title, m.detail, 1).at(0).label);
            sv.push_back(linear.Predict(m.title, m.detail, 1).at(0).label);
            nb.push_back(bayes.Predict(m.title, m.detail));
            maj.push_back(majority);
        }
    }
    return CrossValidation{Evaluate(truth, ft), Evaluate(truth, sv), Evaluate(truth, nb), Evaluate(truth, maj)};
}

}  // namespace citybrain::nlp
