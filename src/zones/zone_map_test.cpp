// SPDX-License-Identifier: Apache-2.0
#include "zones/zone_map.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "zones/bus.hpp"
#include "zones/node.hpp"
#include "zones/wire.hpp"

namespace citybrain::zones {
namespace {

std::vector<std::pair<double, double>> Points(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> lat(22.70, 22.76), lon(114.22, 114.30);
    std::vector<std::pair<double, double>> out;
    for (size_t i = 0; i < n; ++i) out.emplace_back(lat(rng), lon(rng));
    return out;
}

TEST(ZoneMap, BisectionTilesThePointsInEqualShares) {
    const auto points = Points(1000, 3);
    for (const int k : {1, 2, 3, 5, 8}) {
        auto map = ZoneMap::Bisect(points, k, 0.01);
        ASSERT_TRUE(map.ok()) << map.error().ToString();
        ASSERT_EQ(map->zones().size(), static_cast<size_t>(k));
        std::map<size_t, int> count;
        for (const auto& [lat, lon] : points) {
            const auto z = map->Locate(lat, lon);
            ASSERT_TRUE(z.has_value()) << lat << "," << lon << " is in no zone of " << k;
            ++count[*z];
        }
        for (const auto& [z, n] : count) {
            EXPECT_NEAR(n, 1000.0 / k, 2) << "zone " << z << " of " << k;
        }
        // Outside the grown box: in no zone.
        EXPECT_FALSE(map->Locate(22.0, 114.0).has_value());
    }
}

TEST(ZoneMap, ConfigRoundTripsAndBadFieldsAreNamed) {
    auto map = ZoneMap::Bisect(Points(100, 1), 3, 0.01);
    ASSERT_TRUE(map.ok());
    map->lease_ms = 2000;
    auto again = ZoneMap::Parse(map->ToJson(), "z.json");
    ASSERT_TRUE(again.ok()) << again.error().ToString();
    EXPECT_EQ(again->lease_ms, 2000);
    ASSERT_EQ(again->zones().size(), 3u);
    EXPECT_EQ(again->zones()[1].polygon, map->zones()[1].polygon);
    EXPECT_TRUE(again->units().empty());

    // Units, and their settings, round-trip with their zones.
    const char* with_units = R"({"unit_service_ms": 60000, "unit_speed_mps": 2.5, "lend_reserve": 2, "zones": [
        {"id": "a", "polygon": [[0,0],[1,0],[1,1]], "units": [{"id": "a-1", "lat": 0.2, "lon": 0.5}]},
        {"id": "b", "polygon": [[1,0],[2,0],[2,1]], "units": [{"id": "b-1", "lat": 0.3, "lon": 1.5},
                                                            {"id": "b-2", "lat": 0.4, "lon": 1.6}]}]})";
    auto units = ZoneMap::Parse(with_units, "u.json");
    ASSERT_TRUE(units.ok()) << units.error().ToString();
    auto units_again = ZoneMap::Parse(units->ToJson(), "u.json");
    ASSERT_TRUE(units_again.ok()) << units_again.error().ToString();
    ASSERT_EQ(units_again->units().size(), 3u);
    EXPECT_EQ(units_again->units()[2].id, "b-2");
    EXPECT_EQ(units_again->units()[2].zone, 1u);
    EXPECT_DOUBLE_EQ(units_again->units()[2].lon, 1.6);
    EXPECT_EQ(units_again->unit_service_ms, 60000);
    EXPECT_EQ(units_again->lend_reserve, 2);
    EXPECT_DOUBLE_EQ(units_again->unit_speed_mps, 2.5);

    const std::pair<const char*, const char*> bad[] = {
        {R"([])", "z.json"},
        {R"({"zones": []})", "z.json: zones"},
        {R"({"zones": [{"id": "a.b", "polygon": [[0,0],[1,0],[1,1]]}]})", "z.json: zones[0].id"},
        {R"({"zones": [{"id": "a", "polygon": [[0,0],[1,0]]}]})", "z.json: zones[0].polygon"},
        {R"({"zones": [{"id": "a", "polygon": [[0,0],[1,0],[1,91]]}]})", "z.json: zones[0].polygon[2]"},
        {R"({"zones": [{"id": "a", "polygon": [[0,0],[1,0],[1,1]]}, {"id": "a", "polygon": [[0,0],[1,0],[1,1]]}]})",
         "z.json: zones[1].id"},
        {R"({"zones": [{"id": "a", "polygon": [[0,0],[1,0],[1,1]], "colour": 1}]})", "z.json: zones[0].colour"},
        {R"({"lease_ms": 10, "zones": [{"id": "a", "polygon": [[0,0],[1,0],[1,1]]}]})", "z.json: lease_ms"},
        {R"({"leases": 1, "zones": []})", "z.json: leases"},
        {R"({"lend_reserve": -1, "zones": [{"id": "a", "polygon": [[0,0],[1,0],[1,1]]}]})", "z.json: lend_reserve"},
        {R"({"unit_speed_mps": 0, "zones": [{"id": "a", "polygon": [[0,0],[1,0],[1,1]]}]})", "z.json: unit_speed_mps"},
        {R"({"unit_service_ms": 5, "zones": [{"id": "a", "polygon": [[0,0],[1,0],[1,1]]}]})",
         "z.json: unit_service_ms"},
        {R"({"zones": [{"id": "a", "polygon": [[0,0],[1,0],[1,1]], "units": {}}]})", "z.json: zones[0].units"},
        {R"({"zones": [{"id": "a", "polygon": [[0,0],[1,0],[1,1]], "units": [{"id": "u", "lat": 1}]}]})",
         "z.json: zones[0].units[0].lon"},
        {R"({"zones": [{"id": "a", "polygon": [[0,0],[1,0],[1,1]], "units": [{"id": "u.1", "lat": 1, "lon": 1}]}]})",
         "z.json: zones[0].units[0].id"},
        {R"({"zones": [{"id": "a", "polygon": [[0,0],[1,0],[1,1]], "units": [{"id": "u", "lat": 95, "lon": 1}]}]})",
         "z.json: zones[0].units[0].lat"},
        {R"({"zones": [{"id": "a", "polygon": [[0,0],[1,0],[1,1]], "units": [{"id": "u", "lat": 1, "lon": 1}]},
                       {"id": "b", "polygon": [[0,0],[1,0],[1,1]], "units": [{"id": "u", "lat": 1, "lon": 1}]}]})",
         "z.json: zones[1].units[0].id"},
        {R"({"zones": [{"id": "a", "polygon": [[0,0],[1,0],[1,1]], "units": [{"id": "u", "lat": 1, "lon": 1, "k": 1}]}]})",
         "z.json: zones[0].units[0].k"},
    };
    for (const auto& [text, where] : bad) {
        auto r = ZoneMap::Parse(text, "z.json");
        ASSERT_FALSE(r.ok()) << text;
        EXPECT_EQ(r.error().where, where) << text << ": " << r.error().ToString();
    }
}

