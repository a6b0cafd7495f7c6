// SPDX-License-Identifier: Apache-2.0
#include "nlp/gazetteer.hpp"

#include <algorithm>

namespace citybrain::nlp {

namespace {
bool Usable(const std::string& name) { return name.size() >= 6 && name != "?"; }  // two CJK characters or more
}  // namespace

void Gazetteer::AddStreetPoint(const std::string& name, core::Point p) {
    if (!Usable(name)) return;
    Street& s = streets_[name];
    s.sx += p.x, s.sy += p.y, ++s.n;
    s.points.push_back(p);
}

void Gazetteer::JoinNearbyStreets(double radius_m) {
    const double r2 = radius_m * radius_m;
    for (auto a = streets_.begin(); a != streets_.end(); ++a) {
        for (auto b = std::next(a); b != streets_.end(); ++b) {
            if (junctions_.count(std::minmax(a->first, b->first)) != 0) continue;
            double best = r2;
            core::Point at{};
            bool found = false;
            for (const auto& p : a->second.points) {
                for (const auto& q : b->second.points) {
                    const double d = (p.x - q.x) * (p.x - q.x) + (p.y - q.y) * (p.y - q.y);
                    if (d <= best) best = d, at = {(p.x + q.x) / 2, (p.y + q.y) / 2}, found = true;
                }
            }
            if (found) junctions_.emplace(std::minmax(a->first, b->first), at);
        }
    }
}

void Gazetteer::AddJunction(const std::string& a, const std::string& b, core::Point p) {
    if (!Usable(a) || !Usable(b) || a == b) return;
    junctions_.emplace(std::minmax(a, b), p);
}

void Gazetteer::AddLandmark(const std::string& name, core::Point p) {
    if (!Usable(name)) return;
    landmarks_[name] = p;
}

std::optional<Gazetteer::Place> Gazetteer::Locate(std::string_view text) const {
    // Every street named in the text, longest names first so that 福华一路 is not read as 福华路 … (a shorter name
    // inside a longer match does not count).
    struct Hit {
        size_t at, len;
        const std::string* name;
    };
    std::vector<Hit> hits;
    for (const auto& [name, s] : streets_) {
        for (size_t at = text.find(name); at != std::string_view::npos; at = text.find(name, at + 1)) {
            hits.push_back({at, name.size(), &name});
        }
    }
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
        return a.len != b.len ? a.len > b.len : a.at < b.at;
    });
    std::vector<Hit> kept;
    for (const Hit& h : hits) {
        const bool inside = std::any_of(
            kept.begin(), kept.end(), [&](const Hit& k) { return h.at < k.at + k.len && k.at < h.at + h.len; });
        if (!inside) kept.push_back(h);
    }
    // The longest landmark named, if any: more precise than a street alone, less than a junction.
    const std::pair<const std::string, core::Point>* landmark = nullptr;
    for (const auto& entry : landmarks_) {
        if (text.find(entry.first) != std::string_view::npos &&
            (landmark == nullptr || entry.first.size() > landmark->first.size())) {
            landmark = &entry;
        }
    }
    const auto at_landmark = [&]() -> std::optional<Place> {
        if (landmark == nullptr) return std::nullopt;
        return Place{landmark->first, false, landmark->second, true};
    };
    if (kept.empty()) return at_landmark();
    std::sort(kept.begin(), kept.end(), [](const Hit& a, const Hit& b) { return a.at < b.at; });
    // Two streets that meet: the junction, in the order the text names them.
    for (size_t i = 0; i < kept.size(); ++i) {
        for (size_t j = i + 1; j < kept.size(); ++j) {
            const auto it = junctions_.find(std::minmax(*kept[i].name, *kept[j].name));
            if (it != junctions_.end()) return Place{*kept[i].name + "与" + *kept[j].name + "交叉口", true, it->second};
        }
    }
    if (landmark != nullptr) return at_landmark();
    const Street& s = streets_.at(*kept.front().name);
    return Place{*kept.front().name, false, {s.sx / static_cast<double>(s.n), s.sy / static_cast<double>(s.n)}};
}

std::optional<Gazetteer::Place> Gazetteer::Nearest(core::Point p, double junction_m, double near_m) const {
    const auto d2 = [&](core::Point q) { return (q.x - p.x) * (q.x - p.x) + (q.y - p.y) * (q.y - p.y); };
    std::optional<Place> best;
    double best_d = junction_m * junction_m;
    for (const auto& [names, at] : junctions_) {
        if (const double d = d2(at); d <= best_d) {
            best_d = d;
            best = Place{names.first + "与" + names.second + "交叉口", true, at};
        }
    }
    if (best) return best;
    best_d = near_m * near_m;
    for (const auto& [name, at] : landmarks_) {
        if (const double d = d2(at); d <= best_d) {
            best_d = d;
            best = Place{name + "附近", false, at, true};
        }
    }
    if (best) return best;
    best_d = near_m * near_m;
    for (const auto& [name, street] : streets_) {
        for (const core::Point& q : street.points) {
            if (const double d = d2(q); d <= best_d) {
                best_d = d;
                best = Place{name, false, q};
            }
        }
    }
    return best;
}

}  // namespace citybrain::nlp
