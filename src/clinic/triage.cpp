// SPDX-License-Identifier: Apache-2.0
#include "clinic/triage.hpp"

#include <algorithm>

namespace citybrain::clinic {

const char* CareName(Care c) {
    switch (c) {
        case Care::kSelfCare:
            return "self_care";
        case Care::kSeeDoctorToday:
            return "see_doctor_today";
        case Care::kReferNow:
            return "refer_now";
    }
    return "refer_now";
}

Care CareFromName(const std::string& name) {
    if (name == "refer_now") return Care::kReferNow;
    if (name == "see_doctor_today") return Care::kSeeDoctorToday;
    return Care::kSelfCare;
}

namespace {

int Days(const Findings& f, const char* symptom) {
    const Finding* x = f.Find(symptom);
    return x != nullptr && x->answer == Answer::kYes ? x->duration_days : -1;
}

}  // namespace

std::vector<Flag> RedFlags(const Findings& f) {
    std::vector<Flag> flags;
    auto add = [&](const char* rule, Care care, std::string reason) {
        flags.push_back(Flag{rule, care, std::move(reason)});
    };
    const double age = f.age_months.value_or(-1);
    const bool fever = f.Has("发烧") || f.Has("高热") || f.Has("中等度热") || f.Has("低热");
    const double temp = f.max_temp_c.value_or(0);

    // Refer now: the danger signs.
    if (f.Has("呼吸困难")) add("breathing_difficulty", Care::kReferNow, "呼吸困难（喘不上气、呼吸费力）：立即就医");
    if (f.Has("口唇发紫")) add("cyanosis", Care::kReferNow, "嘴唇或脸色发紫（缺氧）：立即就医");
    if (f.Has("抽搐")) add("convulsion", Care::kReferNow, "抽搐：立即就医");
    if (f.Has("意识模糊")) add("confusion", Care::kReferNow, "神志不清：立即就医");
    if (f.Has("嗜睡")) add("unrousable", Care::kReferNow, "昏睡、难以叫醒：立即就医");
    if (f.Has("胸痛")) add("chest_pain", Care::kReferNow, "胸痛或胸闷：立即就医，排除心肺急症");
    if (f.Has("咯血")) add("haemoptysis", Care::kReferNow, "咳血或痰中带血：立即就医");
    if (f.Has("颈部僵硬")) add("stiff_neck", Care::kReferNow, "脖子发硬：立即就医，排除脑膜炎");
    if (f.Has("出血点")) add("non_blanching_rash", Care::kReferNow, "按压不褪色的出血点或瘀斑：立即就医，排除脓毒症");
    if (f.Has("囟门凹陷")) add("dehydration_signs", Care::kReferNow, "眼窝或囟门凹陷、哭时无泪（脱水）：立即就医");
    if (fever && age >= 0 && age < 3) add("fever_under_3_months", Care::kReferNow, "三个月以下婴儿发烧：立即就医");
    if (age >= 3 && age < 6 && temp >= 39.0)
        add("high_fever_3_to_6_months", Care::kReferNow, "三到六个月婴儿体温39度及以上：立即就医");
    if (temp >= 41.0) add("hyperpyrexia", Care::kReferNow, "体温41度及以上：立即就医");

    // See a doctor today.
    const int fever_days = std::max({Days(f, "发烧"), Days(f, "高热"), Days(f, "中等度热"), Days(f, "低热")});
    if (fever_days >= 5) add("fever_5_days", Care::kSeeDoctorToday, "发烧已五天及以上：今天就医");
    if (f.elderly && fever && fever_days >= 3)
        add("elderly_fever_3_days", Care::kSeeDoctorToday, "老年人发烧三天及以上：今天就医，排除肺炎");
    if (f.elderly && f.Has("咳嗽") && fever)
        add("elderly_cough_fever", Care::kSeeDoctorToday, "老年人咳嗽伴发烧：今天就医");
    if (temp >= 39.0 && !(age >= 0 && age < 6) && temp < 41.0)
        add("high_fever", Care::kSeeDoctorToday, "体温39度及以上：今天就医");
    if (f.Has("喷射性呕吐")) add("projectile_vomiting", Care::kSeeDoctorToday, "喷射性呕吐：今天就医");
    if (f.Has("血便")) add("blood_in_stool", Care::kSeeDoctorToday, "大便带血：今天就医");
    if (f.Has("尿少")) add("little_urine", Care::kSeeDoctorToday, "小便明显减少（可能脱水）：今天就医");
    if (f.Has("精神萎靡")) add("lethargy", Care::kSeeDoctorToday, "精神明显比平时差：今天就医");
    if (f.Has("四肢厥冷") && fever) add("cold_extremities", Care::kSeeDoctorToday, "发烧时手脚冰凉：今天就医");
    if (f.Has("肺部湿啰音") || f.Has("肺部阴影"))
        add("lung_findings", Care::kSeeDoctorToday, "听诊湿啰音或胸片阴影（可能肺炎）：今天就医");
    if (Days(f, "咳嗽") >= 21) add("cough_3_weeks", Care::kSeeDoctorToday, "咳嗽三周及以上：今天就医，排查结核等");
    if (f.Has("体重减轻") && (f.Has("咳嗽") || f.Has("盗汗")))
        add("cough_weight_loss", Care::kSeeDoctorToday, "咳嗽或盗汗伴体重下降：今天就医，排查结核");
    if (age >= 0 && age < 1 && !f.items.empty() &&
        std::any_of(f.items.begin(), f.items.end(), [](const Finding& x) { return x.answer == Answer::kYes; }))
        add("newborn", Care::kSeeDoctorToday, "新生儿（一个月以内）有不适：今天就医");
    std::stable_sort(flags.begin(), flags.end(), [](const Flag& a, const Flag& b) { return a.care > b.care; });
    return flags;
}

Triage Decide(const Findings& findings,
              const std::string& leading_disease_care,
              double leading_probability,
              const std::string& leading_disease) {
    Triage t;
    t.flags = RedFlags(findings);
    if (!t.flags.empty()) {
        t.care = t.flags.front().care;
        t.reason = t.flags.front().reason;
        return t;
    }
    const Care by_disease = CareFromName(leading_disease_care);
    if (leading_probability >= 0.5 && by_disease != Care::kSelfCare) {
        t.care = by_disease;
        t.reason = "最可能是" + leading_disease + "，需要医生诊治";
        return t;
    }
    t.reason = "没有危险信号：可以先居家观察护理，症状加重或出现危险信号时就医";
    return t;
}

}  // namespace citybrain::clinic
