// SPDX-License-Identifier: Apache-2.0
#include "core/geometry.hpp"

#include <algorithm>

namespace citybrain::core {

double PolylineLength(std::span<const Point> points) {
    double sum = 0;
    for (size_t i = 1; i < points.size(); ++i) sum += (points[i] - points[i - 1]).Norm();
    return sum;
}

Point PointAlong(std::span<const Point> points, double distance_m) {
    if (points.empty()) return {};
    double remaining = std::max(0.0, distance_m);
    for (size_t i = 1; i < points.size(); ++i) {
        const Point seg = points[i] - points[i - 1];
        const double len = seg.Norm();
        if (remaining <= len && len > 0) return points[i - 1] + seg * (remaining / len);
        remaining -= len;
    }
    return points.back();
}

std::optional<Crossing> FirstCrossing(std::span<const Point> a, std::span<const Point> b) {
    constexpr double kEps = 1e-9;
    double along_a = 0;
    for (size_t i = 1; i < a.size(); ++i) {
        const Point p = a[i - 1];
        const Point r = a[i] - p;
        double along_b = 0;
        for (size_t j = 1; j < b.size(); ++j) {
            const Point q = b[j - 1];
            const Point s = b[j] - q;
            const double denom = Cross(r, s);
            if (std::abs(denom) > kEps) {
                // Segment-segment intersection by the standard parametric form p + t r = q + u s.
                const double t = Cross(q - p, s) / denom;
                const double u = Cross(q - p, r) / denom;
                if (t >= -kEps && t <= 1 + kEps && u >= -kEps && u <= 1 + kEps) {
                    return Crossing{along_a + std::clamp(t, 0.0, 1.0) * r.Norm(),
                                    along_b + std::clamp(u, 0.0, 1.0) * s.Norm()};
                }
            }
            along_b += s.Norm();
        }
        along_a += r.Norm();
    }
    return std::nullopt;
}

}  // namespace citybrain::core
