// SPDX-License-Identifier: Apache-2.0
#include "clinic/model.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/file.hpp"
#include "core/utf8.hpp"

namespace citybrain::clinic {

extern const char* const kDefaultKnowledgeJson;

namespace {

constexpr const char* kFormat = "citybrain-clinic-nb/1";
constexpr double kMinTemperature = 0.2;
constexpr double kMaxTemperature = 20;
constexpr double kMaxTextWeight = 2;
constexpr double kGramAlpha = 0.5;  // additive smoothing of the character counts

// A letter or a digit of any script: what the text model reads (spaces and punctuation, ASCII or CJK, are not).
bool Readable(char32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (c >= 0x2000 && c <= 0x206F) return false;  // general punctuation
    if (c >= 0x3000 && c <= 0x303F) return false;  // CJK symbols and punctuation
    if (c >= 0xFF00 && c <= 0xFF0F) return false;  // fullwidth ！＂＃… to ／
    if (c >= 0xFF1A && c <= 0xFF20) return false;  // fullwidth ：；＜＝＞？＠
    return c != 0xFFFD;
}

// A gram as a number: a readable character in the high bits, the one after it (or 0 for a single character) in the
// low 21. Numbers, not strings, so that scoring a text allocates nothing per gram.
using GramKey = uint64_t;
constexpr int kCodeBits = 21;
constexpr char32_t kCodeLimit = char32_t{1} << kCodeBits;

GramKey Key(char32_t first, char32_t second) { return (GramKey{first} << kCodeBits) | GramKey{second}; }

// Each readable character and each pair of adjacent readable ones.
template <typename Fn>
void ForEachGram(std::string_view text, Fn&& fn) {
    const std::u32string cps = core::DecodeUtf8(text);
    auto ok = [&](size_t i) { return Readable(cps[i]) && cps[i] < kCodeLimit; };
    for (size_t i = 0; i < cps.size(); ++i) {
        if (!ok(i)) continue;
        fn(Key(cps[i], 0));
        if (i + 1 < cps.size() && ok(i + 1)) fn(Key(cps[i], cps[i + 1]));
    }
}

std::string GramText(GramKey k) {
    std::u32string cps(1, static_cast<char32_t>(k >> kCodeBits));
    if (const auto second = static_cast<char32_t>(k & (kCodeLimit - 1)); second != 0) cps.push_back(second);
    return core::EncodeUtf8(cps);
}

// A stored gram back to its number; 0 when it is not one or two readable characters.
GramKey GramFromText(std::string_view text) {
    if (!core::ValidUtf8(text)) return 0;
    const std::u32string cps = core::DecodeUtf8(text);
    if (cps.empty() || cps.size() > 2) return 0;
    for (const char32_t c : cps)
        if (!Readable(c) || c >= kCodeLimit) return 0;
    return Key(cps[0], cps.size() == 2 ? cps[1] : 0);
}

Result<std::vector<std::pair<std::string, bool>>> SymptomMap(const nlohmann::json& entry,
                                                             const char* key,
                                                             const std::string& at,
                                                             const Vocabulary& vocabulary) {
    std::vector<std::pair<std::string, bool>> out;
    if (!entry.contains(key)) return out;
    const auto& m = entry[key];
    if (!m.is_object()) return InvalidArgument(at + "." + key, "must be an object of symptom: true|false");
    for (const auto& [name, value] : m.items()) {
        if (!value.is_boolean()) return InvalidArgument(at + "." + key + "." + name, "must be true or false");
        std::string canon = vocabulary.Canonical(name);
        const bool v = value.get<bool>();
        // Two dataset names for one symptom ("发热" and "发烧"): a yes wins.
        auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == canon; });
        if (it == out.end())
            out.emplace_back(std::move(canon), v);
        else
            it->second = it->second || v;
    }
    return out;
}

double Entropy(const std::vector<double>& p) {
    double h = 0;
    for (double x : p)
        if (x > 0) h -= x * std::log(x);
    return h;
}

}  // namespace

