// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <set>
#include <thread>

#include "core/file.hpp"
#include "vision/cameras.hpp"
#include "vision/detector.hpp"
#include "vision/feeds.hpp"
#include "vision/rules.hpp"
#include "vision/scene.hpp"
#include "vision/scheduler.hpp"
#include "vision/tracker.hpp"

namespace citybrain::vision {
namespace {

// `make` converts the model before the tests run (scripts/fetch_models.sh); Debian's darknet ships the photos.
const std::string kModel = std::string(CB_SOURCE_DIR) + "/build/models/centernet.onnx";
const std::string kPhotos = "/usr/share/darknet/data/";

TEST(Iou, OverlapOfBoxes) {
    EXPECT_FLOAT_EQ(Iou({0, 0, 10, 10}, {0, 0, 10, 10}), 1.0F);
    EXPECT_FLOAT_EQ(Iou({0, 0, 10, 10}, {5, 0, 15, 10}), 50.0F / 150.0F);
    EXPECT_FLOAT_EQ(Iou({0, 0, 10, 10}, {20, 20, 30, 30}), 0.0F);
}

TEST(DecodeImage, BadFramesAreRefusedByName) {
    std::vector<uint8_t> none;
    EXPECT_EQ(DecodeImage(none, "frame").error().ToString(), "frame: empty image (zero bytes)");
    const std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o'};
    EXPECT_EQ(DecodeImage(text, "frame").error().ToString(), "frame: not a JPEG or PNG image");
    auto jpeg = core::ReadFile(kPhotos + "dog.jpg");
    ASSERT_TRUE(jpeg.ok()) << "Debian's darknet package ships the photos";
    std::vector<uint8_t> bytes(jpeg->begin(), jpeg->end());
    auto whole = DecodeImage(bytes, "frame");
    ASSERT_TRUE(whole.ok()) << whole.error().ToString();
    EXPECT_EQ(whole->cols, 768);
    EXPECT_EQ(whole->rows, 576);
    bytes.resize(bytes.size() / 2);  // cut off in transit
    EXPECT_EQ(DecodeImage(bytes, "frame").error().ToString(), "frame: truncated JPEG (no end-of-image marker)");
    // A JPEG whose header claims more than its body holds, with an end marker glued on.
    bytes.resize(600);
    bytes.push_back(0xFF);
    bytes.push_back(0xD9);
    auto broken = DecodeImage(bytes, "frame");
    if (broken.ok()) {
        EXPECT_EQ(broken->cols, 768);  // libjpeg may fill the rest; it must not crash
    }
}

DetectorOptions With(const std::string& model, std::vector<std::string> classes = {}) {
    DetectorOptions o;
    o.model = model;
    o.classes = std::move(classes);
    return o;
}

std::set<std::string> ClassesIn(Detector& d, const std::string& photo) {
    auto image = ReadImage(kPhotos + photo);
    EXPECT_TRUE(image.ok()) << image.error().ToString();
    auto dets = d.Detect(*image);
    EXPECT_TRUE(dets.ok()) << dets.error().ToString();
    std::set<std::string> out;
    for (const auto& x : *dets) out.insert(x.label);
    return out;
}

TEST(Detector, FindsTheObjectsOfTheTestPhotos) {
    auto d = Detector::Open(With(kModel));
    ASSERT_TRUE(d.ok()) << d.error().ToString();
    const auto dog = ClassesIn(*d, "dog.jpg");
    EXPECT_TRUE(dog.count("dog") && dog.count("bicycle") && (dog.count("car") || dog.count("truck")));
    const auto person = ClassesIn(*d, "person.jpg");
    EXPECT_TRUE(person.count("person") && person.count("dog") && (person.count("horse") || person.count("sheep")));
    const auto horses = ClassesIn(*d, "horses.jpg");
    EXPECT_EQ(horses, std::set<std::string>{"horse"});
    const auto kite = ClassesIn(*d, "kite.jpg");
    EXPECT_TRUE(kite.count("kite") && kite.count("person"));
    // The dog's box where the photo has it (darknet's own YOLO puts it near [128, 224, 314, 537]).
    auto image = ReadImage(kPhotos + "dog.jpg");
    auto dets = d->Detect(*image);
    ASSERT_TRUE(dets.ok());
    const auto it = std::find_if(dets->begin(), dets->end(), [](const Detection& x) { return x.label == "dog"; });
    ASSERT_NE(it, dets->end());
    EXPECT_GT(Iou(it->box, {128, 224, 314, 537}), 0.8F);
    EXPECT_GT(d->last_inference_ms(), 0);
}

TEST(Detector, AMissingOrForeignModelIsAClearError) {
    auto missing = Detector::Open(With("/nonexistent/model.onnx"));
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().where, "/nonexistent/model.onnx");
    auto photo = Detector::Open(With(kPhotos + "dog.jpg"));
    ASSERT_FALSE(photo.ok());
    EXPECT_NE(photo.error().message.find("not a model"), std::string::npos) << photo.error().message;
    auto classes = Detector::Open(With(kModel, {"person", "car"}));
    ASSERT_TRUE(classes.ok());
    auto image = ReadImage(kPhotos + "dog.jpg");
    auto r = classes->Detect(*image);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "the model has 80 classes, the class list 2");
}

