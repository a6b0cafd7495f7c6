// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "incident/model.hpp"

namespace citybrain::incident {

struct Department {
    std::string code;
    std::string name;
    std::string name_en;
};

/// Time limits (ms) of the steps a department owns; 0 = no limit.
struct StepLimits {
    TimeMs file_ms = 0;      // reported → filed
    TimeMs dispatch_ms = 0;  // filed → dispatched
    TimeMs handle_ms = 0;    // dispatched → handled (the clock does not restart when handling starts)
    TimeMs verify_ms = 0;    // handled → closed
};

/// One kind of matter (an Open311 service): who owns it, how urgent, how duplicates are recognised.
struct Category {
    std::string code;  // the Open311 service_code
    std::string name;
    std::string name_en;
    std::string group;
    /// The top-level domains a model trained on a message board names (城乡建设, 交通运输, …) that this category
    /// belongs to: road damage is both a construction and a transport matter. Empty: reached by keywords only.
    std::vector<std::string> domains;
    std::string department;
    int priority = 3;           // 1 = most urgent … 4
    double dedup_radius_m = 0;  // 0 = never merged
    TimeMs dedup_window_ms = 0;
    StepLimits limits;
    std::string keywords;                   // comma-separated, as in the file
    std::vector<std::string> keyword_list;  // split, empty ones dropped
    std::vector<std::string> aliases;       // complaint types of other systems (311) that mean this category
    /// Who may be sent (dispatch's unit kind names: robot_dog, sanitation_robot, crew, drone) and what a robot
    /// says on arrival. Without a "response" block: crews only, no notice.
    std::vector<std::string> unit_kinds;
    std::string notice;
};

/// A top-level domain of citizen messages (the labels a message classifier is trained on, such as the seven of the
/// TeddyCup board: 城乡建设, 环境保护, …), with the category a message of that domain gets when no keyword of one
/// of its member categories names something finer.
struct Domain {
    std::string label;
    size_t category = 0;          // index of the domain's own category
    std::vector<size_t> members;  // indices of the categories whose "domains" name this label
};

/// The routing table: categories → responsible department, priority, step limits and de-duplication rule.
/// Loaded from a JSON file (config/taxonomy.json is the seeded Shenzhen-style 城管 table, embedded as default).
class Taxonomy {
public:
    static Result<Taxonomy> Parse(std::string_view json, std::string_view source);
    static Result<Taxonomy> Load(const std::string& path);
    /// The embedded copy of config/taxonomy.json.
    static const Taxonomy& Default();

    const std::vector<Category>& categories() const { return categories_; }
    const std::vector<Department>& departments() const { return departments_; }
    const Category* Find(std::string_view code) const;
    const Department* FindDepartment(std::string_view code) const;
    /// The category another system's complaint type maps to (case-insensitive), or the fallback.
    const Category& FromAlias(std::string_view complaint_type) const;
    /// The category whose keywords a text names (一网统管's keyword routing): the one with the greatest total
    /// length of keywords found, so "占道停车" (illegal parking) beats the "占道" inside it (vending). Ties go to the
    /// earlier category. Null when no keyword occurs.
    const Category* MatchKeywords(std::string_view text) const;
    /// A category a text's keywords point to, and its share of all keyword length found in the text (what the
    /// console shows an operator as the keyword router's confidence).
    struct Guess {
        const Category* category = nullptr;
        double confidence = 0;
    };
    /// The `k` categories with the most keyword length found in `text`, best first (ties: the earlier category);
    /// empty when no keyword occurs. The first is MatchKeywords's choice.
    std::vector<Guess> RankKeywords(std::string_view text, size_t k) const;
    const Category& Fallback() const { return categories_[fallback_]; }

    const std::vector<Domain>& domains() const { return domains_; }
    const Domain* FindDomain(std::string_view label) const;
    /// Where a message a classifier put in domain `label` goes: the member category whose keywords the text names
    /// most (as MatchKeywords, among the members only), else the domain's own category. Null for an unknown label.
    const Category* RouteInDomain(std::string_view label, std::string_view text) const;

    /// The limit of the step a case enters when it reaches `status` (0 when that step has none).
    static TimeMs StepLimit(const Category& category, CaseStatus status);

    const std::string& jurisdiction_id() const { return jurisdiction_id_; }
    double origin_lat() const { return origin_lat_; }
    double origin_lon() const { return origin_lon_; }
    double grid_cell_m() const { return grid_cell_m_; }

private:
    std::string jurisdiction_id_;
    double origin_lat_ = 0;
    double origin_lon_ = 0;
    double grid_cell_m_ = 500;
    std::vector<Department> departments_;
    std::vector<Category> categories_;
    size_t fallback_ = 0;
    std::vector<Domain> domains_;
    std::unordered_map<std::string, size_t> by_code_;
    std::unordered_map<std::string, size_t> by_alias_;  // lower-cased
};

/// The lifecycle: the status `action` leads to from `from`, or an error that names both and what is allowed.
Result<CaseStatus> NextStatus(CaseStatus from, Action action);

}  // namespace citybrain::incident
