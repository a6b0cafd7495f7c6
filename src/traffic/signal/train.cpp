// SPDX-License-Identifier: Apache-2.0
#include "traffic/signal/train.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <random>
#include <thread>

namespace citybrain::traffic {

namespace {

// Standard normal draws from the raw 64-bit stream (Box-Muller): std::normal_distribution's algorithm is the
// library's choice, and the same seed must give the same policy on every platform.
class Normal {
public:
    explicit Normal(uint64_t seed) : rng_(seed) {}
    double operator()() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        const double u1 = (static_cast<double>(rng_() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
        const double u2 = static_cast<double>(rng_() >> 11) * 0x1.0p-53;          // [0, 1)
        const double r = std::sqrt(-2.0 * std::log(u1));
        spare_ = r * std::sin(2 * M_PI * u2);
        has_spare_ = true;
        return r * std::cos(2 * M_PI * u2);
    }

private:
    std::mt19937_64 rng_;
    double spare_ = 0;
    bool has_spare_ = false;
};

// Runs every (policy, scenario) pair on `threads` workers; att[p * scenarios + s]. The first error wins.
Status RunAll(const std::vector<TrainScenario>& scenarios,
              const std::vector<SignalPolicy>& policies,
              const std::string& controller,
              int threads,
              std::vector<double>& att) {
    const size_t total = policies.empty() ? scenarios.size() : policies.size() * scenarios.size();
    att.assign(total, 0);
    std::vector<Status> status(total);
    std::atomic<size_t> next{0};
    auto work = [&] {
        for (size_t i = next.fetch_add(1); i < total; i = next.fetch_add(1)) {
            const TrainScenario& sc = scenarios[i % scenarios.size()];
            RunOptions o = sc.options;
            o.controller = controller;
            o.progress = false;
            if (!policies.empty()) {
                o.control.policy = std::make_shared<const SignalPolicy>(policies[i / scenarios.size()]);
            }
            auto r = RunScenario(*sc.net, *sc.demand, o);
            if (!r.ok()) {
                status[i] = r.error();
                continue;
            }
            att[i] = r->metrics.att_s;
        }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    for (const Status& s : status) {
        if (!s.ok()) return s;
    }
    return {};
}

}  // namespace

Result<TrainResult> TrainPolicy(const std::vector<TrainScenario>& scenarios,
                                const TrainOptions& options,
                                const std::function<void(const TrainIteration&)>& on_iteration) {
    if (scenarios.empty()) return InvalidArgument("--scenario", "give at least one training scenario");
    if (options.iterations < 0) return InvalidArgument("--iterations", "must be >= 0");
    if (options.pairs < 1) return InvalidArgument("--pairs", "must be >= 1");
    if (!(options.sigma > 0) || !(options.step > 0)) return InvalidArgument("--sigma/--step", "must be positive");
    if (options.threads < 1) return InvalidArgument("--threads", "must be >= 1");
    if (options.start.weights.size() != kPolicyFeatures.size()) {
        return InvalidArgument("--start", "the starting policy has the wrong number of weights");
    }
    const size_t dims = kPolicyFeatures.size();
    const size_t ns = scenarios.size();

    TrainResult out;
    CB_TRY(RunAll(scenarios, {}, "maxpressure", options.threads, out.baseline_att));
    for (size_t s = 0; s < ns; ++s) {
        if (!(out.baseline_att[s] > 0)) {
            return InvalidArgument(scenarios[s].name, "max-pressure moved no vehicle: nothing to learn from");
        }
    }
    auto score = [&](const std::vector<double>& att, size_t p) {
        double sum = 0;
        for (size_t s = 0; s < ns; ++s) sum += att[p * ns + s] / out.baseline_att[s];
        return sum / static_cast<double>(ns);
    };

    // Search in units of each weight's scale, so that one sigma means as much for every feature.
    std::vector<double> scale(dims);
    for (size_t k = 0; k < dims; ++k) scale[k] = std::max(1.0, std::abs(options.start.weights[k]));
    std::vector<double> phi(dims);
    for (size_t k = 0; k < dims; ++k) phi[k] = options.start.weights[k] / scale[k];
    auto to_policy = [&](const std::vector<double>& x) {
        SignalPolicy p = options.start;
        for (size_t k = 0; k < dims; ++k) p.weights[k] = x[k] * scale[k];
        return p;
    };

    Normal normal(options.seed);
    // Adam (Kingma & Ba 2015) on the ES gradient estimate, as in Salimans et al.
    std::vector<double> m(dims, 0), v(dims, 0);
    constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;
    double best = std::numeric_limits<double>::infinity();
    std::vector<double> best_phi = phi;
    std::vector<double> best_att;
    const auto pairs = static_cast<size_t>(options.pairs);
    for (int32_t it = 0; it <= options.iterations; ++it) {
        std::vector<std::vector<double>> eps(pairs, std::vector<double>(dims));
        for (auto& e : eps) {
            for (double& x : e) x = normal();
        }
        const bool last = it == options.iterations;
        std::vector<SignalPolicy> policies{to_policy(phi)};
        if (!last) {
            for (const auto& e : eps) {
                std::vector<double> plus = phi, minus = phi;
                for (size_t k = 0; k < dims; ++k) {
                    plus[k] += options.sigma * e[k];
                    minus[k] -= options.sigma * e[k];
                }
                policies.push_back(to_policy(plus));
                policies.push_back(to_policy(minus));
            }
        }
        std::vector<double> att;
        CB_TRY(RunAll(scenarios, policies, "learned", options.threads, att));
        const double center = score(att, 0);
        if (center < best) {
            best = center;
            best_phi = phi;
            best_att.assign(att.begin(), att.begin() + static_cast<std::ptrdiff_t>(ns));
        }
        if (on_iteration) on_iteration({it, center, best, to_policy(best_phi)});
        if (last) break;
        // Centred ranks: the best candidate gets +0.5, the worst -0.5 (lower score is better).
        const size_t nc = 2 * pairs;
        std::vector<double> cand(nc);
        for (size_t c = 0; c < nc; ++c) cand[c] = score(att, c + 1);
        std::vector<size_t> order(nc);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cand[a] < cand[b]; });
        std::vector<double> util(nc);
        for (size_t r = 0; r < nc; ++r) util[order[r]] = 0.5 - static_cast<double>(r) / static_cast<double>(nc - 1);
        std::vector<double> grad(dims, 0);
        for (size_t i = 0; i < pairs; ++i) {
            const double d = util[2 * i] - util[2 * i + 1];
            for (size_t k = 0; k < dims; ++k) grad[k] += d * eps[i][k];
        }
        const double t = it + 1;
        for (size_t k = 0; k < dims; ++k) {
            grad[k] /= static_cast<double>(pairs) * options.sigma;
            m[k] = kBeta1 * m[k] + (1 - kBeta1) * grad[k];
            v[k] = kBeta2 * v[k] + (1 - kBeta2) * grad[k] * grad[k];
            const double mh = m[k] / (1 - std::pow(kBeta1, t));
            const double vh = v[k] / (1 - std::pow(kBeta2, t));
            phi[k] += options.step * options.sigma * mh / (std::sqrt(vh) + kEps);
        }
    }
    out.policy = to_policy(best_phi);
    out.policy.seed = options.seed;
    out.policy.iterations = options.iterations;
    out.policy.train_score = best;
    out.policy_att = std::move(best_att);
    return out;
}

}  // namespace citybrain::traffic
