// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace citybrain::nlp {

/// Danger words raise a case's priority (1 = most urgent … 4): signs of immediate danger to life (倒塌, 触电,
/// 起火, 积水很深, 有人受伤 …) make it 1; vulnerable people or a hazard (小孩, 学生, 老人, 孕妇, 学校, 隐患, 井盖 …)
/// raise it one level. Works on normalised (simplified) text.
struct Urgency {
    int priority = 3;
    std::vector<std::string> cues;  // the words that decided it
};
Urgency AssessUrgency(std::string_view text, int base_priority = 3);

/// A deadline as a citizen reads it: "2026年6月15日09:00" (UTC+8).
std::string DeadlineText(int64_t deadline_ms);

/// The immediate answer to a citizen, with the case number, the department and the deadline (local time, UTC+8).
std::string AcknowledgementReply(const std::string& case_id, const std::string& department, int64_t deadline_ms);

}  // namespace citybrain::nlp