Detection Det(const std::string& label, float x, float y, float w = 40, float h = 80, float score = 0.8F) {
    return {0, label, score, {x, y, x + w, y + h}};
}

TEST(Tracker, KeepsIdentitiesThroughCrossingAndAMissedFrame) {
    Tracker tracker;
    // Two people walk towards each other along a street, 10 px a frame; the second is missed in frame 5.
    for (int f = 0; f < 12; ++f) {
        std::vector<Detection> dets = {Det("person", 100 + 10.0F * f, 100)};
        if (f != 5) dets.push_back(Det("person", 400 - 10.0F * f, 300));
        tracker.Update(dets, f * 100);
    }
    ASSERT_EQ(tracker.tracks().size(), 2u);
    EXPECT_EQ(tracker.started(), 2);  // no identity was lost and restarted
    for (const Track& t : tracker.tracks()) {
        EXPECT_TRUE(t.confirmed);
        EXPECT_EQ(t.dwell_ms(), 1100);
        EXPECT_GT(t.moved(), 2.0F);  // 110 px in boxes 40 px wide
    }
    // A car where a person was is another object; a track unseen for more than max_misses frames ends.
    for (int f = 12; f < 19; ++f) tracker.Update({Det("car", 210, 100, 80, 40)}, f * 100);
    ASSERT_EQ(tracker.tracks().size(), 1u);
    EXPECT_EQ(tracker.tracks()[0].label, "car");
    EXPECT_EQ(tracker.tracks()[0].id, 3);
}

TEST(Tracker, FollowsThePedestriansOfAStreetVideo) {
    // opencv-doc's vtest.avi: pedestrians on a square (768x576). The detector runs on its first 30 frames.
    cv::VideoCapture video("/usr/share/doc/opencv-doc/examples/data/vtest.avi", cv::CAP_FFMPEG);
    ASSERT_TRUE(video.isOpened()) << "Debian's opencv-doc ships vtest.avi";
    DetectorOptions o;
    o.model = kModel;
    o.input_size = 384;
    auto detector = Detector::Open(o);
    ASSERT_TRUE(detector.ok()) << detector.error().ToString();
    Tracker tracker;
    size_t most_people = 0;
    std::map<int64_t, int> frames_of;  // track -> frames it was matched in
    cv::Mat frame;
    for (int f = 0; f < 30 && video.read(frame); ++f) {
        auto dets = detector->Detect(frame);
        ASSERT_TRUE(dets.ok());
        std::vector<Detection> people;
        for (const auto& d : *dets) {
            if (d.label == "person") people.push_back(d);
        }
        most_people = std::max(most_people, people.size());
        for (const Track& t : tracker.Update(people, f * 100)) {
            if (t.misses == 0) frames_of[t.id] += 1;
        }
    }
    ASSERT_GE(most_people, 4u);
    int long_tracks = 0;
    for (const auto& [id, n] : frames_of) long_tracks += n >= 25 ? 1 : 0;
    // People who stay in view keep one identity: most of a frame's people are followed for 25 of the 30 frames,
    // and identities are not handed out much faster than people appear.
    EXPECT_GE(long_tracks, static_cast<int>(most_people) / 2);
    EXPECT_LE(tracker.started(), static_cast<int64_t>(most_people) * 3);
}

