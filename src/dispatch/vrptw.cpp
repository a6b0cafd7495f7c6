// SPDX-License-Identifier: Apache-2.0
#include "dispatch/vrptw.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include "core/file.hpp"

namespace citybrain::dispatch {

namespace {

std::string Trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return std::string(s.substr(b, e - b));
}

/// Whitespace-separated numbers of a line; false on anything that is not a number.
bool Numbers(std::string_view line, std::vector<double>& out) {
    out.clear();
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
        if (i == line.size()) break;
        size_t j = i;
        while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
        double v = 0;
        const auto [ptr, ec] = std::from_chars(line.data() + i, line.data() + j, v);
        if (ec != std::errc() || ptr != line.data() + j || !std::isfinite(v)) return false;
        out.push_back(v);
        i = j;
    }
    return true;
}

constexpr const char* kColumns[] = {
    "CUST NO.", "XCOORD.", "YCOORD.", "DEMAND", "READY TIME", "DUE DATE", "SERVICE TIME"};

}  // namespace

Result<VrpInstance> ParseSolomon(std::string_view text, const std::string& where) {
    VrpInstance inst;
    std::vector<std::string_view> lines;
    for (size_t pos = 0; pos <= text.size();) {
        const size_t nl = text.find('\n', pos);
        const size_t end = nl == std::string_view::npos ? text.size() : nl;
        lines.push_back(text.substr(pos, end - pos));
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
    }
    const auto at = [&](size_t line) { return where + ":" + std::to_string(line + 1); };
    size_t i = 0;
    while (i < lines.size() && Trim(lines[i]).empty()) ++i;
    if (i == lines.size()) return InvalidArgument(where, "empty file: expected a Solomon instance");
    inst.name = Trim(lines[i++]);

    // VEHICLE, then a header line, then "NUMBER CAPACITY".
    while (i < lines.size() && Trim(lines[i]).rfind("VEHICLE", 0) != 0) ++i;
    if (i == lines.size()) return InvalidArgument(where, "no VEHICLE section");
    ++i;
    std::vector<double> nums;
    for (; i < lines.size(); ++i) {
        const std::string line = Trim(lines[i]);
        if (line.empty() || line.rfind("NUMBER", 0) == 0) continue;
        if (!Numbers(line, nums) || nums.size() != 2) {
            return InvalidArgument(at(i), "VEHICLE: expected NUMBER and CAPACITY, got '" + line + "'");
        }
        if (nums[0] < 1 || nums[0] != std::floor(nums[0]) || nums[0] > 100000) {
            return InvalidArgument(at(i), "VEHICLE NUMBER: must be a whole number from 1, got " + line);
        }
        if (nums[1] <= 0 || nums[1] != std::floor(nums[1]) || nums[1] > 1e9) {
            return InvalidArgument(at(i), "CAPACITY: must be a positive whole number, got " + line);
        }
        inst.vehicles = static_cast<int>(nums[0]);
        inst.capacity = static_cast<int>(nums[1]);
        ++i;
        break;
    }
    if (inst.capacity == 0) return InvalidArgument(where, "VEHICLE: NUMBER and CAPACITY are missing");

    while (i < lines.size() && Trim(lines[i]).rfind("CUSTOMER", 0) != 0) ++i;
    if (i == lines.size()) return InvalidArgument(where, "no CUSTOMER section");
    ++i;
    for (; i < lines.size(); ++i) {
        const std::string line = Trim(lines[i]);
        if (line.empty() || line.rfind("CUST", 0) == 0) continue;
        if (!Numbers(line, nums)) return InvalidArgument(at(i), "CUSTOMER: not a row of numbers: '" + line + "'");
        if (nums.size() != 7) {
            return InvalidArgument(at(i),
                                   "CUSTOMER: expected 7 numbers (CUST NO., XCOORD., YCOORD., DEMAND, "
                                   "READY TIME, DUE DATE, SERVICE TIME), got " +
                                       std::to_string(nums.size()));
        }
        const size_t expect = inst.sites.size();
        if (nums[0] != static_cast<double>(expect)) {
            return InvalidArgument(at(i),
                                   std::string(kColumns[0]) + ": expected " + std::to_string(expect) +
                                       " (rows numbered from 0, the depot), got " + line.substr(0, 12));
        }
        for (int k : {3, 4, 5, 6}) {
            if (nums[static_cast<size_t>(k)] < 0) {
                return InvalidArgument(at(i), std::string(kColumns[k]) + ": must not be negative");
            }
        }
        // Bounded so that demands fit an int and sums of times and distances stay finite (vrp_fuzz found 5e28).
        for (int k = 1; k < 7; ++k) {
            if (std::abs(nums[static_cast<size_t>(k)]) > 1e9) {
                return InvalidArgument(at(i), std::string(kColumns[k]) + ": beyond 1e9");
            }
        }
        if (nums[3] != std::floor(nums[3])) return InvalidArgument(at(i), "DEMAND: must be a whole number");
        if (nums[5] < nums[4]) return InvalidArgument(at(i), "DUE DATE: is before READY TIME");
        if (expect == 0 && nums[3] != 0) return InvalidArgument(at(i), "DEMAND: the depot (row 0) has none");
        inst.sites.push_back({nums[1], nums[2], static_cast<int>(nums[3]), nums[4], nums[5], nums[6]});
    }
    if (inst.sites.size() < 2) return InvalidArgument(where, "CUSTOMER: needs the depot and at least one customer");
    return inst;
}

