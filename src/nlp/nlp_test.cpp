// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "nlp/classifier.hpp"
#include "nlp/gazetteer.hpp"
#include "nlp/text.hpp"
#include "nlp/tfidf_svm.hpp"
#include "nlp/urgency.hpp"

namespace citybrain::nlp {
namespace {

const std::string kTeddy = std::string(CB_DATA_DIR) + "/incidents/teddycup2020_c_sample/messages_labeled_train.tsv";

const Normalizer& Norm() {
    static const Normalizer n = Normalizer::Create().value();
    return n;
}

TEST(Normalize, TraditionalFullWidthAndWhitespace) {
    EXPECT_EQ(Norm().Normalize("  道路積水很深　ＡＢＣ１２３\n\n請處理  ").value(), "道路积水很深 ABC123 请处理");
    EXPECT_EQ(Norm().Normalize("").error().ToString(), "text: is empty");
    EXPECT_EQ(Norm().Normalize(" \n\t ").error().ToString(), "text: is empty");
    EXPECT_EQ(Norm().Normalize("\xC3\x28", "detail").error().ToString(), "detail: is not valid UTF-8");
    std::string long_text;
    for (int i = 0; i < 4001; ++i) long_text += "水";
    EXPECT_EQ(Norm().Normalize(long_text).error().ToString(), "text: has 4001 characters; at most 4000");
    EXPECT_TRUE(Norm().Normalize(long_text.substr(3)).ok());
}

TEST(Featurize, CharactersTitleTwiceNoUrls) {
    EXPECT_EQ(Featurize("积水", "路口 https://baidu.com/x 有3米深 Road"), "积 水 t:积 t:水 路 口 有 0 米 深 road");
}

std::string WriteTsv(const std::string& body) {
    const auto path =
        (std::filesystem::temp_directory_path() / ("cb_nlp_test_" + std::to_string(::getpid()) + ".tsv")).string();
    std::ofstream(path) << body;
    return path;
}

TEST(Tsv, BadFilesNameRowOrColumn) {
    auto p = WriteTsv("msg_id\ttitle\tdetail\n1\ta\tb\n");
    EXPECT_EQ(ReadMessagesTsv(p, Norm()).error().ToString(), p + ":1: missing column 'label_l1'");
    p = WriteTsv("label_l1\ttitle\tdetail\n交通运输\t路灯坏了\t晚上很黑\n交通运输\t缺一列\n");
    EXPECT_EQ(ReadMessagesTsv(p, Norm()).error().ToString(), p + ":3: expected 3 fields, got 2");
    p = WriteTsv("label_l1\ttitle\tdetail\n交通运输\t\t晚上很黑\n");
    EXPECT_EQ(ReadMessagesTsv(p, Norm()).error().ToString(), p + ":2: title: is empty");
    p = WriteTsv("label_l1\ttitle\tdetail\n");
    EXPECT_EQ(ReadMessagesTsv(p, Norm()).error().ToString(), p + ": no messages after the header");
    p = WriteTsv("label_l1\ttitle\tdetail\n交通 运输\t路灯\t黑\n");
    EXPECT_NE(ReadMessagesTsv(p, Norm()).error().ToString().find("label_l1: must be one word"), std::string::npos);
    std::filesystem::remove(p);
    EXPECT_EQ(ReadMessagesTsv(p, Norm()).error().message, "cannot open file");
}

// Issue 16, item 4: the full labelled set's one word-segmented column is read as the raw text it came from.
TEST(Tsv, SegmentedColumnIsReadAsRawCharacters) {
    auto p = WriteTsv("row\tlabel_l1\ttext_segmented\n0\t城乡建设\t市 西湖 建筑 集团 占 道 施工\n");
    auto m = ReadMessagesTsv(p, Norm());
    ASSERT_TRUE(m.ok()) << m.error().ToString();
    ASSERT_EQ(m->size(), 1u);
    EXPECT_EQ((*m)[0].label, "城乡建设");
    EXPECT_EQ((*m)[0].title, "");
    EXPECT_EQ((*m)[0].detail, "市西湖建筑集团占道施工");
    p = WriteTsv("row\tlabel_l1\ttext_segmented\n0\t城乡建设\t \n");
    EXPECT_EQ(ReadMessagesTsv(p, Norm()).error().ToString(), p + ":2: text_segmented: empty");
    p = WriteTsv("row\tlabel_l1\ttext\n0\t城乡建设\tx\n");
    EXPECT_EQ(ReadMessagesTsv(p, Norm()).error().ToString(), p + ":1: missing column 'title' (or 'text_segmented')");
    std::filesystem::remove(p);
}

// Issue 16, item 4: a training set that holds the evaluation messages (here with stop words removed, as the full
// labelled set has them) is cleaned of them before training, and nothing else goes.
TEST(Tsv, NearDuplicatesOfHeldMessagesAreLeftOut) {
    const std::vector<Message> held = {
        {"城乡建设", "占道施工存在安全隐患", "西湖建筑集团在大道西行道上占道施工，上下班期间非常危险"}};
    std::vector<Message> data = {
        {"城乡建设", "", "西湖建筑集团大道西行道占道施工上下班期间危险"},  // the held message, stop words removed
        {"交通运输", "", "公交车晚上十点以后就停运了希望延长运营时间"},
        {"城乡建设", "", "小区电梯经常坏物业不管希望尽快维修"},
    };
    size_t removed = 0;
    const auto kept = ExcludeNearDuplicates(data, held, 0.5, &removed);
    EXPECT_EQ(removed, 1u);
    ASSERT_EQ(kept.size(), 2u);
    EXPECT_EQ(kept[0].label, "交通运输");
    EXPECT_EQ(ExcludeNearDuplicates(data, {}, 0.5, &removed).size(), 3u);
    EXPECT_EQ(removed, 0u);
}

TEST(Evaluate, AccuracyMacroF1Confusion) {
    const auto e = Evaluate({"a", "a", "b", "b"}, {"a", "b", "b", "b"});
    EXPECT_DOUBLE_EQ(e.accuracy, 0.75);
    // a: p=1 r=0.5 f1=2/3; b: p=2/3 r=1 f1=0.8.
    EXPECT_NEAR(e.macro_f1, (2.0 / 3 + 0.8) / 2, 1e-12);
    EXPECT_EQ(e.confusion[0][1], 1u);
}

TEST(Classifier, LearnsASmallSeparableSetAndSavesIt) {
    std::vector<Message> data;
    for (int i = 0; i < 20; ++i) {
        data.push_back({"交通运输", "公交车站牌损坏" + std::to_string(i), "公交线路站台"});
        data.push_back({"卫生计生", "医院挂号难" + std::to_string(i), "医生看病医院"});
    }
    TrainOptions opt;
    opt.epochs = 20;
    auto model = TextClassifier::Train(data, opt);
    ASSERT_TRUE(model.ok()) << model.error().ToString();
    auto p = model->Predict("公交站台坏了", "", 2);
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0].label, "交通运输");
    EXPECT_GT(p[0].confidence, p[1].confidence);
    EXPECT_EQ(model->Predict("医院看病", "", 1).at(0).label, "卫生计生");
    const auto path = (std::filesystem::temp_directory_path() / "cb_nlp_model.ftz").string();
    ASSERT_TRUE(model->Save(path).ok());
    auto loaded = TextClassifier::Load(path);
    ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
    EXPECT_EQ(loaded->Predict("公交站台坏了", "", 1).at(0).label, "交通运输");
    EXPECT_LT(std::filesystem::file_size(path), 5u << 20);
    std::filesystem::remove(path);
    EXPECT_FALSE(TextClassifier::Load(path).ok());
}