Result<std::vector<Case>> ParseCases(std::string_view json, const std::string& where, const Vocabulary& vocabulary) {
    nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
    if (doc.is_discarded()) return InvalidArgument(where, "not valid JSON");
    if (!doc.is_array()) return InvalidArgument(where, "must be a JSON array of consultations");
    std::vector<Case> cases;
    cases.reserve(doc.size());
    for (size_t i = 0; i < doc.size(); ++i) {
        const auto& e = doc[i];
        const std::string at = where + ": [" + std::to_string(i) + "]";
        if (!e.is_object()) return InvalidArgument(at, "must be an object");
        Case c;
        if (!e.contains("disease") || !e["disease"].is_string() || e["disease"].get<std::string>().empty())
            return InvalidArgument(at + ".disease", "must be a non-empty string");
        c.disease = e["disease"].get<std::string>();
        if (e.contains("consult_id"))
            c.id = e["consult_id"].is_string() ? e["consult_id"].get<std::string>() : e["consult_id"].dump();
        auto v = SymptomMap(e, "explicit", at, vocabulary);
        if (!v.ok()) return v.error();
        c.volunteered = std::move(v).value();
        auto im = SymptomMap(e, "implicit", at, vocabulary);
        if (!im.ok()) return im.error();
        c.elicited = std::move(im).value();
        // A symptom both volunteered and elicited counts once, as volunteered.
        std::erase_if(c.elicited, [&](const auto& p) {
            return std::any_of(
                c.volunteered.begin(), c.volunteered.end(), [&](const auto& q) { return q.first == p.first; });
        });
        if (e.contains("self_report")) {
            if (!e["self_report"].is_string()) return InvalidArgument(at + ".self_report", "must be a string");
            c.self_report = e["self_report"].get<std::string>();
            c.words = vocabulary.Extract(c.self_report);
        }
        cases.push_back(std::move(c));
    }
    if (cases.empty()) return InvalidArgument(where, "holds no consultation");
    return cases;
}

Result<std::vector<Case>> ReadCases(const std::string& path, const Vocabulary& vocabulary) {
    auto text = core::ReadFile(path);
    if (!text.ok()) return text.error();
    return ParseCases(*text, path, vocabulary);
}

Result<Model> Model::Train(const std::vector<Case>& cases, const Vocabulary& vocabulary, const TrainOptions& options) {
    if (cases.empty()) return InvalidArgument("data", "holds no consultation");
    if (!(options.alpha > 0)) return InvalidArgument("--alpha", "must be above 0");
    Model m;
    std::set<std::string> diseases;
    std::set<std::string> symptoms;
    for (const Case& c : cases) {
        diseases.insert(c.disease);
        for (const auto& [s, v] : c.volunteered) symptoms.insert(s);
        for (const auto& [s, v] : c.elicited) symptoms.insert(s);
    }
    if (diseases.size() < 2) return InvalidArgument("data", "needs at least two diseases to tell apart");
    m.diseases_.assign(diseases.begin(), diseases.end());
    m.symptoms_.assign(symptoms.begin(), symptoms.end());
    const size_t D = m.diseases_.size();
    const size_t S = m.symptoms_.size();
    std::vector<double> count(D, 0), age(D * kAgeBands, 0), sym(S * D * 3, 0), vol(S * D * 3, 0), unsaid(S * D, 0);
    std::map<std::string, size_t> di, si;
    for (size_t d = 0; d < D; ++d) di[m.diseases_[d]] = d;
    for (size_t s = 0; s < S; ++s) si[m.symptoms_[s]] = s;
    constexpr auto kUnsure = static_cast<int>(Answer::kUnsure);
    for (const Case& c : cases) {
        const size_t d = di[c.disease];
        count[d] += 1;
        const int band = c.self_report.empty() ? 0 : AgeBand(c.Words(vocabulary).age_months);
        age[d * kAgeBands + static_cast<size_t>(band)] += 1;
        std::vector<int> said(S, kUnsure), seen(S, kUnsure);  // unsure: not said unasked / not recorded at all
        for (const auto& [s, v] : c.volunteered) said[si[s]] = static_cast<int>(v ? Answer::kYes : Answer::kNo);
        for (const auto& [s, v] : c.elicited) seen[si[s]] = static_cast<int>(v ? Answer::kYes : Answer::kNo);
        for (size_t s = 0; s < S; ++s) {
            vol[(s * D + d) * 3 + static_cast<size_t>(said[s])] += 1;
            if (options.volunteered && said[s] != kUnsure) continue;  // what a question finds: among the unsaid
            const int answer = said[s] != kUnsure ? said[s] : seen[s];
            sym[(s * D + d) * 3 + static_cast<size_t>(answer)] += 1;
            unsaid[s * D + d] += 1;
        }
    }
    const double a = options.alpha;
    m.prior_.resize(D);
    m.age_.resize(D * kAgeBands);
    m.like_.resize(S * D * 3);
    if (options.volunteered) m.vol_.resize(S * D * 3);
    for (size_t d = 0; d < D; ++d) {
        m.prior_[d] = (count[d] + a) / (static_cast<double>(cases.size()) + a * static_cast<double>(D));
        for (int b = 0; b < kAgeBands; ++b)
            m.age_[d * kAgeBands + static_cast<size_t>(b)] =
                (age[d * kAgeBands + static_cast<size_t>(b)] + a) / (count[d] + a * kAgeBands);
        for (size_t s = 0; s < S; ++s)
            for (size_t v = 0; v < 3; ++v) {
                m.like_[(s * D + d) * 3 + v] = (sym[(s * D + d) * 3 + v] + a) / (unsaid[s * D + d] + 3 * a);
                if (options.volunteered)
                    m.vol_[(s * D + d) * 3 + v] = (vol[(s * D + d) * 3 + v] + a) / (count[d] + 3 * a);
            }
    }
    m.TrainText(cases);
    m.source_ = "trained on " + std::to_string(cases.size()) + " consultations";
    m.Finish();
    return m;
}

