// SPDX-License-Identifier: Apache-2.0
#include "incident/taxonomy.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/file.hpp"
#include "core/utf8.hpp"

namespace citybrain::incident {

extern const char* const kDefaultTaxonomyJson;  // generated from config/taxonomy.json

namespace {

using nlohmann::json;

// Typed field access that names the JSON path on failure.
struct Reader {
    std::string source;

    Result<const json*> Field(const json& obj, const std::string& path, const char* key, bool required = true) const {
        auto it = obj.find(key);
        if (it == obj.end()) {
            if (!required) return static_cast<const json*>(nullptr);
            return InvalidArgument(source, path + "." + key + ": missing");
        }
        return &*it;
    }
    Result<std::string> String(const json& obj, const std::string& path, const char* key, bool required = true) const {
        CB_TRY_ASSIGN(const json* v, Field(obj, path, key, required));
        if (v == nullptr) return std::string();
        if (!v->is_string()) return InvalidArgument(source, path + "." + key + ": must be a string");
        return v->get<std::string>();
    }
    Result<double> Number(const json& obj, const std::string& path, const char* key, double lo, double hi) const {
        CB_TRY_ASSIGN(const json* v, Field(obj, path, key));
        if (!v->is_number()) return InvalidArgument(source, path + "." + key + ": must be a number");
        const double x = v->get<double>();
        if (!std::isfinite(x) || x < lo || x > hi) {
            std::ostringstream msg;
            msg << path << "." << key << ": " << x << " is outside [" << lo << ", " << hi << "]";
            return InvalidArgument(source, msg.str());
        }
        return x;
    }
};

/// The total length of a category's keywords found in a text.
size_t KeywordScore(const Category& c, std::string_view text) {
    size_t score = 0;
    for (const std::string& word : c.keyword_list) {
        if (text.find(word) != std::string_view::npos) score += word.size();
    }
    return score;
}

}  // namespace

Result<Taxonomy> Taxonomy::Parse(std::string_view text, std::string_view source) {
    json doc = json::parse(text.begin(), text.end(), nullptr, false);
    const Reader r{std::string(source)};
    if (doc.is_discarded()) return InvalidArgument(r.source, "not valid JSON");
    if (!doc.is_object()) return InvalidArgument(r.source, "the top level must be an object");
    Taxonomy t;
    CB_TRY_ASSIGN(t.jurisdiction_id_, r.String(doc, "$", "jurisdiction_id"));
    CB_TRY_ASSIGN(const json* origin, r.Field(doc, "$", "origin"));
    CB_TRY_ASSIGN(t.origin_lat_, r.Number(*origin, "origin", "lat", -90, 90));
    CB_TRY_ASSIGN(t.origin_lon_, r.Number(*origin, "origin", "lon", -180, 180));
    CB_TRY_ASSIGN(t.grid_cell_m_, r.Number(doc, "$", "grid_cell_m", 10, 100000));
    CB_TRY_ASSIGN(const json* deps, r.Field(doc, "$", "departments"));
    if (!deps->is_array() || deps->empty()) return InvalidArgument(r.source, "departments: must be a non-empty array");
    for (size_t i = 0; i < deps->size(); ++i) {
        const std::string path = "departments[" + std::to_string(i) + "]";
        Department d;
        CB_TRY_ASSIGN(d.code, r.String((*deps)[i], path, "code"));
        CB_TRY_ASSIGN(d.name, r.String((*deps)[i], path, "name"));
        CB_TRY_ASSIGN(d.name_en, r.String((*deps)[i], path, "name_en", false));
        if (t.FindDepartment(d.code) != nullptr)
            return InvalidArgument(r.source, path + ".code: duplicate '" + d.code + "'");
        t.departments_.push_back(std::move(d));
    }
    CB_TRY_ASSIGN(const json* cats, r.Field(doc, "$", "categories"));
    if (!cats->is_array() || cats->empty()) return InvalidArgument(r.source, "categories: must be a non-empty array");
    constexpr double kMinute = 60'000;
    for (size_t i = 0; i < cats->size(); ++i) {
        const json& c = (*cats)[i];
        const std::string path = "categories[" + std::to_string(i) + "]";
        Category cat;
        CB_TRY_ASSIGN(cat.code, r.String(c, path, "code"));
        if (cat.code.empty() || cat.code.size() > 64)
            return InvalidArgument(r.source, path + ".code: must be 1 to 64 characters");
        CB_TRY_ASSIGN(cat.name, r.String(c, path, "name"));
        CB_TRY_ASSIGN(cat.name_en, r.String(c, path, "name_en", false));
        CB_TRY_ASSIGN(cat.group, r.String(c, path, "group", false));
        CB_TRY_ASSIGN(const json* domains, r.Field(c, path, "domains", false));
        if (domains != nullptr) {
            if (!domains->is_array()) return InvalidArgument(r.source, path + ".domains: must be an array of labels");
            for (size_t k = 0; k < domains->size(); ++k) {
                if (!(*domains)[k].is_string() || (*domains)[k].get<std::string>().empty()) {
                    return InvalidArgument(r.source, path + ".domains[" + std::to_string(k) + "]: must be a label");
                }
                cat.domains.push_back((*domains)[k].get<std::string>());
            }
        }
        CB_TRY_ASSIGN(cat.department, r.String(c, path, "department"));
        if (t.FindDepartment(cat.department) == nullptr) {
            return InvalidArgument(r.source, path + ".department: unknown department '" + cat.department + "'");
        }
        CB_TRY_ASSIGN(double priority, r.Number(c, path, "priority", 1, 4));
        cat.priority = static_cast<int>(priority);
        CB_TRY_ASSIGN(const json* dedup, r.Field(c, path, "dedup"));
        CB_TRY_ASSIGN(cat.dedup_radius_m, r.Number(*dedup, path + ".dedup", "radius_m", 0, 10000));
        CB_TRY_ASSIGN(double window_min, r.Number(*dedup, path + ".dedup", "window_min", 0, 60 * 24 * 90));
        cat.dedup_window_ms = static_cast<TimeMs>(window_min * kMinute);
        CB_TRY_ASSIGN(const json* limits, r.Field(c, path, "limits_min"));
        const std::string lpath = path + ".limits_min";
        CB_TRY_ASSIGN(double file, r.Number(*limits, lpath, "file", 0, 525600));
        CB_TRY_ASSIGN(double dispatch, r.Number(*limits, lpath, "dispatch", 0, 525600));
        CB_TRY_ASSIGN(double handle, r.Number(*limits, lpath, "handle", 0, 525600));
        CB_TRY_ASSIGN(double verify, r.Number(*limits, lpath, "verify", 0, 525600));
        cat.limits = {static_cast<TimeMs>(file * kMinute),
                      static_cast<TimeMs>(dispatch * kMinute),
                      static_cast<TimeMs>(handle * kMinute),
                      static_cast<TimeMs>(verify * kMinute)};
        CB_TRY_ASSIGN(cat.keywords, r.String(c, path, "keywords", false));
        for (size_t at = 0; at <= cat.keywords.size();) {
            size_t end = cat.keywords.find(',', at);
            if (end == std::string::npos) end = cat.keywords.size();
            std::string word = cat.keywords.substr(at, end - at);
            while (!word.empty() && word.back() == ' ') word.pop_back();
            while (!word.empty() && word.front() == ' ') word.erase(0, 1);
            if (!word.empty()) cat.keyword_list.push_back(std::move(word));
            at = end + 1;
        }
        CB_TRY_ASSIGN(const json* aliases, r.Field(c, path, "aliases", false));
        if (aliases != nullptr) {
            if (!aliases->is_array()) return InvalidArgument(r.source, path + ".aliases: must be an array of strings");
            for (size_t k = 0; k < aliases->size(); ++k) {
                if (!(*aliases)[k].is_string()) {
                    return InvalidArgument(r.source, path + ".aliases[" + std::to_string(k) + "]: must be a string");
                }
                cat.aliases.push_back((*aliases)[k].get<std::string>());
            }
        }
        CB_TRY_ASSIGN(const json* response, r.Field(c, path, "response", false));
        if (response != nullptr) {
            const std::string rpath = path + ".response";
            if (!response->is_object()) return InvalidArgument(r.source, rpath + ": must be an object");
            CB_TRY_ASSIGN(const json* units, r.Field(*response, rpath, "units"));
            if (!units->is_array() || units->empty()) {
                return InvalidArgument(r.source, rpath + ".units: must be a non-empty array of unit kind names");
            }
            for (size_t k = 0; k < units->size(); ++k) {
                const json& u = (*units)[k];
                if (!u.is_string() || u.get<std::string>().empty() || u.get<std::string>().size() > 64) {
                    return InvalidArgument(r.source,
                                           rpath + ".units[" + std::to_string(k) + "]: must be a unit kind name");
                }
                cat.unit_kinds.push_back(u.get<std::string>());
            }
            CB_TRY_ASSIGN(cat.notice, r.String(*response, rpath, "notice", false));
            if (!core::ValidUtf8(cat.notice) || cat.notice.size() > 1024) {
                return InvalidArgument(r.source, rpath + ".notice: must be UTF-8 text of at most 1024 bytes");
            }
        } else {
            cat.unit_kinds = {"crew"};
        }
        if (t.by_code_.count(cat.code) != 0)
            return InvalidArgument(r.source, path + ".code: duplicate '" + cat.code + "'");
        t.by_code_.emplace(cat.code, t.categories_.size());
        for (const auto& alias : cat.aliases) {
            if (!t.by_alias_.emplace(core::AsciiLower(alias), t.categories_.size()).second) {
                return InvalidArgument(r.source,
                                       path + ".aliases: '" + alias + "' already belongs to another category");
            }
        }
        t.categories_.push_back(std::move(cat));
    }
    CB_TRY_ASSIGN(std::string fallback, r.String(doc, "$", "fallback_category"));
    auto it = t.by_code_.find(fallback);
    if (it == t.by_code_.end())
        return InvalidArgument(r.source, "fallback_category: unknown category '" + fallback + "'");
    t.fallback_ = it->second;

    CB_TRY_ASSIGN(const json* domains, r.Field(doc, "$", "domains", false));
    if (domains != nullptr) {
        if (!domains->is_array()) return InvalidArgument(r.source, "domains: must be an array");
        for (size_t i = 0; i < domains->size(); ++i) {
            const std::string path = "domains[" + std::to_string(i) + "]";
            Domain d;
            CB_TRY_ASSIGN(d.label, r.String((*domains)[i], path, "label"));
            if (d.label.empty()) return InvalidArgument(r.source, path + ".label: must not be empty");
            if (t.FindDomain(d.label) != nullptr)
                return InvalidArgument(r.source, path + ".label: duplicate '" + d.label + "'");
            CB_TRY_ASSIGN(std::string code, r.String((*domains)[i], path, "category"));
            auto c = t.by_code_.find(code);
            if (c == t.by_code_.end())
                return InvalidArgument(r.source, path + ".category: unknown category '" + code + "'");
            d.category = c->second;
            t.domains_.push_back(std::move(d));
        }
    }
    for (size_t i = 0; i < t.categories_.size(); ++i) {
        const Category& cat = t.categories_[i];
        for (size_t k = 0; k < cat.domains.size(); ++k) {
            auto found = std::find_if(
                t.domains_.begin(), t.domains_.end(), [&](const Domain& d) { return d.label == cat.domains[k]; });
            if (found == t.domains_.end()) {
                return InvalidArgument(r.source,
                                       "categories[" + std::to_string(i) + "].domains[" + std::to_string(k) + "]: '" +
                                           cat.domains[k] + "' is not one of the file's domains");
            }
            found->members.push_back(i);
        }
    }
    return t;
}

Result<Taxonomy> Taxonomy::Load(const std::string& path) {
    auto text = core::ReadFile(path);
    if (!text.ok()) return NotFound(path, "cannot open taxonomy file");
    return Parse(*text, path);
}

const Taxonomy& Taxonomy::Default() {
    static const Taxonomy kDefault = [] {
        auto parsed = Parse(kDefaultTaxonomyJson, "config/taxonomy.json (embedded)");
        CB_ASSERT(parsed.ok(), "the embedded taxonomy is checked by a unit test");
        if (!parsed.ok()) std::abort();
        return std::move(parsed).value();
    }();
    return kDefault;
}

const Category* Taxonomy::Find(std::string_view code) const {
    auto it = by_code_.find(std::string(code));
    return it == by_code_.end() ? nullptr : &categories_[it->second];
}

const Department* Taxonomy::FindDepartment(std::string_view code) const {
    for (const auto& d : departments_) {
        if (d.code == code) return &d;
    }
    return nullptr;
}

const Category& Taxonomy::FromAlias(std::string_view complaint_type) const {
    auto it = by_alias_.find(core::AsciiLower(complaint_type));
    return it == by_alias_.end() ? Fallback() : categories_[it->second];
}

const Category* Taxonomy::MatchKeywords(std::string_view text) const {
    const std::vector<Guess> best = RankKeywords(text, 1);
    return best.empty() ? nullptr : best.front().category;
}

std::vector<Taxonomy::Guess> Taxonomy::RankKeywords(std::string_view text, size_t k) const {
    std::vector<std::pair<size_t, const Category*>> scored;
    size_t total = 0;
    for (const Category& c : categories_) {
        const size_t score = KeywordScore(c, text);
        if (score == 0) continue;
        scored.emplace_back(score, &c);
        total += score;
    }
    std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<Guess> out;
    for (size_t i = 0; i < scored.size() && i < k; ++i) {
        out.push_back({scored[i].second, static_cast<double>(scored[i].first) / static_cast<double>(total)});
    }
    return out;
}

const Domain* Taxonomy::FindDomain(std::string_view label) const {
    for (const Domain& d : domains_) {
        if (d.label == label) return &d;
    }
    return nullptr;
}

const Category* Taxonomy::RouteInDomain(std::string_view label, std::string_view text) const {
    const Domain* d = FindDomain(label);
    if (d == nullptr) return nullptr;
    const Category* best = &categories_[d->category];
    size_t best_score = 0;
    for (const size_t i : d->members) {
        const size_t score = KeywordScore(categories_[i], text);
        if (score > best_score) best = &categories_[i], best_score = score;
    }
    return best;
}

TimeMs Taxonomy::StepLimit(const Category& category, CaseStatus status) {
    switch (status) {
        case CaseStatus::kReported:
            return category.limits.file_ms;
        case CaseStatus::kFiled:
            return category.limits.dispatch_ms;
        case CaseStatus::kDispatched:
            return category.limits.handle_ms;
        case CaseStatus::kHandled:
            return category.limits.verify_ms;
        default:
            return 0;
    }
}

Result<CaseStatus> NextStatus(CaseStatus from, Action action) {
    using S = CaseStatus;
    using A = Action;
    struct Edge {
        S from;
        A action;
        S to;
    };
    static constexpr Edge kEdges[] = {
        {S::kReported, A::kFile, S::kFiled},
        {S::kReported, A::kReject, S::kRejected},
        {S::kReported, A::kMerge, S::kMerged},
        {S::kFiled, A::kDispatch, S::kDispatched},
        {S::kFiled, A::kReject, S::kRejected},
        {S::kFiled, A::kMerge, S::kMerged},
        // Another unit goes (the first refused or was lost): the case stays dispatched.
        {S::kDispatched, A::kDispatch, S::kDispatched},
        {S::kDispatched, A::kStart, S::kHandling},
        {S::kDispatched, A::kFeedback, S::kHandled},
        {S::kDispatched, A::kMerge, S::kMerged},
        {S::kHandling, A::kFeedback, S::kHandled},
        {S::kHandled, A::kClose, S::kClosed},
        {S::kHandled, A::kReopen, S::kHandling},
        {S::kClosed, A::kEvaluate, S::kEvaluated},
    };
    std::string allowed;
    for (const Edge& e : kEdges) {
        if (e.from != from) continue;
        if (e.action == action) return e.to;
        allowed += allowed.empty() ? "" : ", ";
        allowed += ActionName(e.action);
    }
    return Error{ErrorCode::kConflict,
                 std::string("cannot ") + ActionName(action) + " a case that is " + StatusName(from) +
                     "; allowed: " + (allowed.empty() ? "none (final)" : allowed),
                 "action"};
}

}  // namespace citybrain::incident