Zone ZoneFrom(const std::string& json) {
    auto z = ParseZone(nlohmann::json::parse(json), "zones[0]");
    EXPECT_TRUE(z.ok()) << z.error().ToString();
    return *z;
}

TEST(Rules, AStallThatStaysFiresOnceAndAPasserByNever) {
    RuleEngine rules(
        {ZoneFrom(R"({"id":"kerb-1","rule":"street_vending","polygon":[[0,200],[600,200],[600,400],[0,400]],
                                   "min_dwell_s":300})")});
    Tracker tracker;
    int fired = 0;
    int64_t fired_at = -1;
    // One frame a second for eight minutes: a vendor with a table and an umbrella on the kerb; a man walking by.
    for (int s = 0; s < 480; ++s) {
        std::vector<Detection> dets = {
            Det("dining table", 100, 250, 120, 60), Det("umbrella", 90, 150, 140, 90), Det("person", 230, 230)};
        if (s < 60) dets.push_back(Det("person", 10.0F * s, 300));
        const auto events = rules.Evaluate(tracker.Update(dets, s * 1000LL), s * 1000LL, 10.0);
        for (const auto& e : events) {
            ++fired;
            fired_at = e.t_ms;
            EXPECT_EQ(e.kind, "street_vending");
            EXPECT_EQ(e.zone, "kerb-1");
            EXPECT_GE(e.boxes.size(), 2u);  // the table and the vendor (the umbrella stands above the zone)
            EXPECT_GT(e.confidence, 0.5F);
        }
    }
    EXPECT_EQ(fired, 1);
    EXPECT_EQ(fired_at, 300'000);  // exactly when the stall had stayed five minutes
}

TEST(Rules, ParkingCrowdAndTheSchoolGateOutOfHours) {
    RuleEngine rules(
        {ZoneFrom(
             R"({"id":"no-parking","rule":"illegal_parking","polygon":[[0,0],[500,0],[500,500],[0,500]],"min_dwell_s":120})"),
         ZoneFrom(R"({"id":"square","rule":"crowd","polygon":[[600,0],[1200,0],[1200,500],[600,500]],"min_count":5})"),
         ZoneFrom(
             R"({"id":"gate","rule":"campus_safety","polygon":[[0,600],[500,600],[500,900],[0,900]],"min_dwell_s":30,"hours":[7,19]})")});
    Tracker tracker;
    std::map<std::string, int64_t> first;
    for (int s = 0; s < 200; ++s) {
        std::vector<Detection> dets = {Det("car", 100, 100, 120, 60)};
        for (int p = 0; p < (s >= 50 ? 6 : 3); ++p) dets.push_back(Det("person", 650 + 80.0F * p, 200));
        dets.push_back(Det("person", 100, 700));
        const double hour = s < 100 ? 18.5 : 19.5;  // the gate's person is expected until 19:00
        for (const auto& e : rules.Evaluate(tracker.Update(dets, s * 1000LL), s * 1000LL, hour))
            first.emplace(e.kind, e.t_ms);
    }
    EXPECT_EQ(first.at("illegal_parking"), 120'000);
    EXPECT_EQ(first.at("crowd"), 52'000);  // three more people from 50 s, confirmed after three frames
    EXPECT_EQ(first.at("campus_safety"), 100'000);
}

TEST(InferenceQueue, AFullQueueDropsTheOldestOfALowerPriority) {
    InferenceQueue q(3);
    std::optional<FrameJob> evicted;
    EXPECT_TRUE(q.Push({1, 3, 0}, &evicted));
    EXPECT_TRUE(q.Push({2, 3, 1}, &evicted));
    EXPECT_TRUE(q.Push({3, 2, 2}, &evicted));
    EXPECT_TRUE(q.Push({4, 1, 3}, &evicted));  // full: camera 1's frame, the oldest of priority 3, makes room
    ASSERT_TRUE(evicted.has_value());
    EXPECT_EQ(evicted->camera, 1u);
    EXPECT_FALSE(q.Push({5, 3, 4}, &evicted));  // nothing lower than 3 waits: the new frame is the one dropped
    EXPECT_FALSE(evicted.has_value());
    const auto batch = q.Pop(2);
    ASSERT_EQ(batch.size(), 2u);
    EXPECT_EQ(batch[0].camera, 4u);  // priority 1 first
    EXPECT_EQ(batch[1].camera, 3u);
    EXPECT_EQ(q.size(), 1u);
}

TEST(Scheduler, UnderLoadTheQueueStaysBoundedAndPriorityOneKeepsItsRate) {
    SimOptions o;
    o.cameras = 20'000;
    o.start_hour = 8.0;  // inside the school-gate hour: priority 1 at a frame a second
    o.minutes = 2;
    o.queue_capacity = 2'000;
    o.workers = 40;  // about 26 cores' work: enough
    auto enough = SimulateCameras(o);
    ASSERT_TRUE(enough.ok()) << enough.error().ToString();
    for (size_t p = 0; p < kPriorities; ++p) EXPECT_EQ(enough->dropped[p], 0) << p;
    o.workers = 18;  // 70 % of what is needed: priority 1 alone takes about 13 cores
    auto short_of = SimulateCameras(o);
    ASSERT_TRUE(short_of.ok());
    EXPECT_LE(short_of->queue_max, o.queue_capacity);
    EXPECT_EQ(short_of->dropped[0], 0);
    EXPECT_LE(short_of->p95_ms[0], 2'000);
    EXPECT_GT(short_of->dropped[2] + short_of->dropped[1], 0);
    EXPECT_GT(short_of->degraded[2] + short_of->degraded[1], 0.1);  // the lower priorities are slowed, and say so
    // Deterministic: the same seed, the same result.
    auto again = SimulateCameras(o);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->dropped, short_of->dropped);
    EXPECT_EQ(again->served, short_of->served);
    o.workers = 0;
    EXPECT_EQ(SimulateCameras(o).error().where, "--workers");
}

TEST(Rules, BadZonesNameTheField) {
    EXPECT_EQ(
        ParseZone(nlohmann::json::parse(R"({"id":"z","rule":"picnic","polygon":[[0,0],[1,0],[1,1]]})"), "zones[2]")
            .error()
            .ToString(),
        "zones[2].rule: 'picnic' is not a rule (street_vending, illegal_parking, crowd, campus_safety, waterlogging)");
    EXPECT_EQ(ParseZone(nlohmann::json::parse(R"({"id":"z","rule":"crowd","polygon":[[0,0],[1,0]]})"), "zones[0]")
                  .error()
                  .where,
              "zones[0].polygon");
    EXPECT_EQ(
        ParseZone(nlohmann::json::parse(R"({"id":"z","rule":"crowd","polygon":[[0,0],[1,0],[1,1]],"hours":[20,7]})"),
                  "zones[0]")
            .error()
            .where,
        "zones[0].hours");
    EXPECT_EQ(ParseZone(nlohmann::json::parse(
                            R"({"id":"z","rule":"waterlogging","polygon":[[0,0],[1,0],[1,1]],"min_share":1.5})"),
                        "zones[1]")
                  .error()
                  .ToString(),
              "zones[1].min_share: must be a number within [0.01, 1]");
}

// ---- Water over the road, and the camera's own health. -----------------------------------------------------

cv::Mat StreetFrame() {
    cv::VideoCapture video("/usr/share/doc/opencv-doc/examples/data/vtest.avi", cv::CAP_FFMPEG);
    cv::Mat frame;
    if (video.isOpened()) video.read(frame);
    return frame;
}

const std::vector<std::pair<float, float>> kRoad = {{80, 330}, {700, 330}, {700, 560}, {80, 560}};

cv::Mat Flooded(const cv::Mat& street, const std::vector<std::pair<float, float>>& area, double fraction = 1) {
    return StandingWater(street).Render(area, fraction);
}

TEST(DryReference, WaterOverTheRoadChangesItAndTheEveningDoesNot) {
    const cv::Mat street = StreetFrame();
    ASSERT_FALSE(street.empty()) << "Debian's opencv-doc ships vtest.avi";
    auto ref = DryReference::Make(street, kRoad, "zones[0]");
    ASSERT_TRUE(ref.ok()) << ref.error().ToString();
    EXPECT_GT(ref->cells(), 300u);
    EXPECT_LT(ref->Compare(street, {}).changed_share, 0.02);  // itself
    const auto wet = ref->Compare(Flooded(street, kRoad), {});
    EXPECT_GT(wet.changed_share, 0.8);
    EXPECT_GE(wet.changed_box.x1, 72);
    EXPECT_LE(wet.changed_box.x2, 710);
    EXPECT_GE(wet.changed_box.y1, 320);
    // The lower half of the area under water: about half of it changed, the wet part at the bottom.
    const auto half = ref->Compare(Flooded(street, kRoad, 0.5), {});
    EXPECT_GE(half.changed_box.y1, 420);
    EXPECT_GT(half.changed_share, 0.35);
    EXPECT_LT(half.changed_share, 0.65);
    // Dusk and a bright noon: the whole picture darker or lighter is not water.
    cv::Mat dusk, noon;
    street.convertTo(dusk, -1, 0.55, 0);
    street.convertTo(noon, -1, 1.25, 10);
    EXPECT_LT(ref->Compare(dusk, {}).changed_share, 0.1);
    EXPECT_LT(ref->Compare(noon, {}).changed_share, 0.1);
    // A bus standing over the whole area: nothing of it is seen, nothing is judged.
    const auto hidden = ref->Compare(Flooded(street, kRoad), {Box{60, 300, 720, 576}});
    EXPECT_EQ(hidden.seen_share, 0);
    EXPECT_EQ(hidden.changed_share, 0);
    EXPECT_EQ(DryReference::Make(street, {{0, 0}, {2, 0}, {2, 2}}, "zones[3]").error().where, "zones[3]");
}

TEST(Rules, WaterThatStaysFiresOnceAfterItsDwell) {
    RuleEngine rules({ZoneFrom(
        R"({"id":"dip","rule":"waterlogging","polygon":[[0,0],[10,0],[10,10]],"min_dwell_s":120,"min_share":0.5})")});
    std::vector<int64_t> fired;
    for (int s = 0; s < 600; s += 10) {
        std::vector<DryReference::Reading> r(1);
        r[0].seen_share = 1;
        // Wet for 60 s (a passing splash), dry, then wet from 200 s on.
        r[0].changed_share = (s < 60 || s >= 200) ? 0.8 : 0.1;
        r[0].changed_box = {1, 2, 3, 4};
        for (const auto& e : rules.Evaluate({}, s * 1000LL, 12.0, &r)) {
            fired.push_back(e.t_ms);
            EXPECT_EQ(e.kind, "waterlogging");
            EXPECT_FLOAT_EQ(e.confidence, 0.8F);
            ASSERT_EQ(e.boxes.size(), 1u);
            EXPECT_FLOAT_EQ(e.boxes[0].x2, 3);
        }
    }
    EXPECT_EQ(fired, std::vector<int64_t>{320'000});
}

TEST(HealthWatch, FrozenCoveredAndOfflineEachOncePerEpisode) {
    const cv::Mat street = StreetFrame();
    ASSERT_FALSE(street.empty());
    HealthOptions o;
    o.frozen_after_ms = 60'000;
    o.covered_after_ms = 30'000;
    o.offline_after_ms = 120'000;
    HealthWatch h(o, 0);
    cv::RNG rng(7);
    const auto live = [&]() {  // a live sensor: the same scene with its noise
        cv::Mat noise(street.size(), CV_16SC3), f;
        rng.fill(noise, cv::RNG::NORMAL, 0, 3);
        street.convertTo(f, CV_16SC3);
        f += noise;
        f.convertTo(f, CV_8UC3);
        return f;
    };
    std::vector<std::pair<int64_t, Health>> seen;
    int64_t t = 0;
    const auto frame = [&](const cv::Mat& f) {
        if (auto e = h.Frame(f, t)) seen.emplace_back(t, *e);
        t += 10'000;
    };
    for (int i = 0; i < 12; ++i) frame(live());  // two live minutes: nothing
    EXPECT_TRUE(seen.empty());
    const cv::Mat stuck = live();
    for (int i = 0; i < 10; ++i) frame(stuck);  // 0..90 s of the same picture: frozen at 60 s
    frame(live());                              // it moves again
    EXPECT_EQ(h.health(), Health::kOk);
    const cv::Mat black(street.size(), CV_8UC3, cv::Scalar(4, 4, 4));
    for (int i = 0; i < 6; ++i) {  // a covered lens with a little noise: covered at 30 s
        cv::Mat f = black.clone();
        f.at<cv::Vec3b>(i, i) = cv::Vec3b(9, 9, 9);
        frame(f);
    }
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0], std::make_pair(int64_t{180'000}, Health::kFrozen));
    EXPECT_EQ(seen[1], std::make_pair(int64_t{260'000}, Health::kCovered));
    EXPECT_FALSE(h.Tick(t + 60'000).has_value());
    EXPECT_EQ(h.Tick(t + 200'000), Health::kOffline);
    EXPECT_FALSE(h.Tick(t + 300'000).has_value());  // once
    frame(live());
    EXPECT_EQ(h.health(), Health::kOk);
}

TEST(CameraSet, WaterOnTheStreetIsAWaterloggingCaseAndSilenceAnOfflineCamera) {
    const cv::Mat street = StreetFrame();
    ASSERT_FALSE(street.empty());
    const auto dir = std::filesystem::temp_directory_path() / ("cb-water-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    ASSERT_TRUE(cv::imwrite((dir / "dry.jpg").string(), street));
    const std::string registry = R"({"cameras": [{"id": "sq-1", "lat": 22.72, "long": 114.25, "watches": "广场南路",
        "dry_reference": "dry.jpg", "offline_after_s": 300,
        "zones": [{"id": "dip", "rule": "waterlogging", "min_dwell_s": 60, "min_share": 0.5,
                   "polygon": [[80, 330], [700, 330], [700, 560], [80, 560]]}]}]})";
    auto cams = ParseCameras(registry, "cameras.json", dir.string());
    ASSERT_TRUE(cams.ok()) << cams.error().ToString();
    EXPECT_EQ((*cams)[0].dry_reference, (dir / "dry.jpg").string());
    CameraSet::Options o;
    o.detector.model = kModel;
    o.snapshot_dir = (dir / "shots").string();
    auto set = CameraSet::Open(*cams, o);
    ASSERT_TRUE(set.ok()) << set.error().ToString();
    const cv::Mat flooded = Flooded(street, kRoad);
    std::vector<incident::Report> reports;
    for (int s = 0; s <= 120; s += 10) {
        auto out = (*set)->Ingest("sq-1", s < 30 ? street : flooded, s * 1000LL);
        ASSERT_TRUE(out.ok()) << out.error().ToString();
        for (auto& r : out->reports) reports.push_back(std::move(r));
    }
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].category, "waterlogging");
    EXPECT_EQ(reports[0].time_ms, 90'000);  // wet from 30 s, for the zone's minute
    EXPECT_EQ(reports[0].address, "广场南路");
    EXPECT_GT(reports[0].confidence, 0.5);
    ASSERT_FALSE(reports[0].media_url.empty());
    EXPECT_TRUE((*set)->Snapshot(reports[0].media_url.substr(reports[0].media_url.rfind('/') + 1)).ok());
    const auto status = (*set)->Status();
    EXPECT_EQ(status["cameras"][0]["dry_reference"], (dir / "dry.jpg").string());
    EXPECT_GT(status["cameras"][0]["zones"][0]["wet_share"].get<double>(), 0.8);
    // Five minutes without a frame: the camera itself becomes a case for whoever keeps the cameras.
    EXPECT_TRUE((*set)->Tick(120'000 + 200'000).reports.empty());
    const auto silent = (*set)->Tick(120'000 + 300'000);
    ASSERT_EQ(silent.reports.size(), 1u);
    EXPECT_EQ(silent.reports[0].category, "camera_fault");
    EXPECT_EQ(silent.events[0].kind, "camera_offline");
    EXPECT_TRUE(silent.reports[0].media_url.empty());
    EXPECT_EQ((*set)->Status()["cameras"][0]["health"], "offline");
    EXPECT_TRUE((*set)->Tick(120'000 + 900'000).reports.empty());  // once an episode
    // A reference that is not there is named by its field.
    auto missing = ParseCameras(R"({"cameras": [{"id": "c", "lat": 1, "long": 2, "dry_reference": "nope.jpg"}]})",
                                "cameras.json",
                                dir.string());
    ASSERT_TRUE(missing.ok());
    EXPECT_EQ(CameraSet::Open(*missing, o).error().where, "cameras[0].dry_reference");
    std::filesystem::remove_all(dir);
}

// A stream that is down at start-up is a camera that is offline, not a registry refused: it opens in the background,
// and each sample meanwhile is an error naming the stream. The full RTSP round (a real server, killed and
// restarted) is tests/rtsp_test.py.
TEST(FrameSource, AStreamThatIsDownIsAnErrorPerSampleAndAForeignSchemeIsRefused) {
    const std::string url = "rtsp://127.0.0.1:1/nothing";  // port 1: nothing listens there
    {
        auto source = FrameSource::Open(url, "cameras[0].source");
        ASSERT_TRUE(source.ok()) << source.error().ToString();
        EXPECT_STREQ((*source)->kind(), "stream");
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        auto frame = (*source)->Next(300);
        ASSERT_FALSE(frame.ok());
        EXPECT_NE(frame.error().ToString().find("no frame from '" + url + "'"), std::string::npos)
            << frame.error().ToString();
    }
    auto ftp = FrameSource::Open("ftp://cam.example/live", "cameras[2].source");
    ASSERT_FALSE(ftp.ok());
    EXPECT_EQ(ftp.error().ToString(),
              "cameras[2].source: a stream URL must be rtsp://, rtsps://, http:// or https://, not "
              "'ftp://cam.example/live'");
}

TEST(CameraFeeds, PullEachSourceAtItsRateAndNoticeASilentCamera) {
    const std::string video = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
    const std::string registry = R"({"cameras": [
        {"id": "yard", "lat": 22.7, "long": 114.2, "source": ")" +
                                 kPhotos + R"(dog.jpg", "every_s": 5, "priority": 1,
         "zones": [{"id": "kerb", "rule": "illegal_parking", "min_dwell_s": 30,
                    "polygon": [[400, 0], [768, 0], [768, 300], [400, 300]]}]},
        {"id": "square", "lat": 22.7, "long": 114.2, "source": ")" +
                                 video + R"(", "every_s": 5, "priority": 3},
        {"id": "pushed", "lat": 22.7, "long": 114.2, "offline_after_s": 60}]})";
    auto cams = ParseCameras(registry, "cameras.json");
    ASSERT_TRUE(cams.ok()) << cams.error().ToString();
    CameraSet::Options o;
    o.detector.model = kModel;
    // A clock two minutes fast a second: the run's minutes pass in half-seconds.
    const auto wall0 = std::chrono::steady_clock::now();
    const int64_t t0 = 1'760'000'000'000;
    o.start_ms = t0;
    auto set = CameraSet::Open(*cams, o);
    ASSERT_TRUE(set.ok()) << set.error().ToString();
    CameraFeeds::Options fo;
    fo.clock = [&] {
        return t0 +
               std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - wall0).count() *
                   120;
    };
    std::mutex mu;
    // By event kind; a camera fault by kind and camera, because on a loaded machine (ASan) the two-minutes-a-second
    // clock can find a pulled camera silent too before the pushed one's minute is up.
    std::map<std::string, incident::Report> first;
    auto feeds = CameraFeeds::Start(
        **set,
        *cams,
        [&](incident::Report r, const VisionEvent& e) {
            std::lock_guard lock(mu);
            std::string key = e.kind;
            if (e.kind == "camera_offline") key += "/" + r.external_id.substr(0, r.external_id.find(':'));
            first.emplace(key, std::move(r));
        },
        fo);
    ASSERT_TRUE(feeds.ok()) << feeds.error().ToString();
    // Until both events are in and the priority-3 video has had a frame (priority 1 goes first: on a loaded
    // machine the video waits its turn).
    for (int i = 0; i < 1200; ++i) {
        {
            std::lock_guard lock(mu);
            if (first.count("illegal_parking") && first.count("camera_offline/pushed") &&
                (*feeds)->Status()["feeds"][1]["pulled"].get<int>() > 0)
                break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    (*feeds)->Stop();
    const auto status = (*feeds)->Status();
    std::lock_guard lock(mu);
    ASSERT_TRUE(first.count("illegal_parking")) << status.dump();
    EXPECT_EQ(first.at("illegal_parking").external_id.rfind("yard:kerb:", 0), 0u);
    ASSERT_TRUE(first.count("camera_offline/pushed")) << status.dump();
    EXPECT_EQ(first.at("camera_offline/pushed").category, "camera_fault");
    EXPECT_EQ(first.at("camera_offline/pushed").external_id.rfind("pushed:", 0), 0u);
    EXPECT_GE(first.at("camera_offline/pushed").time_ms, t0 + 60'000);
    ASSERT_EQ(status["feeds"].size(), 2u);  // the pushed camera has no feed
    EXPECT_EQ(status["feeds"][0]["source"], "image");
    EXPECT_EQ(status["feeds"][1]["source"], "video");
    EXPECT_GE(status["feeds"][0]["pulled"].get<int>(), 3);  // a track counts after three frames
    EXPECT_GT(status["feeds"][1]["pulled"].get<int>(), 0);
    EXPECT_EQ(status["feeds"][0]["errors"], 0);
    EXPECT_EQ(status["feeds"][1]["errors"], 0);
    // Sources that cannot be had are named by their field.
    auto bad = ParseCameras(R"({"cameras": [{"id": "c", "lat": 1, "long": 2, "source": "/nonexistent/folder"}]})",
                            "cameras.json");
    ASSERT_TRUE(bad.ok());
    EXPECT_EQ(CameraFeeds::Start(
                  **set, *bad, [](incident::Report, const VisionEvent&) {}, fo)
                  .error()
                  .where,
              "cameras[0].source");
}

}  // namespace
}  // namespace citybrain::vision