void Model::TrainText(const std::vector<Case>& cases) {
    const size_t D = diseases_.size();
    std::map<GramKey, std::vector<double>> grams;  // gram → per-disease count
    std::vector<double> total(D, 0);
    for (const Case& c : cases) {
        if (c.self_report.empty()) continue;
        const size_t d =
            static_cast<size_t>(std::lower_bound(diseases_.begin(), diseases_.end(), c.disease) - diseases_.begin());
        ForEachGram(c.self_report, [&](GramKey g) {
            auto& v = grams[g];
            if (v.empty()) v.assign(D, 0);
            v[d] += 1;
            total[d] += 1;
        });
    }
    // A disease none of whose consultations has a text would be scored on smoothing alone: no text part then.
    if (grams.empty() || std::any_of(total.begin(), total.end(), [](double t) { return t == 0; })) return;
    const auto V = static_cast<double>(grams.size());
    grams_.reserve(grams.size());
    gram_log_.reserve(grams.size() * D);
    for (const auto& [g, v] : grams) {
        grams_.push_back(g);
        for (size_t d = 0; d < D; ++d) gram_log_.push_back(std::log((v[d] + kGramAlpha) / (total[d] + kGramAlpha * V)));
    }
    unseen_log_.resize(D);
    for (size_t d = 0; d < D; ++d) unseen_log_[d] = std::log(kGramAlpha / (total[d] + kGramAlpha * V));
}

Result<Model> Model::FromKnowledge(std::string_view json, const std::string& where) {
    try {
        return FromKnowledgeChecked(json, where);
    } catch (const nlohmann::json::exception& e) {  // a field of the wrong type (value() throws)
        return InvalidArgument(where, std::string("not a knowledge base: ") + e.what());
    }
}

