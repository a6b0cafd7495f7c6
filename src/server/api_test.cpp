// SPDX-License-Identifier: Apache-2.0
// The API without sockets: routing, rendering and refusals (tests/server_test.py covers real HTTP).
#include "server/api.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>

#include "server/form.hpp"

namespace citybrain::server {
namespace {

TEST(Form, DecodesAndNamesBadEscapes) {
    auto p = ParseForm("a=1&b=%E7%A7%AF+x&flag&=empty&c=");
    ASSERT_TRUE(p.ok());
    ASSERT_EQ(p->size(), 5u);
    EXPECT_EQ(*Find(*p, "b"), "积 x");
    EXPECT_EQ(*Find(*p, "flag"), "");
    EXPECT_EQ(Find(*p, "zzz"), nullptr);
    auto bad = ParseForm("lat=%zz&long=1");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().ToString(), "lat: bad percent-escape in form data");
    EXPECT_FALSE(ParseForm("x=%4").ok());
}

TEST(ApiKeys, NoneConfiguredAcceptsNothingAndShortKeysAreRefused) {
    auto none = ApiKeys::Load(nullptr, "");
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->Accepts(""));
    auto keys = ApiKeys::Load("aaaaaaaaaaaaaaaa1,bbbbbbbbbbbbbbbb2", "");
    ASSERT_TRUE(keys.ok());
    EXPECT_TRUE(keys->Accepts("bbbbbbbbbbbbbbbb2"));
    EXPECT_FALSE(keys->Accepts("bbbbbbbbbbbbbbbb"));
    EXPECT_FALSE(keys->Accepts("bbbbbbbbbbbbbbbb22"));
    EXPECT_FALSE(ApiKeys::Load("short", "").ok());
}

class ApiTest : public ::testing::Test {
protected:
    void SetUp() override {
        path_ = (std::filesystem::temp_directory_path() / ("cb_api_" + std::to_string(::getpid()) + ".db")).string();
        engine_ = std::move(incident::IncidentEngine::Open(std::move(incident::OpenSqliteStore(path_)).value(),
                                                           incident::Taxonomy::Default()))
                      .value();
        intake_ = std::make_unique<incident::IntakeQueue>(*engine_);
        api_ = std::make_unique<Api>(
            *engine_, *intake_, std::move(ApiKeys::Load("k-0123456789abcdef", "")).value(), "http://test");
    }
    void TearDown() override {
        api_.reset();
        intake_.reset();
        engine_.reset();
        for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + s);
    }
    ApiResponse Call(const std::string& method,
                     const std::string& target,
                     const std::string& body = "",
                     const std::string& key = "k-0123456789abcdef") {
        ApiRequest req{method, target, body, "application/x-www-form-urlencoded", key, ""};
        std::promise<ApiResponse> p;
        auto f = p.get_future();
        api_->Handle(req, [&p](ApiResponse r) { p.set_value(std::move(r)); });
        return f.get();
    }
    std::string path_;
    std::unique_ptr<incident::IncidentEngine> engine_;
    std::unique_ptr<incident::IntakeQueue> intake_;
    std::unique_ptr<Api> api_;
};

TEST_F(ApiTest, PostThenReadBackInBothFormats) {
    auto created = Call("POST",
                        "/open311/v2/requests.json",
                        "service_code=missing_manhole&lat=22.72&long=114.25&description=%3Cb%3E%26");
    ASSERT_EQ(created.status, 201) << created.body;
    const auto id = nlohmann::json::parse(created.body)[0]["service_request_id"].get<std::string>();
    auto xml = Call("GET", "/open311/v2/requests/" + id + ".xml");
    ASSERT_EQ(xml.status, 200);
    EXPECT_NE(xml.body.find("<description>&lt;b&gt;&amp;</description>"), std::string::npos) << xml.body;
    EXPECT_NE(xml.body.find("<agency_responsible>区水务局</agency_responsible>"), std::string::npos);
    auto json = nlohmann::json::parse(Call("GET", "/open311/v2/requests/" + id + ".json").body);
    EXPECT_EQ(json[0]["service_code"], "missing_manhole");
    EXPECT_EQ(json[0]["status"], "open");
}

TEST_F(ApiTest, RefusalsCarryTheSpecErrorFormat) {
    EXPECT_EQ(
        Call("POST", "/open311/v2/requests.json", "service_code=noise&lat=1&long=1", "wrong-key-012345678").status,
        403);
    auto r = Call("POST", "/open311/v2/requests.json", "service_code=noise&lat=1");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, R"([{"code":400,"description":"long: lat and long must be given together"}])");
    EXPECT_EQ(Call("GET", "/open311/v2/requests.csv").status, 400);
    EXPECT_EQ(Call("DELETE", "/open311/v2/requests.json").status, 405);
    EXPECT_EQ(Call("GET", "/nowhere").status, 404);
    EXPECT_EQ(Call("GET", "/api/v1/cases?limit=0").status, 400);
    EXPECT_EQ(Call("GET", "/api/v1/cases?color=red").status, 400);
}

}  // namespace
}  // namespace citybrain::server
