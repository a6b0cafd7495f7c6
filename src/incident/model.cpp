// SPDX-License-Identifier: Apache-2.0
#include "incident/model.hpp"

#include <array>

namespace citybrain::incident {

namespace {

constexpr std::array kSources = {"camera", "sensor", "citizen", "hotline", "robot", "inspector"};
constexpr std::array kStatuses = {
    "reported", "filed", "dispatched", "handling", "handled", "closed", "evaluated", "rejected", "merged"};
constexpr std::array kActions = {
    "report", "file", "dispatch", "start", "feedback", "close", "reopen", "evaluate", "reject", "merge", "escalate"};

template <typename E, size_t N>
Result<E> ParseName(const std::array<const char*, N>& names, std::string_view text, const char* field) {
    std::string all;
    for (size_t i = 0; i < N; ++i) {
        if (text == names[i]) return static_cast<E>(i);
        all += (i ? ", " : "");
        all += names[i];
    }
    return InvalidArgument(field, "'" + std::string(text.substr(0, 64)) + "' is not one of " + all);
}

}  // namespace

const char* SourceName(Source s) { return kSources[static_cast<size_t>(s)]; }
const char* StatusName(CaseStatus s) { return kStatuses[static_cast<size_t>(s)]; }
const char* ActionName(Action a) { return kActions[static_cast<size_t>(a)]; }
Result<Source> ParseSource(std::string_view text) { return ParseName<Source>(kSources, text, "source"); }
Result<CaseStatus> ParseStatus(std::string_view text) { return ParseName<CaseStatus>(kStatuses, text, "status"); }
Result<Action> ParseAction(std::string_view text) { return ParseName<Action>(kActions, text, "action"); }

}  // namespace citybrain::incident
