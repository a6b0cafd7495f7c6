// SPDX-License-Identifier: Apache-2.0
#include "agents/local_model.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/utf8.hpp"
#include "nlp/urgency.hpp"

namespace citybrain::agents {

std::function<std::optional<LocalPlace>(std::string_view)> LocateWith(const nlp::Gazetteer& gazetteer) {
    return [&gazetteer](std::string_view text) -> std::optional<LocalPlace> {
        const auto p = gazetteer.Locate(text);
        if (!p) return std::nullopt;
        return LocalPlace{p->name, p->where.x, p->where.y};
    };
}

LocalModel::LocalModel(LocalModelOptions options, nlp::Normalizer normalizer)
    : options_(std::move(options)), normalizer_(std::move(normalizer)) {
    taxonomy_ = options_.taxonomy != nullptr ? options_.taxonomy : &incident::Taxonomy::Default();
}

Result<LocalModel> LocalModel::Create(LocalModelOptions options) {
    CB_TRY_ASSIGN(nlp::Normalizer normalizer, nlp::Normalizer::Create());
    return LocalModel(std::move(options), std::move(normalizer));
}

Result<LocalAnalysis> LocalModel::Analyse(std::string_view raw) const {
    CB_TRY_ASSIGN(const std::string text, normalizer_.Normalize(raw, "messages"));
    LocalAnalysis a;
    const incident::Category* category = nullptr;
    if (options_.classify) {
        for (const LocalGuess& g : options_.classify(text)) {
            if (const auto* c = taxonomy_->Find(g.category)) {
                category = c;
                a.confidence = g.confidence;
                a.classifier = options_.classifier_name;
                break;
            }
        }
    }
    if (category == nullptr) {
        const auto guesses = taxonomy_->RankKeywords(text, 1);
        if (!guesses.empty()) {
            category = guesses.front().category;
            a.confidence = guesses.front().confidence;
            a.classifier = "keywords";
        } else {
            category = &taxonomy_->Fallback();
            a.classifier = "fallback";
        }
    }
    a.category = category->code;
    a.category_name = category->name;
    a.department = category->department;
    const auto* dept = taxonomy_->FindDepartment(category->department);
    a.department_name = dept != nullptr ? dept->name : category->department;
    const nlp::Urgency u = nlp::AssessUrgency(text, category->priority);
    a.priority = u.priority;
    a.cues = u.cues;
    if (options_.locate) a.place = options_.locate(text);
    a.handle_within_ms = category->limits.file_ms + category->limits.dispatch_ms + category->limits.handle_ms;
    std::string reply = "您好！您反映的" + a.category_name + "问题";
    if (a.place) reply += "（" + a.place->name + "）";
    reply += "将转交" + a.department_name + "办理";
    if (a.handle_within_ms > 0) {
        const int64_t hours = (a.handle_within_ms + 3599999) / 3600000;
        reply += "，受理后" + std::to_string(hours) + "小时内处理并答复";
    }
    reply += a.priority <= 1 ? "。情况紧急，已优先处理，如有危险请先远离现场。" : "。感谢您对城市管理的支持！";
    a.reply = std::move(reply);
    return a;
}

std::string LocalModel::Content(const LocalAnalysis& a, bool json) {
    if (json) {
        nlohmann::json doc = {{"category", a.category},
                              {"category_name", a.category_name},
                              {"department", a.department},
                              {"department_name", a.department_name},
                              {"confidence", a.confidence},
                              {"classifier", a.classifier},
                              {"priority", a.priority},
                              {"urgency_cues", a.cues},
                              {"location", nullptr},
                              {"reply", a.reply}};
        if (a.place) doc["location"] = {{"name", a.place->name}, {"x", a.place->x}, {"y", a.place->y}};
        return doc.dump();
    }
    std::string out = "分类：" + a.category_name + "（" + a.category + "）；承办部门：" + a.department_name +
                      "；紧急程度：" + std::to_string(a.priority) + "级";
    if (!a.cues.empty()) {
        out += "（";
        for (size_t i = 0; i < a.cues.size(); ++i) out += (i > 0 ? "、" : "") + a.cues[i];
        out += "）";
    }
    out += "；地点：" + (a.place ? a.place->name : std::string("未识别")) + "。\n" + a.reply;
    return out;
}

std::vector<float> LocalModel::Embed(std::string_view text) {
    std::vector<float> v(kEmbeddingDim, 0.0F);
    // Code points, then FNV-1a of each unigram and bigram into a signed bucket.
    std::vector<uint32_t> cps;
    for (size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        const size_t len = core::Utf8SequenceLength(c);
        uint32_t cp = 0;
        for (size_t j = 0; j < len && i + j < text.size(); ++j)
            cp = (cp << 8) | static_cast<unsigned char>(text[i + j]);
        if (c > 0x20) cps.push_back(cp);
        i += len;
    }
    auto add = [&](uint64_t h) {
        h ^= h >> 29;
        v[h % kEmbeddingDim] += ((h >> 40) & 1) != 0 ? 1.0F : -1.0F;
    };
    for (size_t i = 0; i < cps.size(); ++i) {
        uint64_t h = 1469598103934665603ULL;
        h = (h ^ cps[i]) * 1099511628211ULL;
        add(h);
        if (i + 1 < cps.size()) add((h ^ cps[i + 1]) * 1099511628211ULL);
    }
    double norm = 0;
    for (float x : v) norm += static_cast<double>(x) * x;
    if (norm > 0) {
        const auto inv = static_cast<float>(1.0 / std::sqrt(norm));
        for (float& x : v) x *= inv;
    }
    return v;
}

}  // namespace citybrain::agents
