// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "district/default_district.hpp"
#include "incident/model.hpp"

namespace citybrain::district {

/// A camera that sees a low point, and the water there now: what a World whose flood cameras are looked at through
/// the real vision pipeline (`citybrain run --vision`) renders for it.
struct FloodView {
    int32_t camera = 0;  // the district's camera index
    size_t low_point = 0;
    double level_cm = 0;
};

/// The simulated World outside traffic: street vendors at kerbs, a rain episode that floods low points, and
/// citizens who write in about what they see. It senses itself through the district's cameras and sensors and
/// hands the brain what a live deployment would receive: reports (camera detections, sensor alarms, citizen
/// messages in Chinese with no category and no coordinates). The brain never reads the World's truth; it acts
/// (a unit on site) and checks (a camera or an inspector looks again).
class Scenario {
public:
    /// `synthetic_flood_cameras` false: the cameras at low points report nothing by themselves; their views
    /// (FloodViews) go through the vision pipeline instead.
    Scenario(const District& district, uint64_t seed, double duration_s, bool synthetic_flood_cameras = true);

    /// Advances to simulated second `t` (called once per second, in order) and appends the reports made at `t`.
    /// Report times are simulated milliseconds; the brain shifts them to its clock.
    void Advance(double t, std::vector<incident::Report>& out);

    /// A unit arrives at `at` to handle a case of `category`: a vendor there is told to leave (and packs up), a
    /// flooded low point gets a pump, a reported problem is fixed. Returns a handle for Done.
    int32_t BeginHandling(const std::string& category, core::Point at, double t);
    /// Whether the unit's work is finished at `t` (the vendor gone, the water below 5 cm, the repair done).
    bool Done(int32_t handle, double t) const;
    /// A second look (camera or inspector): is a problem of `category` still there within 60 m of `at`?
    bool StillThere(const std::string& category, core::Point at, double t) const;

    bool Raining(double t) const { return t >= rain_from_s_ && t < rain_to_s_; }
    /// Water level at each low point, in the district's order.
    const std::vector<double>& WaterLevels() const { return level_cm_; }
    /// Every camera at a low point with the water there now.
    std::vector<FloodView> FloodViews() const;
    size_t VendorsAppeared() const { return vendors_.size(); }
    size_t MessagesSent() const { return messages_sent_; }
    /// The category each message was written about, by message number ("app-N"): the truth, for scoring intake.
    const std::vector<std::string>& MessageTruth() const { return message_truth_; }

private:
    struct Vendor {
        core::Point at;
        double appear_s = 0;
        double leave_s = 0;            // leaves by itself then, or earlier when told
        std::vector<int32_t> cameras;  // the cameras in range of its kerb
        std::vector<int32_t> seen_by;  // those that have reported it
    };
    struct Problem {  // what a citizen wrote about
        std::string category;
        core::Point at;
        double fixed_s = 1e18;
    };
    struct Handling {
        int kind = 0;  // 0 vendor, 1 water, 2 problem, 3 nothing found
        int32_t index = -1;
        double done_s = 0;
    };

    double U() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
    double Exp(double mean) { return -mean * std::log(1 - U()); }
    void SpawnVendor(double t);
    void SendMessage(double t, std::vector<incident::Report>& out);

    const District& d_;
    std::mt19937_64 rng_;
    double rain_from_s_;
    double rain_to_s_;
    double next_vendor_s_;
    double next_message_s_;
    std::vector<Vendor> vendors_;
    std::vector<Problem> problems_;
    std::vector<double> level_cm_;
    std::vector<uint8_t> pumped_;
    std::vector<uint8_t> sensor_alarm_;                // per low point: alarm raised in this flooding
    std::vector<std::vector<uint8_t>> camera_flood_;   // per low point, per nearby camera: reported
    std::vector<std::vector<int32_t>> flood_cameras_;  // cameras that see each low point
    std::vector<Handling> handlings_;
    std::vector<std::pair<std::string, core::Point>> junctions_;  // "A与B交叉口" and where
    size_t messages_sent_ = 0;
    std::vector<std::string> message_truth_;  // category of each message
    int64_t flood_episode_ = 0;
    bool synthetic_flood_cameras_ = true;
};

}  // namespace citybrain::district
