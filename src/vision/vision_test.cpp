// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <set>

#include "core/file.hpp"
#include "vision/detector.hpp"
#include "vision/rules.hpp"
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
        "zones[2].rule: 'picnic' is not a rule (street_vending, illegal_parking, crowd, campus_safety)");
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
}

}  // namespace
}  // namespace citybrain::vision
