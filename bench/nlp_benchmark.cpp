// SPDX-License-Identifier: Apache-2.0
// Citizen-message classification: features plus fastText prediction, one core. The TeddyCup case reads
// ../shared/data and is skipped (with the reason) when it is absent.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "nlp/classifier.hpp"
#include "nlp/text.hpp"

namespace citybrain::nlp {
namespace {

std::vector<Message> Synthetic() {
    std::vector<Message> out;
    const char* texts[][2] = {{"roads", "路面破损有坑洼，电动车容易摔倒"},
                              {"water", "路口积水很深，车辆无法通行"},
                              {"noise", "夜间施工噪音扰民，吵得睡不着"},
                              {"litter", "垃圾堆了好几天没人清理"}};
    for (int i = 0; i < 40; ++i) {
        const auto& t = texts[i % 4];
        out.push_back({t[0], std::string("第") + std::to_string(i) + "号 " + t[1], t[1]});
    }
    return out;
}

void Classify(benchmark::State& state, const std::vector<Message>& data, int epochs) {
    TrainOptions options;
    options.epochs = epochs;
    auto model = TextClassifier::Train(data, options);
    if (!model.ok()) {
        state.SkipWithError(model.error().ToString().c_str());
        return;
    }
    size_t i = 0;
    for (auto _ : state) {
        const Message& m = data[i++ % data.size()];
        benchmark::DoNotOptimize(model->Predict(m.title, m.detail, 1));
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_ClassifySmoke(benchmark::State& state) { Classify(state, Synthetic(), 5); }
BENCHMARK(BM_ClassifySmoke);

void BM_ClassifyTeddyCup(benchmark::State& state) {
    const std::string path = std::string(CB_DATA_DIR) + "/incidents/teddycup2020_c_sample/messages_labeled_train.tsv";
    if (!std::filesystem::exists(path)) {
        state.SkipWithError(("missing " + path).c_str());
        return;
    }
    auto norm = Normalizer::Create();
    if (!norm.ok()) {
        state.SkipWithError(norm.error().ToString().c_str());
        return;
    }
    auto data = ReadMessagesTsv(path, *norm);
    if (!data.ok()) {
        state.SkipWithError(data.error().ToString().c_str());
        return;
    }
    Classify(state, *data, TrainOptions{}.epochs);
}
BENCHMARK(BM_ClassifyTeddyCup)->Unit(benchmark::kMicrosecond);

void BM_FeaturizeTeddyCupLike(benchmark::State& state) {
    const std::string title = "关于K市某小区周边夜间施工噪音扰民的投诉";
    const std::string detail(
        std::string("尊敬的领导：您好！我是某小区的业主，最近两个月以来，小区旁边的工地每天晚上施工到凌晨，"
                    "噪音非常大，严重影响了居民的休息，老人和小孩都睡不好觉。") +
        "希望相关部门尽快处理，谢谢！");
    for (auto _ : state) benchmark::DoNotOptimize(Featurize(title, detail));
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_FeaturizeTeddyCupLike);

}  // namespace
}  // namespace citybrain::nlp

BENCHMARK_MAIN();
