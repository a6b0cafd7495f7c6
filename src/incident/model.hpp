// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/time.hpp"

namespace citybrain::incident {

using core::TimeMs;
using ReportId = int64_t;
using CaseId = int64_t;

enum class Source : uint8_t { kCamera, kSensor, kCitizen, kHotline, kRobot, kInspector };

/// The 7 steps of 数字城管 plus the two ends that leave the flow early.
enum class CaseStatus : uint8_t {
    kReported,    // 上报
    kFiled,       // 立案
    kDispatched,  // 派遣
    kHandling,    // 处置
    kHandled,     // 反馈 (the department says it is done)
    kClosed,      // 核查结案 (verified on the spot and closed)
    kEvaluated,   // 评价
    kRejected,    // 不予立案
    kMerged,      // merged into another case as a duplicate
};

/// What an operator (or the engine) does to a case; each is legal from some statuses only.
enum class Action : uint8_t {
    kReport,
    kFile,
    kDispatch,
    kStart,
    kFeedback,
    kClose,
    kReopen,
    kEvaluate,
    kReject,
    kMerge,
    kEscalate
};

const char* SourceName(Source s);
const char* StatusName(CaseStatus s);
const char* ActionName(Action a);
Result<Source> ParseSource(std::string_view text);
Result<CaseStatus> ParseStatus(std::string_view text);
Result<Action> ParseAction(std::string_view text);

/// Still in the flow: counts as open for de-duplication, deadlines and Open311 `status=open`.
inline bool IsOpen(CaseStatus s) {
    return s != CaseStatus::kClosed && s != CaseStatus::kEvaluated && s != CaseStatus::kRejected &&
           s != CaseStatus::kMerged;
}

/// A report as it arrives: from a camera, a sensor, a citizen (app or Open311), the 12345 hotline, a robot or an
/// inspector. It needs a location: coordinates, or an address when there are none.
struct Report {
    ReportId id = 0;  // assigned by the engine
    std::string idempotency_key;
    Source source = Source::kCitizen;
    TimeMs time_ms = 0;      // when it was observed or made
    TimeMs received_ms = 0;  // when the brain acknowledged it
    std::optional<double> lat;
    std::optional<double> lon;
    std::string address;
    std::string address_id;  // Open311's address_id: the caller's own id for the place, kept as given
    std::string category;    // service code; empty = let the taxonomy's fallback take it
    std::string description;
    std::string media_url;
    double confidence = 1.0;
    std::string external_id;  // the source system's id (e.g. a 311 Unique Key)
    CaseId case_id = 0;       // set by the engine
    bool duplicate = false;   // joined an existing case
    std::string via;          // the name of the API key that posted it (empty: the brain's own sensing)
};

/// One audit event: every transition, escalation and merge, with who did it and when.
struct Event {
    CaseId case_id = 0;
    TimeMs time_ms = 0;
    std::string actor;
    Action action = Action::kFile;
    CaseStatus from = CaseStatus::kReported;
    CaseStatus to = CaseStatus::kReported;
    std::string note;
    std::string via;  // the name of the API key that made the change (empty: the brain itself)
};

/// A classifier's guess at a text's category (a service code), with its confidence in [0, 1].
struct CategoryGuess {
    std::string category;
    double confidence = 0;
};

struct Case {
    CaseId id = 0;
    std::string category;
    std::string department;
    int priority = 3;  // 1 = most urgent
    std::optional<double> lat;
    std::optional<double> lon;
    std::string address;
    std::string grid_cell;
    std::string description;  // from the first report
    CaseStatus status = CaseStatus::kReported;
    TimeMs created_ms = 0;
    TimeMs updated_ms = 0;
    TimeMs last_report_ms = 0;  // de-duplication windows run from the latest report
    TimeMs deadline_ms = 0;     // of the current step; 0 when none (closed, or a step without a limit)
    TimeMs closed_ms = 0;
    int escalations = 0;
    bool overdue = false;  // the current step's deadline passed (cleared when the step changes)
    int report_count = 0;
    ReportId primary_report = 0;
    CaseId merged_into = 0;
};

}  // namespace citybrain::incident
