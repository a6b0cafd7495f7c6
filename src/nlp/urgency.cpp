// SPDX-License-Identifier: Apache-2.0
#include "nlp/urgency.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace citybrain::nlp {

namespace {

constexpr std::string_view kDanger[] = {"倒塌",
                                        "坍塌",
                                        "塌陷",
                                        "触电",
                                        "漏电",
                                        "起火",
                                        "着火",
                                        "火灾",
                                        "冒烟",
                                        "爆炸",
                                        "燃气泄漏",
                                        "煤气泄漏",
                                        "有人受伤",
                                        "受伤",
                                        "溺水",
                                        "被困",
                                        "淹没",
                                        "坠落"};
constexpr std::string_view kVulnerable[] = {
    "小孩", "儿童", "孩子", "学生", "老人", "孕妇", "残疾", "学校", "幼儿园", "隐患", "危险", "井盖", "掉落"};
// "积水" followed closely by a word of depth: flooding that endangers people or cars.
constexpr std::string_view kDeep[] = {"很深", "严重", "齐腰", "没过", "过膝", "淹"};

}  // namespace

Urgency AssessUrgency(std::string_view text, int base_priority) {
    Urgency u;
    u.priority = std::clamp(base_priority, 1, 4);
    bool danger = false, vulnerable = false;
    for (const auto w : kDanger) {
        if (text.find(w) != std::string_view::npos) danger = true, u.cues.emplace_back(w);
    }
    for (size_t at = text.find("积水"); at != std::string_view::npos; at = text.find("积水", at + 1)) {
        const std::string_view after = text.substr(at + 6, 18);  // the next six characters
        for (const auto w : kDeep) {
            if (after.find(w) != std::string_view::npos) {
                danger = true;
                u.cues.push_back("积水" + std::string(w));
                break;
            }
        }
    }
    for (const auto w : kVulnerable) {
        if (text.find(w) != std::string_view::npos) vulnerable = true, u.cues.emplace_back(w);
    }
    if (danger) {
        u.priority = 1;
    } else if (vulnerable) {
        u.priority = std::max(1, u.priority - 1);
    }
    return u;
}

std::string DeadlineText(int64_t deadline_ms) {
    using namespace std::chrono;
    const auto local = sys_time<milliseconds>(milliseconds(deadline_ms)) + hours(8);
    const auto day = floor<days>(local);
    const year_month_day ymd(day);
    const hh_mm_ss hms(floor<minutes>(local - day));
    char when[64];
    std::snprintf(when,
                  sizeof when,
                  "%d年%u月%u日%02d:%02d",
                  static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()));
    return when;
}

std::string AcknowledgementReply(const std::string& case_id, const std::string& department, int64_t deadline_ms) {
    return "您好！您反映的问题已受理，案件编号" + case_id + "，已转交" + department + "办理，将于" +
           DeadlineText(deadline_ms) + "前处理并答复。感谢您对城市管理的支持！";
}

}  // namespace citybrain::nlp