TEST(ZoneMap, ANonConvexPolygonHoldsOnlyItsInside) {
    // An L: the notch (upper right) is outside.
    auto map = ZoneMap::Parse(R"({"zones": [{"id": "l", "polygon": [[0,0],[2,0],[2,1],[1,1],[1,2],[0,2]]}]})", "l");
    ASSERT_TRUE(map.ok()) << map.error().ToString();
    EXPECT_TRUE(map->Locate(0.5, 0.5).has_value());
    EXPECT_TRUE(map->Locate(1.5, 0.5).has_value());  // lat 1.5, lon 0.5: the upright
    EXPECT_FALSE(map->Locate(1.5, 1.5).has_value());
}

TEST(ZoneNode, RendezvousMovesOnlyTheDeadNodesZones) {
    const std::vector<std::string> three = {"a", "b", "c"}, two = {"a", "c"};
    std::map<std::string, int> share;
    int moved = 0;
    for (int z = 0; z < 300; ++z) {
        const std::string zone = "z" + std::to_string(z);
        const std::string before = ZoneNode::OwnerOf(zone, three), after = ZoneNode::OwnerOf(zone, two);
        ++share[before];
        if (before != "b") {
            EXPECT_EQ(before, after) << zone << " moved though its node lives";
        } else {
            ++moved;
            EXPECT_NE(after, "b");
        }
    }
    for (const auto& [node, n] : share) EXPECT_GT(n, 70) << node << " holds too few of 300 zones";
    EXPECT_EQ(moved, share["b"]);
}