Result<Model> Model::FromKnowledgeChecked(std::string_view json, const std::string& where) {
    nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return InvalidArgument(where, "not a JSON object");
    if (!doc.contains("diseases") || !doc["diseases"].is_array() || doc["diseases"].size() < 2)
        return InvalidArgument(where + ": diseases", "must be an array of at least two diseases");
    const double unsure = doc.value("unsure", 0.3);
    const double floor = doc.value("absent_default", 0.03);
    if (!(unsure > 0 && unsure < 1)) return InvalidArgument(where + ": unsure", "must be between 0 and 1");
    if (!(floor > 0 && floor < 1)) return InvalidArgument(where + ": absent_default", "must be between 0 and 1");
    Model m;
    m.source_ = doc.value("source", std::string("knowledge base"));
    std::set<std::string> symptoms;
    for (size_t i = 0; i < doc["diseases"].size(); ++i) {
        const auto& d = doc["diseases"][i];
        const std::string at = where + ": diseases[" + std::to_string(i) + "]";
        if (!d.is_object() || !d.contains("name") || !d["name"].is_string())
            return InvalidArgument(at + ".name", "must be a string");
        if (!d.contains("symptoms") || !d["symptoms"].is_object())
            return InvalidArgument(at + ".symptoms", "must be an object of symptom: probability");
        for (const auto& [s, p] : d["symptoms"].items()) {
            if (!p.is_number() || !(p.get<double>() > 0 && p.get<double>() < 1))
                return InvalidArgument(at + ".symptoms." + s, "must be a probability between 0 and 1");
            symptoms.insert(Vocabulary::Default().Canonical(s));
        }
    }
    m.symptoms_.assign(symptoms.begin(), symptoms.end());
    const size_t D = doc["diseases"].size();
    const size_t S = m.symptoms_.size();
    m.like_.assign(S * D * 3, 0);
    m.age_.assign(D * kAgeBands, 1.0);
    for (size_t d = 0; d < D; ++d) {
        const auto& e = doc["diseases"][d];
        const std::string at = where + ": diseases[" + std::to_string(d) + "]";
        m.diseases_.push_back(e["name"].get<std::string>());
        m.care_.push_back(e.value("care", std::string("self_care")));
        if (m.care_.back() != "self_care" && m.care_.back() != "see_doctor_today" && m.care_.back() != "refer_now")
            return InvalidArgument(at + ".care", "must be self_care, see_doctor_today or refer_now");
        const double prior = e.value("prior", 1.0);
        if (!(prior > 0)) return InvalidArgument(at + ".prior", "must be above 0");
        m.prior_.push_back(prior);
        if (e.contains("age")) {
            if (!e["age"].is_array() || e["age"].size() != kAgeBands - 1)
                return InvalidArgument(at + ".age", "must be 4 weights: under 6 months, 6-12 months, 1-3 years, older");
            for (size_t b = 0; b + 1 < kAgeBands; ++b) {
                if (!e["age"][b].is_number() || !(e["age"][b].get<double>() > 0))
                    return InvalidArgument(at + ".age[" + std::to_string(b) + "]", "must be above 0");
                m.age_[d * kAgeBands + b + 1] = e["age"][b].get<double>();
            }
        }
        for (size_t s = 0; s < S; ++s) {
            double p = floor;
            for (const auto& [name, value] : e["symptoms"].items())
                if (Vocabulary::Default().Canonical(name) == m.symptoms_[s]) p = value.get<double>();
            m.like_[(s * D + d) * 3 + 0] = (1 - unsure) * p;
            m.like_[(s * D + d) * 3 + 1] = (1 - unsure) * (1 - p);
            m.like_[(s * D + d) * 3 + 2] = unsure;
        }
    }
    std::set<std::string> names(m.diseases_.begin(), m.diseases_.end());
    if (names.size() != D) return InvalidArgument(where + ": diseases", "a disease is listed twice");
    double total = 0;
    for (double p : m.prior_) total += p;
    for (double& p : m.prior_) p /= total;
    for (size_t d = 0; d < D; ++d) {  // age weights to a distribution over the known bands; unknown age is neutral
        double sum = 0;
        for (size_t b = 1; b < kAgeBands; ++b) sum += m.age_[d * kAgeBands + b];
        for (size_t b = 1; b < kAgeBands; ++b) m.age_[d * kAgeBands + b] /= sum;
        m.age_[d * kAgeBands] = 1.0;
    }
    m.Finish();
    return m;
}

const Model& Model::Default() {
    static const Model m = [] {
        auto r = FromKnowledge(kDefaultKnowledgeJson, "config/clinic/knowledge.json");
        CB_ASSERT(r.ok(), "the embedded clinic configuration parses");
        return std::move(r).value();
    }();
    return m;
}

void Model::Finish() {
    if (care_.size() != diseases_.size()) {
        // A trained model takes each disease's care from the knowledge base when it names the disease.
        care_.assign(diseases_.size(), "self_care");
        if (this != &Default()) {
            const Model& kb = Default();
            for (size_t d = 0; d < diseases_.size(); ++d)
                for (size_t k = 0; k < kb.diseases_.size(); ++k)
                    if (kb.diseases_[k] == diseases_[d]) care_[d] = kb.care_[k];
        }
    }
    auto logs = [](const std::vector<double>& in) {
        std::vector<double> out(in.size());
        for (size_t i = 0; i < in.size(); ++i) out[i] = std::log(in[i]);
        return out;
    };
    log_prior_ = logs(prior_);
    log_like_ = logs(like_);
    log_vol_ = logs(vol_);
    log_unsaid_.assign(vol_.empty() ? 0 : diseases_.size(), 0);
    for (size_t i = 0; i < log_vol_.size(); i += 3) log_unsaid_[(i / 3) % diseases_.size()] += log_vol_[i + 2];
    log_age_ = logs(age_);
}