void ExpectSamePredictions(const TextClassifier& model, const std::vector<Message>& messages) {
    for (const auto& m : messages) {
        const auto fast = model.Predict(m.title, m.detail, 3);
        const auto ref = model.PredictReference(m.title, m.detail, 3);
        ASSERT_EQ(fast.size(), ref.size()) << m.title;
        for (size_t i = 0; i < fast.size(); ++i) {
            EXPECT_EQ(fast[i].label, ref[i].label) << m.title;
            EXPECT_NEAR(fast[i].confidence, ref[i].confidence, 1e-6) << m.title;
        }
    }
}

TEST(Classifier, FastPathEqualsFastTextsOwnLineReader) {
    std::vector<Message> data;
    for (int i = 0; i < 20; ++i) {
        data.push_back({"交通运输", "公交车站牌损坏" + std::to_string(i), "公交线路站台 bus stop"});
        data.push_back({"卫生计生", "医院挂号难" + std::to_string(i), "医生看病医院"});
        data.push_back({"环境保护", "工地噪音", "夜间施工噪音扰民，粉尘很大"});
    }
    TrainOptions opt;
    opt.epochs = 10;
    auto model = TextClassifier::Train(data, opt);
    ASSERT_TRUE(model.ok());
    std::vector<Message> probes = data;
    // Words the model never saw (their hashes still make n-grams), an empty detail, Latin words and digits.
    probes.push_back({"", "鳄鱼在龘龘路口出没", ""});
    probes.push_back({"", "Road 42 flooded", "积水 3米 深 http://x.cn/a"});
    probes.push_back({"", "公交", ""});
    ExpectSamePredictions(*model, probes);
    if (std::filesystem::exists(kTeddy)) {
        auto teddy = ReadMessagesTsv(kTeddy, Norm());
        ASSERT_TRUE(teddy.ok());
        auto big = TextClassifier::Train(*teddy, opt);
        ASSERT_TRUE(big.ok());
        ExpectSamePredictions(*big, *teddy);
        ExpectSamePredictions(*big, probes);
    }
}

