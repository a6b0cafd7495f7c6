// SPDX-License-Identifier: Apache-2.0
// One screening turn: the patient's text to findings, the posterior, the triage and the next question (the target is
// ≤ 1 ms a turn), on the embedded knowledge base and on a model trained from DXY when ../shared/data is here.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "clinic/model.hpp"
#include "clinic/screener.hpp"

namespace {

using namespace citybrain::clinic;

constexpr const char* kText = "孩子两岁，咳嗽三天了，晚上更厉害，有点发烧，流鼻涕，不拉肚子，没有咳痰";

void Turn(benchmark::State& state, const Model& model) {
    const Screener s(model, Vocabulary::Default(), ScreenerOptions{});
    for (auto _ : state) {
        auto session = s.Start(kText, std::nullopt);
        auto t = s.Next(*session);
        benchmark::DoNotOptimize(t);
    }
}

void BM_TurnSmoke(benchmark::State& state) { Turn(state, Model::Default()); }
BENCHMARK(BM_TurnSmoke);

void BM_TurnDxyModel(benchmark::State& state) {
    const std::string path = std::string(CB_DATA_DIR) + "/health/dxy/train.json";
    if (!std::filesystem::exists(path)) {
        state.SkipWithError("../shared/data/health/dxy is absent");
        return;
    }
    auto model = Model::Train(ReadCases(path, Vocabulary::Default()).value(), Vocabulary::Default());
    if (!model->set_text_weight(0.1).ok()) return;  // the words are read, as `clinic train` leaves DXY's model
    Turn(state, *model);
}
BENCHMARK(BM_TurnDxyModel);

}  // namespace

BENCHMARK_MAIN();
