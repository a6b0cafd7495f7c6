// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cmath>
#include <optional>
#include <span>

namespace citybrain::core {

/// A point in local metres (x east, y north).
struct Point {
    double x = 0;
    double y = 0;

    Point operator+(Point o) const { return {x + o.x, y + o.y}; }
    Point operator-(Point o) const { return {x - o.x, y - o.y}; }
    Point operator*(double k) const { return {x * k, y * k}; }
    double Norm() const { return std::hypot(x, y); }
    Point Unit() const {
        const double n = Norm();
        return n > 0 ? Point{x / n, y / n} : Point{0, 0};
    }
    /// The unit vector turned 90 degrees to the left.
    Point LeftNormal() const { return Point{-y, x}.Unit(); }
};

inline double Cross(Point a, Point b) { return a.x * b.y - a.y * b.x; }

/// Length of a polyline in metres.
double PolylineLength(std::span<const Point> points);

/// Point at `distance_m` along a polyline (clamped to its ends).
Point PointAlong(std::span<const Point> points, double distance_m);

/// Where two polylines first cross, as distances along each; nullopt when they do not cross.
/// Touching end points count (two movements that merge into one lane conflict at the merge).
struct Crossing {
    double along_a_m;
    double along_b_m;
};
std::optional<Crossing> FirstCrossing(std::span<const Point> a, std::span<const Point> b);

}  // namespace citybrain::core