int Model::SymptomIndex(std::string_view name) const {
    const auto it = std::lower_bound(symptoms_.begin(), symptoms_.end(), name);
    return it != symptoms_.end() && *it == name ? static_cast<int>(it - symptoms_.begin()) : -1;
}

Evidence Model::Observe(const Findings& findings, const std::vector<std::string>& asked) const {
    Evidence e;
    e.answer.assign(symptoms_.size(), Evidence::kUnknown);
    e.volunteered.assign(symptoms_.size(), 0);
    for (const Finding& f : findings.items) {
        const int s = SymptomIndex(f.symptom);
        if (s < 0) continue;
        e.answer[static_cast<size_t>(s)] = static_cast<int>(f.answer);
        e.volunteered[static_cast<size_t>(s)] = std::find(asked.begin(), asked.end(), f.symptom) == asked.end();
    }
    e.age_band = AgeBand(findings.age_months);
    return e;
}

std::vector<double> Model::TextScores(std::string_view text) const {
    const size_t D = diseases_.size();
    if (grams_.empty() || text_weight_ == 0) return {};
    std::vector<double> score(D, 0);
    bool any = false;
    ForEachGram(text, [&](GramKey g) {
        any = true;
        const auto it = std::lower_bound(grams_.begin(), grams_.end(), g);
        const bool seen = it != grams_.end() && *it == g;
        const auto k = static_cast<size_t>(it - grams_.begin());
        for (size_t d = 0; d < D; ++d) score[d] += seen ? gram_log_[k * D + d] : unseen_log_[d];
    });
    if (!any) return {};
    const double top = *std::max_element(score.begin(), score.end());
    for (double& x : score) x = text_weight_ * (x - top);
    return score;
}

Status Model::set_text_weight(double w) {
    if (!(w >= 0 && w <= kMaxTextWeight)) return InvalidArgument("text_weight", "must be from 0 to 2");
    text_weight_ = w;
    return {};
}

std::vector<double> Model::Posterior(const Evidence& evidence) const {
    const size_t D = diseases_.size();
    std::vector<double> score(D);
    for (size_t d = 0; d < D; ++d)
        score[d] = log_prior_[d] + log_age_[d * kAgeBands + static_cast<size_t>(evidence.age_band)];
    if (evidence.text.size() == D)
        for (size_t d = 0; d < D; ++d) score[d] += evidence.text[d];
    for (size_t d = 0; d < log_unsaid_.size(); ++d) score[d] += log_unsaid_[d];  // nothing said unasked, so far
    for (size_t s = 0; s < evidence.answer.size() && s < symptoms_.size(); ++s) {
        const int v = evidence.answer[s];
        if (v == Evidence::kUnknown) continue;
        if (ReadAsVolunteered(evidence, s)) {
            for (size_t d = 0; d < D; ++d)
                score[d] += log_vol_[(s * D + d) * 3 + static_cast<size_t>(v)] - log_vol_[(s * D + d) * 3 + 2];
        } else {
            for (size_t d = 0; d < D; ++d) score[d] += LogLike(s, d, v);
        }
    }
    const double top = *std::max_element(score.begin(), score.end());
    double z = 0;
    for (double& x : score) z += (x = std::exp(x - top));
    for (double& x : score) x /= z;
    return score;
}

std::vector<double> Model::Calibrated(std::vector<double> posterior) const {
    if (temperature_ == 1.0) return posterior;
    double z = 0;
    for (double& p : posterior) z += (p = std::pow(p, 1.0 / temperature_));
    if (z > 0)
        for (double& p : posterior) p /= z;
    return posterior;
}

Status Model::set_temperature(double t) {
    if (!(t >= kMinTemperature && t <= kMaxTemperature))
        return InvalidArgument("temperature", "must be from 0.2 to 20");
    temperature_ = t;
    return {};
}