Result<VrpInstance> LoadSolomon(const std::string& path) {
    CB_TRY_ASSIGN(const std::string text, core::ReadFile(path));
    const size_t slash = path.find_last_of('/');
    return ParseSolomon(text, slash == std::string::npos ? path : path.substr(slash + 1));
}

namespace {

constexpr double kEps = 1e-9;

/// The search state: routes of customers (depot implicit), with each stop's earliest service start and the latest
/// start that keeps the rest of its route feasible, so an insertion is checked in O(1).
struct Plan {
    struct Route {
        std::vector<int> stops;
        std::vector<double> start, latest;
        int load = 0;
        double distance = 0;
    };
    std::vector<Route> routes;
    std::vector<int> absent;
    double distance = 0;
};

class Solver {
public:
    Solver(const VrpInstance& inst, const VrpOptions& opt) : inst_(inst), opt_(opt), rng_(opt.seed) {
        n_ = inst.sites.size();
        d_.resize(n_ * n_);
        for (size_t a = 0; a < n_; ++a) {
            for (size_t b = 0; b < n_; ++b) {
                d_[a * n_ + b] = std::hypot(inst.sites[a].x - inst.sites[b].x, inst.sites[a].y - inst.sites[b].y);
            }
        }
        // Neighbours by distance, for choosing which routes to ruin around a seed customer.
        near_.resize(n_);
        for (size_t c = 1; c < n_; ++c) {
            auto& list = near_[c];
            for (size_t o = 1; o < n_; ++o) list.push_back(static_cast<int>(o));
            std::sort(list.begin(), list.end(), [&](int a, int b) {
                return D(static_cast<int>(c), a) < D(static_cast<int>(c), b);
            });
        }
        // A customer no vehicle could serve even alone is left out for good.
        for (size_t c = 1; c < n_; ++c) {
            const auto& s = inst.sites[c];
            const double arrive =
                std::max(s.ready, inst.sites[0].ready + inst.sites[0].service + D(0, static_cast<int>(c)));
            const bool ok = s.demand <= inst.capacity && arrive <= s.due + kEps &&
                            arrive + s.service + D(static_cast<int>(c), 0) <= inst.sites[0].due + kEps;
            (ok ? servable_ : impossible_).push_back(static_cast<int>(c));
        }
    }