TEST(Wire, ReportsRoundTripAndBadFieldsAreNamed) {
    incident::Report r;
    r.source = incident::Source::kCamera;
    r.time_ms = 1781478000000;
    r.lat = 22.72;
    r.lon = 114.25;
    r.category = "street_vending";
    r.description = "摊贩占道经营";
    r.confidence = 0.9;
    r.external_id = "cam-7";
    auto back = DecodeReport(EncodeReport(r));
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    EXPECT_EQ(back->source, r.source);
    EXPECT_EQ(back->time_ms, r.time_ms);
    EXPECT_EQ(back->lat, r.lat);
    EXPECT_EQ(back->lon, r.lon);
    EXPECT_EQ(back->description, r.description);
    EXPECT_EQ(back->confidence, r.confidence);
    EXPECT_EQ(back->external_id, r.external_id);
    const std::pair<const char*, const char*> bad[] = {
        {"nope", "body"},
        {R"({"lat": "x"})", "lat"},
        {R"({"time_ms": 1.5})", "time_ms"},
        {R"({"colour": "red"})", "colour"},
        {R"({"category": 3})", "category"},
        {R"({"": "x"})", "\"\""},
    };
    for (const auto& [text, where] : bad) {
        auto e = DecodeReport(text);
        ASSERT_FALSE(e.ok()) << text;
        EXPECT_EQ(e.error().where, where) << text;
    }
    EXPECT_FALSE(CheckToken("zone", "a>b").ok());
    EXPECT_FALSE(CheckToken("zone", "").ok());
    EXPECT_TRUE(CheckToken("zone", "north-2_b").ok());
}

TEST(ZoneMap, DistancesToZonesAndTheirNeighbours) {
    auto parsed = ZoneMap::Parse(
        R"({"zones": [
          {"id": "w", "polygon": [[114.20, 22.70], [114.25, 22.70], [114.25, 22.76], [114.20, 22.76]]},
          {"id": "e", "polygon": [[114.25, 22.70], [114.30, 22.70], [114.30, 22.76], [114.25, 22.76]]},
          {"id": "far", "polygon": [[114.40, 22.70], [114.45, 22.70], [114.45, 22.76], [114.40, 22.76]]}]})",
        "test");
    ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
    const ZoneMap& map = *parsed;
    EXPECT_EQ(map.DistanceM(0, 22.73, 114.22), 0);
    // 0.001° of longitude at 22.73° N is 102.6 m.
    EXPECT_NEAR(map.DistanceM(1, 22.73, 114.249), 102.6, 0.5);
    EXPECT_NEAR(map.DistanceM(0, 22.761, 114.22), 111.2, 0.5);  // north of it, to the edge
    EXPECT_EQ(map.Near(22.73, 114.249, 150, 0), std::vector<size_t>{1});
    EXPECT_TRUE(map.Near(22.73, 114.249, 100, 0).empty());
    EXPECT_TRUE(map.Near(22.73, 114.22, 1000, 0).empty());
    EXPECT_EQ(map.Neighbours(0, 200), std::vector<size_t>{1});
    EXPECT_EQ(map.Neighbours(1, 200), std::vector<size_t>{0});
    EXPECT_TRUE(map.Neighbours(2, 200).empty());
    EXPECT_EQ(map.Neighbours(2, 11'000), std::vector<size_t>{1});  // 0.1° east of e: 10.3 km
}

}  // namespace
}  // namespace citybrain::zones
