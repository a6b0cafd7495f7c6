// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cmath>
#include <optional>
#include <span>
#include <utility>

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

/// WGS84 degrees to local metres around an origin (equirectangular). Good to well under 0.1 % within the
/// tens of kilometres of a district, which is all de-duplication radii and grid cells need.
class LocalFrame {
public:
    LocalFrame(double origin_lat, double origin_lon)
        : lat0_(origin_lat), lon0_(origin_lon), kx_(kMetresPerDegree * std::cos(origin_lat * kPi / 180)) {}
    Point ToLocal(double lat, double lon) const { return {(lon - lon0_) * kx_, (lat - lat0_) * kMetresPerDegree}; }
    /// The inverse of ToLocal: {lat, lon}.
    std::pair<double, double> ToWgs84(Point p) const { return {lat0_ + p.y / kMetresPerDegree, lon0_ + p.x / kx_}; }
    double origin_lat() const { return lat0_; }
    double origin_lon() const { return lon0_; }

private:
    static constexpr double kPi = 3.14159265358979323846;
    static constexpr double kMetresPerDegree = 6371008.8 * kPi / 180;  // mean Earth radius
    double lat0_;
    double lon0_;
    double kx_;
};

}  // namespace citybrain::core
