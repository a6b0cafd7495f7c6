// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the clinic's inputs: the first byte picks the parser. A patient's text (extraction and a
// whole screening turn), a consultations file (and a model trained on it, reading the same bytes as a patient's
// words), a vocabulary: any bytes give a clean error or well-formed output.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "clinic/model.hpp"
#include "clinic/screener.hpp"
#include "core/utf8.hpp"

using namespace citybrain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    const auto& vocabulary = clinic::Vocabulary::Default();
    switch (data[0] % 3) {
        case 0: {
            static const clinic::Screener screener(clinic::Model::Default(), vocabulary, clinic::ScreenerOptions{});
            auto session = screener.Start(in, std::nullopt);
            if (!session.ok()) {
                if (session.error().where != "text") __builtin_trap();
                return 0;
            }
            for (const auto& f : session->findings.items)
                if (f.symptom.empty() || f.duration_days < -1) __builtin_trap();
            const clinic::Turn t = screener.Next(*session);
            double total = 0;
            for (const auto& [d, p] : t.ranking) total += p;
            if (!(std::abs(total - 1.0) < 1e-6)) __builtin_trap();
            if (!core::ValidUtf8(clinic::TurnJson(*session, t).dump())) __builtin_trap();
            break;
        }
        case 1: {
            auto cases = clinic::ParseCases(in, "fuzz", vocabulary);
            if (!cases.ok()) {
                if (cases.error().message.empty()) __builtin_trap();
                return 0;
            }
            auto model = clinic::Model::Train(*cases, vocabulary);
            if (model.ok()) {
                clinic::Findings f;
                clinic::Evidence ev = model->Observe(f);
                if (!model->set_text_weight(0.5).ok()) __builtin_trap();
                ev.text = model->TextScores(in);  // the file's own bytes as a patient's words
                for (double x : ev.text)
                    if (!(x <= 0 && std::isfinite(x))) __builtin_trap();
                const auto post = model->Posterior(ev);
                double total = 0;
                for (double p : post) total += p;
                if (!(std::abs(total - 1.0) < 1e-6)) __builtin_trap();
            }
            break;
        }
        default: {
            auto v = clinic::Vocabulary::Parse(in, "fuzz");
            if (!v.ok() && v.error().message.empty()) __builtin_trap();
            if (v.ok()) (void)v->Extract("咳嗽三天，不发烧");
            break;
        }
    }
    return 0;
}
