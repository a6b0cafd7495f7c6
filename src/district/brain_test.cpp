// SPDX-License-Identifier: Apache-2.0
#include "district/brain.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "incident/store.hpp"
#include "nlp/tfidf_svm.hpp"
#include "traffic/run.hpp"

namespace citybrain::district {
namespace {

std::string TempDb(const std::string& tag) {
    return (std::filesystem::temp_directory_path() / ("cb_brain_" + std::to_string(::getpid()) + "_" + tag + ".db"))
        .string();
}

/// Runs the Brain on the generated district to the end and returns its results; `inspect` sees the Brain at the
/// end, before its store is removed.
nlohmann::json RunBrain(uint64_t seed,
                        double hours,
                        int threads,
                        const std::string& tag,
                        DistrictSpec spec = {},
                        const std::function<void(const Brain&)>& inspect = {},
                        const traffic::SignalRules& rules = {}) {
    spec.demand.duration_s = 3600 * hours;
    spec.demand.peak_at_s = spec.demand.duration_s / 2;
    auto d = MakeDistrict(spec, seed);
    EXPECT_TRUE(d.ok()) << d.error().ToString();
    d->signal_rules = rules;
    BrainOptions o;
    o.seed = seed;
    o.sim_hours = hours;
    o.threads = threads;
    o.db_path = TempDb(tag);
    auto brain = Brain::Create(*d, o);
    EXPECT_TRUE(brain.ok()) << brain.error().ToString();
    while (!(*brain)->Finished()) {
        const Status s = (*brain)->Step();
        EXPECT_TRUE(s.ok()) << s.error().ToString();
        if (!s.ok()) break;
    }
    if (inspect) inspect(**brain);
    auto results = (*brain)->Results();
    brain->reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(o.db_path + suffix);
    return results;
}

TEST(Brain, DefaultDistrictFilesDispatchesAndClosesCases) {
    const auto r = RunBrain(3, 1.0, 1, "full");
    EXPECT_EQ(r["intake_errors"], 0);
    EXPECT_GT(r["vendors_appeared"].get<int>(), 3);
    // Vendors seen by cameras and the rain at low points both become cases; several cameras see one vendor.
    ASSERT_TRUE(r["cases"].contains("street_vending")) << r.dump();
    ASSERT_TRUE(r["cases"].contains("waterlogging")) << r.dump();
    EXPECT_GT(r["duplicates_merged"].get<int>(), 0);
    // Units reach cases and cases close after a unit handled them and a camera or inspector looked again.
    EXPECT_GT(r["reached"].get<int>(), 5);
    EXPECT_GT(r["cases_closed"].get<int>(), 3);
    EXPECT_GT(r["p50_response_s"].get<double>(), 0);
    EXPECT_GE(r["p95_response_s"].get<double>(), r["p50_response_s"].get<double>());
    EXPECT_GT(r["notices_played"].get<int>(), 0);
    // Citizen messages: located by the street gazetteer and classified by keywords on intake.
    const int messages = r["messages"];
    EXPECT_GT(messages, 5);
    EXPECT_GT(r["messages_located"].get<int>(), 0);
    EXPECT_GT(r["classified_on_intake"].get<int>(), 0);
    // Keywords are a blunt instrument ("一棵树倒伏压在人行道上" names 人行道, a road-damage keyword): most, not all.
    EXPECT_GE(r["classified_correct"].get<double>(), 0.75 * r["classified_on_intake"].get<double>());
    std::cout << r.dump() << "\n";
    const double met = r["deadline_met_ratio"];
    EXPECT_GT(met, 0.0);
    EXPECT_LE(met, 1.0);
    EXPECT_GT(r["unit_utilisation"].get<double>(), 0.0);
    EXPECT_GT(r["att_adaptive_s"].get<double>(), 0.0);
}

// Issue 14: Longgang's landmarks belong to the generated Longgang district, never to another city's map.
TEST(District, LandmarksOnlyOnTheGeneratedDistrict) {
    auto d = MakeDistrict({}, 1);
    ASSERT_TRUE(d.ok());
    EXPECT_FALSE(d->landmarks.empty());
    District loaded;
    loaded.net = d->net;  // as if read with --roadnet
    ASSERT_TRUE(EquipDistrict(loaded, 1).ok());
    EXPECT_TRUE(loaded.landmarks.empty());
    EXPECT_FALSE(loaded.units.empty());
}

// Issue 14: a loaded map gets its own landmarks from a file; citizens' messages naming one are placed there, and
// the console draws them. A bad file is refused by entry and field.
TEST(District, LandmarksFileGivesALoadedMapItsOwnPlaces) {
    auto generated = MakeDistrict({}, 1);
    ASSERT_TRUE(generated.ok());
    District d;
    d.net = generated->net;  // as if read with --roadnet
    ASSERT_TRUE(EquipDistrict(d, 1).ok());
    const core::Point corner = d.net.intersections.front().point;
    const auto [lat, lon] = d.frame.ToWgs84({corner.x + 40, corner.y});
    const std::string path = TempDb("marks") + ".json";
    const auto write = [&](const std::string& text) { std::ofstream(path) << text; };
    write(R"({"landmarks":[{"name":"会展中心","x":)" + std::to_string(corner.x) + R"(,"y":)" +
          std::to_string(corner.y) + R"(},{"name":"莲花山公园","lat":)" + std::to_string(lat) + R"(,"long":)" +
          std::to_string(lon) + "}]}");
    ASSERT_TRUE(LoadLandmarks(path, d).ok());
    ASSERT_EQ(d.landmarks.size(), 2u);
    EXPECT_EQ(d.landmarks[0].name, "会展中心");
    EXPECT_NEAR(d.landmarks[1].at.x, corner.x + 40, 0.5);
    EXPECT_NEAR(d.landmarks[1].at.y, corner.y, 0.5);

    BrainOptions o;
    o.sim_hours = 0.05;
    o.db_path = TempDb("marks");
    {
        auto brain = Brain::Create(d, o);
        ASSERT_TRUE(brain.ok()) << brain.error().ToString();
        EXPECT_NE((*brain)->NetworkJson().find("莲花山公园"), std::string::npos);
        incident::Report r;
        r.description = "莲花山公园门口有流动商贩占道摆摊";
        r.time_ms = (*brain)->ClockMs();
        auto receipt = (*brain)->engine().Ingest({r}, (*brain)->ClockMs());
        ASSERT_TRUE(receipt[0].ok()) << receipt[0].error().ToString();
        auto c = (*brain)->engine().GetCase(receipt[0]->case_id);
        ASSERT_TRUE(c.ok() && c->has_value());
        ASSERT_TRUE((*c)->lat.has_value());
        const core::Point at = d.frame.ToLocal(*(*c)->lat, *(*c)->lon);
        EXPECT_LT(std::hypot(at.x - corner.x - 40, at.y - corner.y), 30) << (*c)->address;
    }
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(o.db_path + suffix);

    const auto refused = [&](const std::string& text) {
        write(text);
        District copy = d;
        const Status s = LoadLandmarks(path, copy);
        EXPECT_EQ(copy.landmarks.size(), 2u);  // a refused file changes nothing
        return s.ok() ? std::string("accepted") : s.error().ToString();
    };
    EXPECT_NE(refused("{").find("not valid JSON"), std::string::npos);
    EXPECT_NE(refused(R"({"landmarks":[{"x":1,"y":2}]})").find("landmarks[0].name"), std::string::npos);
    EXPECT_NE(refused(R"({"landmarks":[{"name":"a","x":1}]})").find("x and y"), std::string::npos);
    EXPECT_NE(refused(R"({"landmarks":[{"name":"远方","x":90000,"y":0}]})").find("outside the network"),
              std::string::npos);
    EXPECT_NE(refused(R"({"marks":[]})").find("landmarks: required"), std::string::npos);
    std::filesystem::remove(path);
}

// Issue 14: every case says where it is as a person would (a junction, a landmark, a street), never by an id.
TEST(Brain, CasesCarryPlaceNames) {
    nlohmann::json frame;
    RunBrain(5, 0.5, 1, "places", {}, [&](const Brain& brain) { frame = brain.Frame(false); });
    int devices = 0, junctions = 0;
    for (const auto& c : frame["cases"]) {
        ASSERT_TRUE(c["place"].is_string()) << c.dump();
        const std::string place = c["place"];
        EXPECT_EQ(place.find("intersection_"), std::string::npos) << place;
        EXPECT_FALSE(c["department_name"].get<std::string>().empty());
        junctions += place.find("交叉口") != std::string::npos ? 1 : 0;
        if (c["source"] == "camera" || c["source"] == "sensor") {
            ++devices;
            // A kerb between junctions is named by its street or a landmark beside it, not by the district.
            EXPECT_NE(place, "龙岗区") << c.dump();
        }
    }
    EXPECT_GT(devices, 0);
    EXPECT_GT(junctions, 0);
}

TEST(Brain, TrafficNearAPlaceComesFromTheSimulatorsSpeeds) {
    nlohmann::json near, far;
    RunBrain(5, 0.5, 1, "traffic", {}, [&](const Brain& brain) {
        const auto place = brain.gazetteer().Locate("龙城大道");
        ASSERT_TRUE(place.has_value());
        near = brain.TrafficNear(place->where, 300);
        far = brain.TrafficNear({1e7, 1e7}, 300);
    });
    ASSERT_TRUE(near["available"].get<bool>()) << near.dump();
    ASSERT_FALSE(near["roads"].empty()) << near.dump();
    bool named = false;
    for (const auto& r : near["roads"]) {
        named = named || r["name"] == "龙城大道";
        EXPECT_GT(r["limit_kmh"].get<double>(), 0);
        EXPECT_LE(r["speed_kmh"].get<double>(), r["limit_kmh"].get<double>());
        EXPECT_TRUE(r["level"] == "free" || r["level"] == "slow" || r["level"] == "jammed");
    }
    EXPECT_TRUE(named) << near.dump();
    EXPECT_TRUE(far["roads"].empty());
}

TEST(Brain, TooFewUnitsMissDeadlines) {
    // One crew against many vendors: cases wait past the 30 minutes allowed for dispatch, and the measure says so.
    DistrictSpec spec;
    spec.scenario.robot_dogs = 0;
    spec.scenario.sanitation_robots = 0;
    spec.scenario.crews = 1;
    spec.scenario.vendors_per_hour = 40;
    const auto r = RunBrain(3, 2.0, 1, "scarce", spec);
    EXPECT_LT(r["deadline_met_ratio"].get<double>(), 0.9) << r.dump();
    EXPECT_GT(r["open_cases"].get<int>(), 3);
    EXPECT_GT(r["unit_utilisation"].get<double>(), 0.5);
}

TEST(Brain, SameSeedSameRunWhateverTheThreads) {
    const auto a = RunBrain(5, 0.5, 1, "t1");
    const auto b = RunBrain(5, 0.5, 2, "t2");
    EXPECT_EQ(a.dump(), b.dump());
    const auto c = RunBrain(6, 0.5, 1, "t3");
    EXPECT_NE(a.dump(), c.dump());
}

// `citybrain traffic run`'s ATT on RunBrain's district of seed 4 for half an hour, under `rules`.
double BatchAtt(const traffic::SignalRules& rules) {
    DistrictSpec spec;
    spec.demand.duration_s = 1800;
    spec.demand.peak_at_s = 900;
    auto d = MakeDistrict(spec, 4);
    EXPECT_TRUE(d.ok());
    traffic::RunOptions run;
    run.controller = "auto";  // the brain's default adaptive controller
    run.sim.seed = 4;
    run.steps = 1800;
    rules.ApplyTo(run);
    auto batch = traffic::RunScenario(d->net, d->demand, run);
    EXPECT_TRUE(batch.ok());
    return batch.ok() ? batch->metrics.att_s : -1;
}

TEST(Brain, LiveTrafficIsTheBatchRun) {
    // The loop steps the same controller and simulator as `citybrain traffic run`: the same ATT.
    const auto live = RunBrain(4, 0.5, 1, "live");
    EXPECT_DOUBLE_EQ(live["att_adaptive_s"].get<double>(), BatchAtt({}));
}

// A network whose format has its own signal timing (CBEngine: all-red, 10 s decisions) keeps it in the loop, as in
// `citybrain traffic run`.
TEST(Brain, LiveTrafficKeepsTheNetworksSignalRules) {
    const traffic::SignalRules rules = traffic::SignalRules::Cbengine();
    const auto live = RunBrain(4, 0.5, 1, "rules", {}, {}, rules);
    EXPECT_DOUBLE_EQ(live["att_adaptive_s"].get<double>(), BatchAtt(rules));
    const auto plain = RunBrain(4, 0.5, 1, "plain");
    EXPECT_NE(live["att_adaptive_s"].get<double>(), plain["att_adaptive_s"].get<double>());
}

TEST(Brain, BadOptionsAreRefusedByName) {
    auto d = MakeDistrict(DistrictSpec{}, 1);
    ASSERT_TRUE(d.ok());
    BrainOptions o;
    o.sim_hours = 0;
    o.db_path = TempDb("bad");
    auto b = Brain::Create(*d, o);
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.error().ToString().find("--sim-hours"), std::string::npos);
    o.sim_hours = 1;
    o.adaptive = "nosuch";
    b = Brain::Create(*d, o);
    ASSERT_FALSE(b.ok());
    o.adaptive = "maxpressure";
    o.db_path = "/nonexistent-dir/x.db";
    b = Brain::Create(*d, o);
    ASSERT_FALSE(b.ok());
}

// Issue 16: a model trained on a message board's domains routes a message no keyword names, through the taxonomy's
// domains; an unsure model leaves the message to the keywords and then the human queue.
std::shared_ptr<const nlp::MessageModel> DomainModel(const std::string& tag, const std::vector<nlp::Message>& data) {
    nlp::SvmOptions svm;
    svm.min_df = 1;
    auto trained = nlp::TfidfSvm::Train(data, svm);
    EXPECT_TRUE(trained.ok()) << trained.error().ToString();
    const std::string path = TempDb(tag) + ".model";
    EXPECT_TRUE(trained->Save(path).ok());
    auto model = nlp::MessageModel::Load(path);
    std::filesystem::remove(path);
    EXPECT_TRUE(model.ok()) << model.error().ToString();
    return std::make_shared<const nlp::MessageModel>(std::move(model).value());
}

TEST(Intake, AModelsDomainRoutesThroughTheTaxonomy) {
    const std::vector<nlp::Message> data = {{"劳动和社会保障", "公司三个月没发工资", ""},
                                            {"劳动和社会保障", "老板一直不发工资", ""},
                                            {"劳动和社会保障", "单位没给我们交五险一金", ""},
                                            {"劳动和社会保障", "退休金迟迟没有发放", ""},
                                            {"交通运输", "公交站台的线路太少了", ""},
                                            {"交通运输", "长途汽车不按时发车", ""},
                                            {"交通运输", "这条线路的车半小时才来一趟", ""},
                                            {"交通运输", "司机开车太快乘客害怕", ""}};
    auto model = DomainModel("intake", data);
    const incident::Taxonomy& taxonomy = incident::Taxonomy::Default();
    ASSERT_TRUE(CheckClassifier(*model, taxonomy).ok());

    incident::EngineOptions options;
    UseClassifier(options, model, taxonomy, 0.5, IntakeOrder::kKeywordsFirst);
    auto store = incident::OpenSqliteStore(TempDb("intake"), false);
    ASSERT_TRUE(store.ok());
    auto engine = incident::IncidentEngine::Open(std::move(store).value(), taxonomy, options);
    ASSERT_TRUE(engine.ok()) << engine.error().ToString();
    auto report = [](const std::string& text) {
        incident::Report r;
        r.source = incident::Source::kCitizen;
        r.description = text;
        r.address = "龙岗大道 1 号";
        return r;
    };
    auto receipts = (*engine)->Ingest({report("我们公司已经三个月没发工资了"), report("公交车半小时才来一趟")}, 1000);
    ASSERT_TRUE(receipts[0].ok()) << receipts[0].error().ToString();
    EXPECT_TRUE(receipts[0]->classified);
    EXPECT_EQ(receipts[0]->category, "labour_social_security");  // no keyword of the taxonomy occurs in it
    EXPECT_EQ(receipts[0]->department, "RSJ");
    ASSERT_TRUE(receipts[1].ok());
    EXPECT_EQ(receipts[1]->category, "transport_matter");
    // The operator's ranking comes from the same model: both domains, the likelier first.
    const auto guesses = (*engine)->Guesses("我们公司已经三个月没发工资了", 2);
    ASSERT_EQ(guesses.size(), 2u);
    EXPECT_EQ(guesses[0].category, "labour_social_security");
    EXPECT_EQ(guesses[1].category, "transport_matter");
    EXPECT_GT(guesses[0].confidence, guesses[1].confidence);

    // Unsure (no confidence reaches 1): the keywords decide, and with none the message waits for an operator.
    EXPECT_TRUE(RouteByModel(*model, taxonomy, "我们公司已经三个月没发工资了", 1, 1.0).empty());
    incident::EngineOptions unsure;
    UseClassifier(unsure, model, taxonomy, 1.0, IntakeOrder::kKeywordsFirst);
    auto store2 = incident::OpenSqliteStore(TempDb("intake2"), false);
    ASSERT_TRUE(store2.ok());
    auto engine2 = incident::IncidentEngine::Open(std::move(store2).value(), taxonomy, unsure);
    ASSERT_TRUE(engine2.ok());
    receipts = (*engine2)->Ingest({report("我们公司已经三个月没发工资了"), report("路口井盖丢了")}, 1000);
    ASSERT_TRUE(receipts[0].ok() && receipts[1].ok());
    EXPECT_EQ(receipts[0]->category, taxonomy.Fallback().code);
    EXPECT_EQ(receipts[1]->category, "missing_manhole");
    std::filesystem::remove(TempDb("intake"));
    std::filesystem::remove(TempDb("intake2"));

    // The order decides between a keyword ("公交车": transport) and the model's domain (wages: labour).
    const std::string both = "老板三个月没发工资，公交车都坐不起了";
    const Routing k = RouteMessage(model.get(), taxonomy, both, 0.5, IntakeOrder::kKeywordsFirst);
    EXPECT_EQ(k.by, "keywords");
    EXPECT_EQ(k.category->code, "transport_matter");
    const Routing m = RouteMessage(model.get(), taxonomy, both, 0.5, IntakeOrder::kModelFirst);
    EXPECT_EQ(m.by, "model");
    EXPECT_EQ(m.category->code, "labour_social_security");
    const Routing none = RouteMessage(nullptr, taxonomy, "我们公司已经三个月没发工资了", 0.5, IntakeOrder::kModelFirst);
    EXPECT_EQ(none.by, "human_queue");
    EXPECT_EQ(none.category, &taxonomy.Fallback());
}

TEST(Intake, AModelForAnotherTableIsRefused) {
    auto model = DomainModel(
        "foreign",
        {{"路政", "路面坑洼", ""}, {"路政", "道路破了", ""}, {"园林", "树倒了", ""}, {"园林", "草坪枯了", ""}});
    const Status s = CheckClassifier(*model, incident::Taxonomy::Default());
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("'园林' is not one of the taxonomy's domains"), std::string::npos)
        << s.error().message;
}

}  // namespace
}  // namespace citybrain::district