    VrpSolution Run() {
        const auto t0 = std::chrono::steady_clock::now();
        Plan current;
        current.absent = servable_;
        Recreate(current);
        Plan best = current, next;
        const double t_start = 100, t_end = 1;
        uint64_t it = 0;
        double temperature = t_start;
        const auto cool = [&](double progress) { return t_start * std::pow(t_end / t_start, progress); };
        for (;; ++it) {
            if (opt_.iterations > 0) {
                if (it >= opt_.iterations) break;
                temperature = cool(static_cast<double>(it) / static_cast<double>(opt_.iterations));
            } else if ((it & 63) == 0) {
                // The clock is read every 64 steps; a step takes microseconds.
                const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                if (elapsed >= opt_.time_limit_s) break;
                temperature = cool(elapsed / opt_.time_limit_s);
            }
            next = current;
            Ruin(next);
            Recreate(next);
            std::uniform_real_distribution<double> u(0, 1);
            if (Objective(next) < Objective(current) - temperature * std::log(u(rng_))) {
                std::swap(current, next);
                if (Objective(current) < Objective(best)) best = current;
            }
        }
        VrpSolution out;
        for (const auto& r : best.routes) {
            if (!r.stops.empty()) out.routes.push_back(r.stops);
        }
        out.distance = best.distance;
        out.unassigned = best.absent;
        out.unassigned.insert(out.unassigned.end(), impossible_.begin(), impossible_.end());
        std::sort(out.unassigned.begin(), out.unassigned.end());
        out.iterations = it;
        out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return out;
    }

private:
    double D(int a, int b) const { return d_[static_cast<size_t>(a) * n_ + static_cast<size_t>(b)]; }
    const VrpInstance::Site& S(int c) const { return inst_.sites[static_cast<size_t>(c)]; }

    // A customer left out weighs more than any detour could.
    double Objective(const Plan& p) const { return p.distance + 1e6 * static_cast<double>(p.absent.size()); }

    void Refresh(Plan::Route& r) const {
        const size_t k = r.stops.size();
        r.start.resize(k);
        r.latest.resize(k);
        r.load = 0;
        r.distance = 0;
        int prev = 0;
        double t = S(0).ready;
        for (size_t i = 0; i < k; ++i) {
            const int c = r.stops[i];
            t = std::max(S(c).ready, t + S(prev).service + D(prev, c));
            r.start[i] = t;
            r.load += S(c).demand;
            r.distance += D(prev, c);
            prev = c;
        }
        r.distance += D(prev, 0);
        double latest = S(0).due;
        int after = 0;
        for (size_t i = k; i-- > 0;) {
            const int c = r.stops[i];
            latest = std::min(S(c).due, latest - S(c).service - D(c, after));
            r.latest[i] = latest;
            after = c;
        }
    }

    /// The extra distance of putting `c` before position `pos` of route `r`, or a negative number if infeasible.
    double InsertCost(const Plan::Route& r, size_t pos, int c) const {
        const int prev = pos == 0 ? 0 : r.stops[pos - 1];
        const int next = pos == r.stops.size() ? 0 : r.stops[pos];
        const double prev_start = pos == 0 ? S(0).ready : r.start[pos - 1];
        const double begin = std::max(S(c).ready, prev_start + S(prev).service + D(prev, c));
        if (begin > S(c).due + kEps) return -1;
        const double arrive_next = begin + S(c).service + D(c, next);
        const double next_latest = pos == r.stops.size() ? S(0).due : r.latest[pos];
        if (arrive_next > next_latest + kEps) return -1;
        return D(prev, c) + D(c, next) - D(prev, next);
    }

