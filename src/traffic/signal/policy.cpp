// SPDX-License-Identifier: Apache-2.0
#include "traffic/signal/policy.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace citybrain::traffic {

extern const char* const kEmbeddedSignalPolicyJson;  // generated from config/traffic/signal_policy.json

namespace {
constexpr std::string_view kFormat = "citybrain-signal-policy/1";
}  // namespace

Result<SignalPolicy> ParsePolicy(std::string_view text, const std::string& where) {
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return InvalidArgument(where, "is not a JSON object");
    if (!j.contains("format") || j["format"] != kFormat) {
        return InvalidArgument(where + " format", "must be \"" + std::string(kFormat) + "\"");
    }
    if (!j.contains("features") || !j["features"].is_array() || j["features"].size() != kPolicyFeatures.size()) {
        return InvalidArgument(where + " features",
                               "must list the " + std::to_string(kPolicyFeatures.size()) + " features in order");
    }
    for (size_t i = 0; i < kPolicyFeatures.size(); ++i) {
        if (j["features"][i] != kPolicyFeatures[i]) {
            return InvalidArgument(where + " features[" + std::to_string(i) + "]",
                                   "must be \"" + std::string(kPolicyFeatures[i]) + "\"");
        }
    }
    if (!j.contains("weights") || !j["weights"].is_array() || j["weights"].size() != kPolicyFeatures.size()) {
        return InvalidArgument(where + " weights", "must hold one number per feature");
    }
    SignalPolicy p;
    for (size_t i = 0; i < kPolicyFeatures.size(); ++i) {
        const auto& w = j["weights"][i];
        if (!w.is_number() || !std::isfinite(w.get<double>()) || std::abs(w.get<double>()) > 1e6) {
            return InvalidArgument(where + " weights[" + std::to_string(i) + "]",
                                   "must be a finite number of at most 1e6 in size");
        }
        p.weights.push_back(w.get<double>());
    }
    if (j.contains("interval_s")) {
        const auto& v = j["interval_s"];
        if (!v.is_number() || !(v.get<double>() >= 1 && v.get<double>() <= 120)) {
            return InvalidArgument(where + " interval_s", "must be a number of seconds in [1, 120]");
        }
        p.interval_s = v.get<double>();
    }
    if (j.contains("trained_on") && j["trained_on"].is_string()) p.trained_on = j["trained_on"].get<std::string>();
    if (j.contains("seed") && j["seed"].is_number_unsigned()) p.seed = j["seed"].get<uint64_t>();
    if (j.contains("iterations") && j["iterations"].is_number_integer()) {
        p.iterations = j["iterations"].get<int32_t>();
    }
    if (j.contains("train_score") && j["train_score"].is_number()) p.train_score = j["train_score"].get<double>();
    return p;
}

Result<SignalPolicy> LoadPolicy(const std::string& path) {
    std::ifstream in(path);
    if (!in) return Error{ErrorCode::kNotFound, "cannot read the policy file", path};
    std::stringstream ss;
    ss << in.rdbuf();
    return ParsePolicy(ss.str(), path);
}

std::string PolicyToJson(const SignalPolicy& p) {
    nlohmann::ordered_json j;
    j["format"] = kFormat;
    j["features"] = kPolicyFeatures;
    j["weights"] = p.weights;
    j["interval_s"] = p.interval_s;
    j["trained_on"] = p.trained_on;
    j["seed"] = p.seed;
    j["iterations"] = p.iterations;
    j["train_score"] = p.train_score;
    return j.dump(2) + "\n";
}

const SignalPolicy& EmbeddedPolicy() {
    static const SignalPolicy kPolicy = [] {
        auto p = ParsePolicy(kEmbeddedSignalPolicyJson, "config/traffic/signal_policy.json");
        if (!p.ok()) {  // a build defect, caught by traffic_test
            std::fprintf(stderr, "embedded signal policy: %s\n", p.error().ToString().c_str());
            std::abort();
        }
        return std::move(p).value();
    }();
    return kPolicy;
}

}  // namespace citybrain::traffic