int Model::NextQuestion(const Evidence& evidence, const std::vector<double>& posterior) const {
    const size_t D = diseases_.size();
    const double h = Entropy(posterior);
    int best = -1;
    double best_gain = 1e-9;
    std::vector<double> next(D);
    for (size_t s = 0; s < symptoms_.size(); ++s) {
        if (evidence.answer[s] != Evidence::kUnknown) continue;
        double expected = 0;
        for (int v = 0; v < 3; ++v) {
            double pv = 0;
            for (size_t d = 0; d < D; ++d)
                pv += (next[d] = posterior[d] * like_[(s * D + d) * 3 + static_cast<size_t>(v)]);
            if (pv <= 0) continue;
            for (double& x : next) x /= pv;
            expected += pv * Entropy(next);
        }
        const double gain = h - expected;
        if (gain > best_gain) best_gain = gain, best = static_cast<int>(s);
    }
    return best;
}

double Model::Like(const Evidence& e, size_t s, size_t disease) const {
    const size_t D = diseases_.size();
    const auto v = static_cast<size_t>(e.answer[s]);
    if (ReadAsVolunteered(e, s)) return vol_[(s * D + disease) * 3 + v] / vol_[(s * D + disease) * 3 + 2];
    return like_[(s * D + disease) * 3 + v];
}

std::optional<double> LogRatioAgainstOthers(const std::vector<double>& posterior,
                                            size_t lead,
                                            const std::vector<double>& scores) {
    const size_t D = posterior.size();
    double others = 0;
    for (size_t d = 0; d < D; ++d)
        if (d != lead) others += posterior[d];
    double top = -std::numeric_limits<double>::infinity();
    for (size_t pass = 0; pass < 2; ++pass) {  // the largest term first, then the sum relative to it
        double z = 0;
        for (size_t d = 0; d < D; ++d) {
            const double w = others > 0 ? posterior[d] / others : 1.0 / static_cast<double>(D - 1);
            if (d == lead || !(w > 0)) continue;
            const double term = std::log(w) + scores[d];
            if (pass == 0) {
                top = std::max(top, term);
            } else {
                z += std::exp(term - top);
            }
        }
        if (pass == 0 && !std::isfinite(top)) return std::nullopt;
        if (pass == 1) return scores[lead] - (top + std::log(z));
    }
    return std::nullopt;
}

std::vector<Reason> Model::Explain(const Evidence& evidence, size_t disease, size_t k) const {
    const size_t D = diseases_.size();
    const std::vector<double> post = Posterior(evidence);
    std::vector<double> scores(D);
    std::vector<Reason> out;
    for (size_t s = 0; s < symptoms_.size(); ++s) {
        const int v = evidence.answer[s];
        if (v == Evidence::kUnknown || v == static_cast<int>(Answer::kUnsure)) continue;
        for (size_t d = 0; d < D; ++d) scores[d] = std::log(Like(evidence, s, d));
        const std::optional<double> r = LogRatioAgainstOthers(post, disease, scores);
        if (r && *r > 0) out.push_back(Reason{symptoms_[s], static_cast<Answer>(v), *r});
    }
    std::sort(out.begin(), out.end(), [](const Reason& a, const Reason& b) { return a.log_ratio > b.log_ratio; });
    if (out.size() > k) out.resize(k);
    return out;
}

Status Model::Save(const std::string& path) const {
    nlohmann::json doc{{"format", kFormat},
                       {"source", source_},
                       {"diseases", diseases_},
                       {"care", care_},
                       {"symptoms", symptoms_},
                       {"prior", prior_},
                       {"age", age_},
                       {"likelihood", like_},
                       {"temperature", temperature_}};
    if (!vol_.empty()) doc["volunteered"] = vol_;
    if (!grams_.empty()) {
        std::vector<std::string> grams;
        grams.reserve(grams_.size());
        for (const GramKey g : grams_) grams.push_back(GramText(g));
        doc["text"] = {
            {"grams", grams}, {"log_likelihood", gram_log_}, {"unseen", unseen_log_}, {"weight", text_weight_}};
    }
    std::ofstream out(path, std::ios::trunc);
    if (!out) return InvalidArgument(path, "cannot write the model");
    out << doc.dump() << "\n";
    if (!out) return InvalidArgument(path, "cannot write the model");
    return {};
}