TEST(Classifier, TeddyCupCrossValidationBeatsBaselines) {
    if (!std::filesystem::exists(kTeddy)) GTEST_SKIP() << kTeddy << " is missing";
    auto data = ReadMessagesTsv(kTeddy, Norm());
    ASSERT_TRUE(data.ok()) << data.error().ToString();
    ASSERT_EQ(data->size(), 395u);
    auto cv = CrossValidate(*data, 5, TrainOptions{}, SvmOptions{});
    ASSERT_TRUE(cv.ok());
    EXPECT_EQ(cv->fasttext.n, 395u);
    EXPECT_EQ(cv->tfidf_svm.n, 395u);
    EXPECT_NEAR(cv->majority.accuracy, 83.0 / 395, 0.02);
    // The learned models beat the majority class by far; the figures themselves are in docs/BENCHMARKS.md.
    EXPECT_GT(cv->naive_bayes.accuracy, cv->majority.accuracy + 0.3);
    EXPECT_GT(cv->fasttext.accuracy, cv->majority.accuracy + 0.3);
    EXPECT_GT(cv->tfidf_svm.accuracy, cv->majority.accuracy + 0.3);
}

// Issue 16, item 4: the TF-IDF linear model learns from a handful of messages, scores in [0, 1] that sum to one,
// gives the same model for the same data, and survives a save and a load; a bad file is refused by name.
TEST(TfidfSvm, LearnsSavesAndLoads) {
    std::vector<Message> data;
    for (const char* t : {"路灯不亮", "路灯坏了", "晚上路灯不亮很黑", "小区路灯坏了没人修"})
        data.push_back({"城乡建设", t, ""});
    for (const char* t : {"公交车停运", "公交车太挤", "公交站台破损", "希望增加公交车班次"})
        data.push_back({"交通运输", t, ""});
    for (const char* t : {"学校收费", "学校食堂太贵", "幼儿园收费太高", "学校补课收费"})
        data.push_back({"教育文体", t, ""});
    for (const bool logistic : {false, true}) {
        SvmOptions o;
        o.logistic = logistic;
        o.min_df = 2;  // twelve messages: the default (5) would leave almost nothing
        auto m = TfidfSvm::Train(data, o);
        ASSERT_TRUE(m.ok()) << m.error().ToString();
        EXPECT_EQ(m->labels().size(), 3u);
        auto p = m->Predict("公交车", "班次太少", 3);
        ASSERT_EQ(p.size(), 3u);
        EXPECT_EQ(p[0].label, "交通运输");
        EXPECT_NEAR(p[0].confidence + p[1].confidence + p[2].confidence, 1.0, 1e-9);
        EXPECT_GE(p[0].confidence, p[1].confidence);
        EXPECT_EQ(m->Predict("路灯", "", 1).at(0).label, "城乡建设");
        auto again = TfidfSvm::Train(data, o);
        ASSERT_TRUE(again.ok());
        EXPECT_DOUBLE_EQ(again->Predict("公交车", "班次太少", 1)[0].confidence, p[0].confidence);
        const auto path =
            (std::filesystem::temp_directory_path() / ("cb_svm_" + std::to_string(::getpid()) + ".bin")).string();
        ASSERT_TRUE(m->Save(path).ok());
        EXPECT_TRUE(TfidfSvm::IsModelFile(path));
        auto loaded = TfidfSvm::Load(path);
        ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
        EXPECT_EQ(loaded->features(), m->features());
        EXPECT_DOUBLE_EQ(loaded->Predict("公交车", "班次太少", 1)[0].confidence, p[0].confidence);
        std::filesystem::resize_file(path, 40);
        EXPECT_NE(TfidfSvm::Load(path).error().ToString().find("truncated or corrupt"), std::string::npos);
        std::ofstream(path) << "not a model";
        EXPECT_NE(TfidfSvm::Load(path).error().ToString().find("not a TF-IDF model"), std::string::npos);
        std::filesystem::remove(path);
    }
    EXPECT_FALSE(TfidfSvm::Train({}, {}).ok());
    // Nothing in five messages: refused by name, not a model of nothing.
    EXPECT_NE(TfidfSvm::Train(data, {}).error().ToString().find("too little text"), std::string::npos);
}

