// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/geometry.hpp"

namespace citybrain::nlp {

/// Street names and the junctions where two of them meet, with coordinates (in the network's frame), built from a
/// road network's names. `Locate` finds the place a message speaks of: "X路与Y路交叉口" (or any two named streets
/// that meet) gives the junction; one street gives the street's middle.
class Gazetteer {
public:
    /// A point on a named street. Names shorter than two characters or "?" are ignored.
    void AddStreetPoint(const std::string& name, core::Point p);
    /// A junction of two named streets.
    void AddJunction(const std::string& a, const std::string& b, core::Point p);
    /// A named place that is not a street: a school, a market, a hospital, a park ("龙城小学").
    void AddLandmark(const std::string& name, core::Point p);
    /// Streets that come within `radius_m` of each other meet there too: divided roads and networks that join
    /// streets through short unnamed links have no shared node. Call after adding the points.
    void JoinNearbyStreets(double radius_m);

    struct Place {
        std::string name;  // "深南大道" or "深南大道与金田路交叉口"
        bool junction = false;
        core::Point where;
        bool landmark = false;
    };
    /// A junction of two streets named in the text wins; then a landmark (the longest named); then one street.
    std::optional<Place> Locate(std::string_view text) const;
    /// The name for a point, as a person would give it: the nearest junction within `junction_m`; else the
    /// nearest landmark within `near_m` ("龙城小学附近"); else the nearest street within `near_m`. None further out.
    std::optional<Place> Nearest(core::Point p, double junction_m = 60, double near_m = 80) const;
    size_t streets() const { return streets_.size(); }
    size_t junctions() const { return junctions_.size(); }
    size_t landmarks() const { return landmarks_.size(); }
    /// Every landmark by name (for "the nearest school to …").
    const std::map<std::string, core::Point>& landmark_points() const { return landmarks_; }

private:
    struct Street {
        double sx = 0, sy = 0;
        size_t n = 0;
        std::vector<core::Point> points;
    };
    std::map<std::string, Street> streets_;
    std::map<std::pair<std::string, std::string>, core::Point> junctions_;
    std::map<std::string, core::Point> landmarks_;
};

}  // namespace citybrain::nlp