Result<Model> Model::Load(const std::string& path) {
    auto text = core::ReadFile(path);
    if (!text.ok()) return text.error();
    nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return InvalidArgument(path, "not a clinic model (not a JSON object)");
    if (!doc.contains("format") || !doc["format"].is_string() || doc["format"].get<std::string>() != kFormat)
        return InvalidArgument(path + ": format", std::string("must be ") + kFormat);
    Model m;
    try {
        m.source_ = doc.at("source").get<std::string>();
        m.diseases_ = doc.at("diseases").get<std::vector<std::string>>();
        m.care_ = doc.at("care").get<std::vector<std::string>>();
        m.symptoms_ = doc.at("symptoms").get<std::vector<std::string>>();
        m.prior_ = doc.at("prior").get<std::vector<double>>();
        m.age_ = doc.at("age").get<std::vector<double>>();
        m.like_ = doc.at("likelihood").get<std::vector<double>>();
        // Models saved before calibration have no temperature: they keep the raw posterior.
        if (doc.contains("temperature")) {
            if (!doc["temperature"].is_number()) return InvalidArgument(path + ": temperature", "must be a number");
            if (Status s = m.set_temperature(doc["temperature"].get<double>()); !s.ok())
                return InvalidArgument(path + ": temperature", s.error().message);
        }
        // Models saved before the volunteer part read every answer alike.
        if (doc.contains("volunteered")) m.vol_ = doc["volunteered"].get<std::vector<double>>();
        // Models saved before the text part read the symptoms only.
        if (doc.contains("text")) {
            const auto& t = doc["text"];
            if (!t.is_object()) return InvalidArgument(path + ": text", "must be an object");
            for (const std::string& g : t.at("grams").get<std::vector<std::string>>()) {
                const GramKey k = GramFromText(g);
                if (k == 0)
                    return InvalidArgument(path + ": text.grams",
                                           "'" + core::Utf8Prefix(g, 16) + "' is not one or two letters or digits");
                m.grams_.push_back(k);
            }
            m.gram_log_ = t.at("log_likelihood").get<std::vector<double>>();
            m.unseen_log_ = t.at("unseen").get<std::vector<double>>();
            if (!t.at("weight").is_number()) return InvalidArgument(path + ": text.weight", "must be a number");
            if (Status s = m.set_text_weight(t["weight"].get<double>()); !s.ok())
                return InvalidArgument(path + ": text.weight", s.error().message);
        }
    } catch (const nlohmann::json::exception& e) {
        return InvalidArgument(path, std::string("not a clinic model: ") + e.what());
    }
    const size_t D = m.diseases_.size();
    const size_t S = m.symptoms_.size();
    if (D < 2 || m.care_.size() != D || m.prior_.size() != D || m.age_.size() != D * kAgeBands ||
        m.like_.size() != S * D * 3 || !std::is_sorted(m.symptoms_.begin(), m.symptoms_.end()))
        return InvalidArgument(path, "not a clinic model: the tables' sizes do not agree");
    if (!m.vol_.empty() && m.vol_.size() != S * D * 3)
        return InvalidArgument(path + ": volunteered", "must hold 3 probabilities per symptom and disease");
    for (const auto* table : {&m.prior_, &m.age_, &m.like_, &m.vol_})
        for (double p : *table)
            if (!(p > 0 && p <= 1)) return InvalidArgument(path, "not a clinic model: a probability outside (0, 1]");
    if (!m.grams_.empty() || !m.gram_log_.empty() || !m.unseen_log_.empty()) {
        if (m.gram_log_.size() != m.grams_.size() * D || m.unseen_log_.size() != D ||
            std::adjacent_find(m.grams_.begin(), m.grams_.end(), std::greater_equal<>()) != m.grams_.end())
            return InvalidArgument(path + ": text", "the tables' sizes do not agree or the grams are not sorted");
        for (const auto* table : {&m.gram_log_, &m.unseen_log_})
            for (double l : *table)
                if (!(l <= 0 && std::isfinite(l)))
                    return InvalidArgument(path + ": text", "a log-likelihood that is not a finite number ≤ 0");
    }
    m.Finish();
    return m;
}

}  // namespace citybrain::clinic
