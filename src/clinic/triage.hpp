// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

#include "clinic/findings.hpp"

namespace citybrain::clinic {

/// Where the patient should go, most urgent last.
enum class Care { kSelfCare = 0, kSeeDoctorToday = 1, kReferNow = 2 };
const char* CareName(Care c);  // "self_care" | "see_doctor_today" | "refer_now"
Care CareFromName(const std::string& name);

/// A red flag that fired: its rule id, the care it demands and why, in words for the patient and the clinician.
struct Flag {
    std::string rule;
    Care care = Care::kReferNow;
    std::string reason;
};

/// The red-flag rules (IMCI's general danger signs, NICE NG143's red and amber features of fever in children, and
/// the usual adult cough warnings). They read the findings alone, never the ranking, and win over it.
std::vector<Flag> RedFlags(const Findings& findings);

/// The triage: the most urgent flag, else the care the leading disease needs when it is likely (≥ 0.5).
struct Triage {
    Care care = Care::kSelfCare;
    std::string reason;
    std::vector<Flag> flags;
};
Triage Decide(const Findings& findings,
              const std::string& leading_disease_care,
              double leading_probability,
              const std::string& leading_disease);

}  // namespace citybrain::clinic