    void Ruin(Plan& p) {
        // As in the paper: about c̄ = 10 customers in strings of at most 10, from routes near a random customer.
        constexpr double kAvgRemoved = 10, kMaxString = 10;
        size_t used = 0, stops = 0;
        for (const auto& r : p.routes) {
            if (!r.stops.empty()) ++used, stops += r.stops.size();
        }
        if (used == 0) return;
        const double ls_max = std::min(kMaxString, static_cast<double>(stops) / static_cast<double>(used));
        const double ks_max = 4 * kAvgRemoved / (1 + ls_max) - 1;
        const size_t ks = static_cast<size_t>(std::uniform_real_distribution<double>(1, ks_max + 1)(rng_));
        // Where each customer is.
        route_of_.assign(n_, -1);
        for (size_t ri = 0; ri < p.routes.size(); ++ri) {
            for (int c : p.routes[ri].stops) route_of_[static_cast<size_t>(c)] = static_cast<int>(ri);
        }
        const int seed = servable_[std::uniform_int_distribution<size_t>(0, servable_.size() - 1)(rng_)];
        ruined_.clear();
        for (int c : near_[static_cast<size_t>(seed)]) {
            if (ruined_.size() >= ks) break;
            const int ri = route_of_[static_cast<size_t>(c)];
            if (ri < 0 || std::find(ruined_.begin(), ruined_.end(), ri) != ruined_.end()) continue;
            auto& r = p.routes[static_cast<size_t>(ri)];
            const double lmax = std::min(static_cast<double>(r.stops.size()), ls_max);
            const size_t len = static_cast<size_t>(std::uniform_real_distribution<double>(1, lmax + 1)(rng_));
            const size_t at = static_cast<size_t>(std::find(r.stops.begin(), r.stops.end(), c) - r.stops.begin());
            // A string of `len` stops that holds `c`, placed at random around it.
            const size_t lo = at + 1 >= len ? at + 1 - len : 0;
            const size_t hi = std::min(at, r.stops.size() - len);
            const size_t first = std::uniform_int_distribution<size_t>(lo, std::max(lo, hi))(rng_);
            for (size_t k = first; k < first + len; ++k) {
                p.absent.push_back(r.stops[k]);
                route_of_[static_cast<size_t>(r.stops[k])] = -1;
            }
            r.stops.erase(r.stops.begin() + static_cast<std::ptrdiff_t>(first),
                          r.stops.begin() + static_cast<std::ptrdiff_t>(first + len));
            Refresh(r);
            ruined_.push_back(ri);
        }
        Total(p);
    }

    void Recreate(Plan& p) {
        // Order: random, by demand, farthest from the depot first, or closest first (weights 4, 4, 2, 1).
        const int pick = std::uniform_int_distribution<int>(0, 10)(rng_);
        auto& a = p.absent;
        std::shuffle(a.begin(), a.end(), rng_);
        if (pick >= 4 && pick < 8) {
            std::stable_sort(a.begin(), a.end(), [&](int x, int y) { return S(x).demand > S(y).demand; });
        } else if (pick >= 8 && pick < 10) {
            std::stable_sort(a.begin(), a.end(), [&](int x, int y) { return D(0, x) > D(0, y); });
        } else if (pick == 10) {
            std::stable_sort(a.begin(), a.end(), [&](int x, int y) { return D(0, x) < D(0, y); });
        }
        std::uniform_real_distribution<double> u(0, 1);
        std::vector<int> still;
        for (int c : a) {
            double best = std::numeric_limits<double>::infinity();
            size_t best_r = 0, best_pos = 0;
            bool empty_tried = false;
            for (size_t ri = 0; ri < p.routes.size(); ++ri) {
                const auto& r = p.routes[ri];
                if (r.load + S(c).demand > inst_.capacity) continue;
                // One empty route is as good as another.
                if (r.stops.empty()) {
                    if (empty_tried) continue;
                    empty_tried = true;
                }
                for (size_t pos = 0; pos <= r.stops.size(); ++pos) {
                    if (u(rng_) < 0.01) continue;  // a blink: skip a place now and then
                    const double cost = InsertCost(r, pos, c);
                    if (cost >= 0 && cost < best) best = cost, best_r = ri, best_pos = pos;
                }
            }
            if (best == std::numeric_limits<double>::infinity()) {
                if (p.routes.size() < static_cast<size_t>(inst_.vehicles)) {
                    p.routes.emplace_back();
                    auto& r = p.routes.back();
                    r.stops.push_back(c);
                    Refresh(r);
                } else {
                    still.push_back(c);
                }
                continue;
            }
            auto& r = p.routes[best_r];
            r.stops.insert(r.stops.begin() + static_cast<std::ptrdiff_t>(best_pos), c);
            Refresh(r);
        }
        a.swap(still);
        Total(p);
    }

