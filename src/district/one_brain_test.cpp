// SPDX-License-Identifier: Apache-2.0
// One brain: a report that comes over the API of a running district brain is dispatched, handled and closed by
// the same loop as the simulated World's, and the store, the engine, the API and the console agree on every case.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <iostream>

#include "district/brain.hpp"
#include "incident/case_json.hpp"
#include "server/api.hpp"

namespace citybrain::district {
namespace {

constexpr const char* kKey = "k-0123456789abcdef";

class OneBrainTest : public ::testing::Test {
protected:
    void SetUp() override {
        db_ =
            (std::filesystem::temp_directory_path() / ("cb_one_brain_" + std::to_string(::getpid()) + ".db")).string();
        DistrictSpec spec;
        spec.demand.duration_s = 3600;
        spec.demand.peak_at_s = 1800;
        district_ = std::move(MakeDistrict(spec, 7)).value();
        BrainOptions o;
        o.seed = 7;
        o.sim_hours = 1;
        o.db_path = db_;
        brain_ = std::move(Brain::Create(district_, o)).value();
        const auto clock = [b = brain_.get()] { return b->ClockMs(); };
        intake_ = std::make_unique<incident::IntakeQueue>(brain_->engine(), 4096, clock);
        api_ = std::make_unique<server::Api>(
            brain_->engine(), *intake_, std::move(server::ApiKeys::Load(kKey, "")).value(), "http://test", clock);
    }
    void TearDown() override {
        api_.reset();
        intake_.reset();
        brain_.reset();
        for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(db_ + s);
    }
    server::ApiResponse Call(const std::string& method, const std::string& target, const std::string& body = "") {
        server::ApiRequest req{method, target, body, "application/x-www-form-urlencoded", kKey, "", ""};
        std::promise<server::ApiResponse> p;
        auto f = p.get_future();
        api_->Handle(req, [&p](server::ApiResponse r) { p.set_value(std::move(r)); });
        return f.get();
    }
    void StepFor(double seconds) {
        for (int i = 0; i < static_cast<int>(seconds) && !brain_->Finished(); ++i) ASSERT_TRUE(brain_->Step().ok());
    }
    /// Every case: the store's row, the engine's open case, the API's JSON and the console's frame agree.
    void ExpectOneTruth() {
        incident::CaseFilter all;
        all.limit = 100000;
        const auto clock = brain_->ClockMs();
        auto stored = brain_->engine().ListCases(all, clock);
        ASSERT_TRUE(stored.ok());
        const nlohmann::json frame = brain_->Frame(false);
        std::map<int64_t, nlohmann::json> shown;
        for (const auto& c : frame["cases"]) shown[c["id"].get<int64_t>()] = c;
        ASSERT_FALSE(stored->empty());
        for (const incident::Case& c : *stored) {
            const nlohmann::json api = nlohmann::json::parse(Call("GET", "/api/v1/cases/" + std::to_string(c.id)).body);
            EXPECT_EQ(api["status"], incident::StatusName(c.status)) << c.id;
            EXPECT_EQ(api["priority"], c.priority) << c.id;
            EXPECT_EQ(api["escalations"], c.escalations) << c.id;
            const auto open = brain_->engine().OpenCase(c.id);
            EXPECT_EQ(open.has_value(), incident::IsOpen(c.status)) << c.id;
            if (open) {
                EXPECT_EQ(open->status, c.status) << c.id;
                EXPECT_EQ(open->priority, c.priority) << c.id;
                EXPECT_EQ(open->deadline_ms, c.deadline_ms) << c.id;
            }
            ASSERT_EQ(shown.count(c.id), 1u) << c.id;
            const nlohmann::json want = incident::CaseJson(c, brain_->engine().taxonomy(), clock);
            for (const auto& [key, value] : want.items()) EXPECT_EQ(shown[c.id][key], value) << c.id << " " << key;
        }
        EXPECT_EQ(frame["kpi"]["open_cases"].get<size_t>(), brain_->engine().open_cases());
        EXPECT_EQ(frame["kpi"]["cases_total"].get<size_t>(), stored->size());
    }