TEST(Urgency, DangerWordsAndVulnerablePeople) {
    EXPECT_EQ(AssessUrgency("小区路灯不亮").priority, 3);
    auto u = AssessUrgency("路口积水很深，车辆熄火");
    EXPECT_EQ(u.priority, 1);
    EXPECT_EQ(u.cues, std::vector<std::string>{"积水很深"});
    EXPECT_EQ(AssessUrgency("积水不深，只是有点脏").priority, 3);
    EXPECT_EQ(AssessUrgency("工地围墙倒塌").priority, 1);
    EXPECT_EQ(AssessUrgency("电线掉在地上，有人触电").priority, 1);
    EXPECT_EQ(AssessUrgency("学校门口有流动摊贩", 3).priority, 2);
    EXPECT_EQ(AssessUrgency("老人和小孩经常经过", 4).priority, 3);
    EXPECT_EQ(AssessUrgency("楼道起火冒烟", 4).priority, 1);
}

// Issue 14: a point gets the name a person would give it, never an internal id.
TEST(Gazetteer, NearestNamesAPoint) {
    Gazetteer g;
    for (int x = 0; x <= 400; x += 20) g.AddStreetPoint("深南大道", {double(x), 0});
    for (int y = -200; y <= 200; y += 20) g.AddStreetPoint("金田路", {200, double(y)});
    g.AddJunction("深南大道", "金田路", {200, 0});
    g.AddLandmark("福田医院", {0, 150});
    EXPECT_EQ(g.Nearest({210, 15})->name, "深南大道与金田路交叉口");
    EXPECT_TRUE(g.Nearest({210, 15})->junction);
    EXPECT_EQ(g.Nearest({10, 140})->name, "福田医院附近");
    EXPECT_EQ(g.Nearest({330, 30})->name, "深南大道");
    EXPECT_FALSE(g.Nearest({1000, 1000}).has_value());
}

TEST(Gazetteer, JunctionsStreetsAndLongestNames) {
    Gazetteer g;
    g.AddStreetPoint("深南大道", {0, 0});
    g.AddStreetPoint("深南大道", {100, 0});
    g.AddStreetPoint("福华路", {0, 50});
    g.AddStreetPoint("福华一路", {0, 80});
    g.AddStreetPoint("金田路", {40, 0});
    g.AddStreetPoint("?", {1, 1});
    g.AddJunction("金田路", "深南大道", {40, 0});
    EXPECT_EQ(g.streets(), 4u);
    auto p = g.Locate("深南大道与金田路交叉口的井盖丢了");
    ASSERT_TRUE(p.has_value());
    EXPECT_TRUE(p->junction);
    EXPECT_EQ(p->name, "深南大道与金田路交叉口");
    EXPECT_DOUBLE_EQ(p->where.x, 40);
    p = g.Locate("深南大道上有积水");
    ASSERT_TRUE(p.has_value());
    EXPECT_FALSE(p->junction);
    EXPECT_DOUBLE_EQ(p->where.x, 50);  // the street's middle
    p = g.Locate("福华一路路灯不亮");
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->name, "福华一路") << "the longer name wins";
    EXPECT_FALSE(g.Locate("K市K5县某小区").has_value());
    // 福华路 passes 30 m from 金田路's point without a shared node: joined within 60 m.
    g.AddStreetPoint("金田路", {30, 50});
    EXPECT_FALSE(g.Locate("福华路和金田路路口").value().junction);
    g.JoinNearbyStreets(60);
    p = g.Locate("福华路和金田路路口");
    ASSERT_TRUE(p.has_value());
    EXPECT_TRUE(p->junction);
    EXPECT_DOUBLE_EQ(p->where.x, 15);
    // Landmarks: more precise than one street, less than a junction; the longest name wins.
    g.AddLandmark("福华小学", {7, 70});
    g.AddLandmark("福华小学东门", {9, 72});
    p = g.Locate("福华小学东门有人卖烧烤");
    ASSERT_TRUE(p.has_value());
    EXPECT_TRUE(p->landmark);
    EXPECT_EQ(p->name, "福华小学东门");
    p = g.Locate("福华路福华小学门口");
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->name, "福华小学");
    EXPECT_DOUBLE_EQ(p->where.x, 7);
    p = g.Locate("深南大道与金田路交叉口，福华小学附近");
    ASSERT_TRUE(p.has_value());
    EXPECT_TRUE(p->junction);
}

TEST(Reply, CaseNumberDepartmentAndLocalDeadline) {
    // 2026-11-22T02:00:00Z is 10:00 in Shenzhen.
    const int64_t deadline = 1795312800000;
    EXPECT_EQ(AcknowledgementReply("CB-42", "城市管理局", deadline),
              "您好！您反映的问题已受理，案件编号CB-42，已转交城市管理局办理，将于2026年11月22日10:00前处理并答复。"
              "感谢您对城市管理的支持！");
}

}  // namespace
}  // namespace citybrain::nlp