    static void Total(Plan& p) {
        p.distance = 0;
        for (const auto& r : p.routes) p.distance += r.distance;
    }

    const VrpInstance& inst_;
    VrpOptions opt_;
    std::mt19937_64 rng_;
    size_t n_ = 0;
    std::vector<double> d_;
    std::vector<std::vector<int>> near_;
    std::vector<int> servable_, impossible_;
    std::vector<int> route_of_, ruined_;
};

}  // namespace

VrpSolution SolveVrptw(const VrpInstance& instance, const VrpOptions& options) {
    return Solver(instance, options).Run();
}

Status CheckVrpSolution(const VrpInstance& inst, const VrpSolution& sol) {
    const size_t n = inst.sites.size();
    std::vector<int> seen(n, 0);
    if (sol.routes.size() > static_cast<size_t>(inst.vehicles)) {
        return InvalidArgument(
            "routes",
            std::to_string(sol.routes.size()) + " vehicles used, " + std::to_string(inst.vehicles) + " available");
    }
    const auto dist = [&](int a, int b) {
        const auto& p = inst.sites[static_cast<size_t>(a)];
        const auto& q = inst.sites[static_cast<size_t>(b)];
        return std::hypot(p.x - q.x, p.y - q.y);
    };
    double total = 0;
    for (size_t ri = 0; ri < sol.routes.size(); ++ri) {
        const std::string where = "routes[" + std::to_string(ri) + "]";
        int prev = 0, load = 0;
        double t = inst.sites[0].ready;
        for (int c : sol.routes[ri]) {
            if (c <= 0 || static_cast<size_t>(c) >= n)
                return InvalidArgument(where, "no customer " + std::to_string(c));
            if (seen[static_cast<size_t>(c)]++)
                return InvalidArgument(where, "customer " + std::to_string(c) + " visited twice");
            const auto& s = inst.sites[static_cast<size_t>(c)];
            t = std::max(s.ready, t + inst.sites[static_cast<size_t>(prev)].service + dist(prev, c));
            if (t > s.due + 1e-6)
                return InvalidArgument(where, "customer " + std::to_string(c) + " served after its due date");
            load += s.demand;
            total += dist(prev, c);
            prev = c;
        }
        total += dist(prev, 0);
        if (t + inst.sites[static_cast<size_t>(prev)].service + dist(prev, 0) > inst.sites[0].due + 1e-6) {
            return InvalidArgument(where, "returns to the depot after it closes");
        }
        if (load > inst.capacity) return InvalidArgument(where, "load " + std::to_string(load) + " over capacity");
    }
    for (int c : sol.unassigned) {
        if (c <= 0 || static_cast<size_t>(c) >= n || seen[static_cast<size_t>(c)]++) {
            return InvalidArgument("unassigned", "customer " + std::to_string(c) + " is routed or unknown");
        }
    }
    for (size_t c = 1; c < n; ++c) {
        if (!seen[c]) return InvalidArgument("routes", "customer " + std::to_string(c) + " is missing");
    }
    if (std::abs(total - sol.distance) > 1e-6 * std::max(1.0, total)) {
        return InvalidArgument(
            "distance", "reported " + std::to_string(sol.distance) + ", routes add up to " + std::to_string(total));
    }
    return {};
}

}  // namespace citybrain::dispatch