    std::string db_;
    District district_;
    std::unique_ptr<Brain> brain_;
    std::unique_ptr<incident::IntakeQueue> intake_;
    std::unique_ptr<server::Api> api_;
};

TEST_F(OneBrainTest, AnOpen311ReportIsDispatchedHandledAndClosed) {
    StepFor(120);
    // A vendor reported by a citizen over Open311, at an intersection away from the depots.
    const core::Point at = district_.net.intersections[20].point;
    const auto [lat, lon] = district_.frame.ToWgs84(at);
    char body[256];
    std::snprintf(body,
                  sizeof body,
                  "service_code=street_vending&lat=%.7f&long=%.7f&description=%s",
                  lat,
                  lon,
                  "%E6%91%8A%E8%B4%A9%E5%8D%A0%E9%81%93");  // 摊贩占道
    const auto posted = Call("POST", "/open311/v2/requests.json", body);
    ASSERT_EQ(posted.status, 201) << posted.body;
    const auto report = nlohmann::json::parse(posted.body)[0]["service_request_id"].get<std::string>();
    const auto view = nlohmann::json::parse(Call("GET", "/open311/v2/requests/" + report + ".json").body);
    const std::string case_id = view[0]["case_id"].get<std::string>();
    // Stamped with the brain's clock (simulated), not the wall clock.
    auto c = brain_->engine().GetCase(std::stoll(case_id));
    ASSERT_TRUE(c.ok() && c->has_value());
    EXPECT_EQ((*c)->created_ms, brain_->ClockMs());

    std::string status;
    for (int minute = 0; minute < 40 && status != "closed"; ++minute) {
        StepFor(60);
        status = nlohmann::json::parse(Call("GET", "/api/v1/cases/" + case_id).body)["status"];
    }
    ASSERT_EQ(status, "closed");
    const auto detail = nlohmann::json::parse(Call("GET", "/api/v1/cases/" + case_id).body);
    std::vector<std::string> actions;
    std::string dispatched_to, start_note;
    for (const auto& h : detail["history"]) {
        actions.push_back(h["action"]);
        if (h["action"] == "dispatch") dispatched_to = h["actor"];
        if (h["action"] == "start") start_note = h["note"];
    }
    EXPECT_EQ(actions, (std::vector<std::string>{"report", "file", "dispatch", "start", "feedback", "close"}));
    // A robot dog speaks the taxonomy's notice; a crew arrives without one.
    const bool robot = dispatched_to.find("crew") == std::string::npos;
    EXPECT_EQ(start_note.find("notice played: 您好，这里禁止占道经营") != std::string::npos, robot)
        << dispatched_to << ": " << start_note;
    ExpectOneTruth();
}

TEST_F(OneBrainTest, StoreEngineApiAndConsoleAgreeThroughARun) {
    for (int k = 0; k < 4; ++k) {
        StepFor(900);
        ExpectOneTruth();
    }
}

TEST_F(OneBrainTest, AnOperatorWhoMergesADispatchedCaseCallsTheUnitOff) {
    // Steps until some unit is on its way while another case is open, then an operator merges the first into the
    // second through the API: the unit must be called off, and the brain must not break on the operator's move.
    int64_t target = 0, other = 0;
    for (int s = 0; s < 3600 && (target == 0 || other == 0); ++s) {
        ASSERT_TRUE(brain_->Step().ok());
        target = other = 0;
        const nlohmann::json frame = brain_->Frame(false);
        for (const auto& u : frame["units"]) {
            if (u[2].get<int>() == 1) target = u[3].get<int64_t>();
        }
        if (target == 0) continue;
        for (const auto& c : frame["cases"]) {
            const int64_t id = c["id"];
            if (id != target && c["status"] != "closed" && c["status"] != "rejected" && c["status"] != "merged")
                other = id;
        }
    }
    ASSERT_NE(target, 0);
    ASSERT_NE(other, 0);
    server::ApiRequest req{
        "POST",
        "/api/v1/cases/" + std::to_string(target) + "/transitions",
        R"({"action":"merge","actor":"operator Li","note":"same vendor","merge_into":)" + std::to_string(other) + "}",
        "application/json",
        kKey,
        "",
        ""};
    std::promise<server::ApiResponse> p;
    api_->Handle(req, [&p](server::ApiResponse r) { p.set_value(std::move(r)); });
    const auto r = p.get_future().get();
    ASSERT_EQ(r.status, 200) << r.body;
    StepFor(2);
    const nlohmann::json after = brain_->Frame(false);
    for (const auto& u : after["units"]) EXPECT_NE(u[3].get<int64_t>(), target) << "unit still sent";
    StepFor(600);
    EXPECT_EQ(brain_->Results()["intake_errors"], 0);
    ExpectOneTruth();
}

}  // namespace
}  // namespace citybrain::district
