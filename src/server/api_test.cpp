// SPDX-License-Identifier: Apache-2.0
// The API without sockets: routing, rendering and refusals (tests/server_test.py covers real HTTP).
#include "server/api.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <tuple>

#include "core/time.hpp"
#include "core/utf8.hpp"
#include "incident/forwarding_store.hpp"
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
    // Issue 13, item 16: a space after a comma is not part of a key.
    auto spaced = ApiKeys::Load("aaaaaaaaaaaaaaaa1, bbbbbbbbbbbbbbbb2 ,", "");
    ASSERT_TRUE(spaced.ok()) << spaced.error().ToString();
    EXPECT_EQ(spaced->size(), 2u);
    EXPECT_TRUE(spaced->Accepts("bbbbbbbbbbbbbbbb2"));
    EXPECT_FALSE(spaced->Accepts(" bbbbbbbbbbbbbbbb2"));
}

// Issue 13, item 16: keys from a file carry a name and roles; a file that says something else is refused.
TEST(ApiKeys, FileLinesCarryNamesAndRoles) {
    const std::string path =
        (std::filesystem::temp_directory_path() / ("cb_keys_" + std::to_string(::getpid()))).string();
    const auto load = [&](const std::string& text) {
        std::ofstream(path) << text;
        return ApiKeys::Load(nullptr, path);
    };
    auto keys = load(
        "# tenants\n  aaaaaaaaaaaaaaaa-1  app-a  report  \nbbbbbbbbbbbbbbbb-2 ops operator,report # night\n"
        "cccccccccccccccc-3\n");
    ASSERT_TRUE(keys.ok()) << keys.error().ToString();
    ASSERT_EQ(keys->size(), 3u);
    const ApiKey* a = keys->Find("aaaaaaaaaaaaaaaa-1");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->name, "app-a");
    EXPECT_TRUE(a->Has(kRoleReport));
    EXPECT_FALSE(a->Has(kRoleOperator));
    EXPECT_TRUE(keys->Find("bbbbbbbbbbbbbbbb-2")->Has(kRoleOperator));
    EXPECT_FALSE(keys->Find("bbbbbbbbbbbbbbbb-2")->Has(kRoleDevice));
    // A bare key is named by its line and keeps every role, as keys did before roles.
    EXPECT_EQ(keys->Find("cccccccccccccccc-3")->name, "key-4");  // its line: the comment is line 1
    EXPECT_EQ(keys->Find("cccccccccccccccc-3")->roles, static_cast<unsigned>(kRoleAll));
    EXPECT_EQ(keys->Find("app-a"), nullptr);
    auto role = load("aaaaaaaaaaaaaaaa-1 app-a admin\n");
    ASSERT_FALSE(role.ok());
    EXPECT_NE(role.error().ToString().find("unknown role 'admin'"), std::string::npos) << role.error().ToString();
    auto twice = load("aaaaaaaaaaaaaaaa-1 app\nbbbbbbbbbbbbbbbb-2 app\n");
    ASSERT_FALSE(twice.ok());
    EXPECT_NE(twice.error().ToString().find("two keys are named 'app'"), std::string::npos);
    EXPECT_FALSE(load("aaaaaaaaaaaaaaaa-1 app report extra\n").ok());
    EXPECT_FALSE(load("aaaaaaaaaaaaaaaa-1 app/x\n").ok());
    std::filesystem::remove(path);
}

// The console's key for a run: random, found like any other, and never taking a configured key's name.
TEST(ApiKeys, SessionKeysAreRandomAndNamedApart) {
    auto keys = ApiKeys::Load(nullptr, "");
    ASSERT_TRUE(keys.ok());
    const std::string a = keys->AddSessionKey("console", kRoleOperator);
    const std::string b = keys->AddSessionKey("console", kRoleOperator | kRoleReport);
    EXPECT_EQ(a.size(), 32u);
    EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_NE(a, b);
    ASSERT_NE(keys->Find(a), nullptr);
    EXPECT_EQ(keys->Find(a)->name, "console");
    EXPECT_EQ(keys->Find(b)->name, "console-2");
    EXPECT_FALSE(keys->Find(a)->Has(kRoleReport));
    EXPECT_TRUE(keys->Find(b)->Has(kRoleReport));
}

class ApiTest : public ::testing::Test {
protected:
    void SetUp() override {
        path_ = (std::filesystem::temp_directory_path() / ("cb_api_" + std::to_string(::getpid()) + ".db")).string();
        engine_ = std::move(incident::IncidentEngine::Open(std::move(incident::OpenSqliteStore(path_)).value(),
                                                           incident::Taxonomy::Default()))
                      .value();
        intake_ = std::make_unique<incident::IntakeQueue>(*engine_);
        api_ = std::make_unique<Api>(*engine_, *intake_, Keys(), "http://test");
    }
    virtual ApiKeys Keys() { return std::move(ApiKeys::Load("k-0123456789abcdef", "")).value(); }
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
        ApiRequest req{method, target, body, "application/x-www-form-urlencoded", key, "", ""};
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

/// Four tenants: two citizen apps, the camera network and the operations centre.
class ApiRolesTest : public ApiTest {
protected:
    static constexpr const char* kAppA = "aaaaaaaaaaaaaaaa-1";
    static constexpr const char* kAppB = "bbbbbbbbbbbbbbbb-2";
    static constexpr const char* kCams = "cccccccccccccccc-3";
    static constexpr const char* kOps = "dddddddddddddddd-4";
    ApiKeys Keys() override {
        keys_path_ = path_ + ".keys";
        std::ofstream(keys_path_) << kAppA << " app-a report\n"
                                  << kAppB << " app-b report\n"
                                  << kCams << " cams device\n"
                                  << kOps << " ops operator\n";
        return std::move(ApiKeys::Load(nullptr, keys_path_)).value();
    }
    void TearDown() override {
        ApiTest::TearDown();
        std::filesystem::remove(keys_path_);
    }
    ApiResponse Json(const std::string& method,
                     const std::string& target,
                     const std::string& body,
                     const std::string& key,
                     const std::string& idempotency = "") {
        ApiRequest req{method, target, body, "application/json", key, idempotency, ""};
        std::promise<ApiResponse> p;
        api_->Handle(req, [&p](ApiResponse r) { p.set_value(std::move(r)); });
        return p.get_future().get();
    }
    static std::string ErrorField(const ApiResponse& r) {
        return nlohmann::json::parse(r.body, nullptr, false).value("field", "");
    }
    std::string keys_path_;
};

// Issue 13, item 17: case details (operators, notes, citizens' text) need the operator role; device evidence
// needs the device role.
TEST_F(ApiRolesTest, EachRoleDoesOnlyItsOwnWork) {
    auto filed =
        Call("POST", "/open311/v2/requests.json", "service_code=noise&lat=22.72&long=114.25&description=x", kAppA);
    ASSERT_EQ(filed.status, 201) << filed.body;
    for (const std::string target : {"/api/v1/cases", "/api/v1/cases/1"}) {
        auto r = Json("GET", target, "", kAppA);
        EXPECT_EQ(r.status, 403) << target;
        EXPECT_EQ(ErrorField(r), "api_key");
        EXPECT_NE(r.body.find("operator"), std::string::npos) << r.body;
        EXPECT_EQ(Json("GET", target, "", "").status, 403) << target;
        EXPECT_EQ(Json("GET", target, "", kOps).status, 200) << target;
    }
    // Open311's public view still shows the request to anyone.
    EXPECT_EQ(Call("GET", "/open311/v2/requests.json", "", "").status, 200);
    EXPECT_EQ(Json("POST", "/api/v1/cases/1/transitions", R"({"action":"file","actor":"李"})", kAppA).status, 403);
    EXPECT_EQ(Json("POST", "/api/v1/cases/1/transitions", R"({"action":"file","actor":"李"})", kOps).status, 200);

    const std::string camera = R"({"source":"camera","confidence":1,"service_code":"street_vending",)"
                               R"("lat":22.721,"long":114.251})";
    auto spoofed = Json("POST", "/api/v1/reports", camera, kAppA);
    EXPECT_EQ(spoofed.status, 403) << spoofed.body;
    EXPECT_NE(spoofed.body.find("device"), std::string::npos) << spoofed.body;
    EXPECT_EQ(Json("POST", "/api/v1/reports", camera, kCams).status, 201);
    const std::string event =
        R"({"device":"cam-7","type":"camera","event_id":"e1","category":"street_vending","lat":22.7,"long":114.2})";
    EXPECT_EQ(Json("POST", "/api/v1/events", event, kAppA).status, 403);
    EXPECT_EQ(Json("POST", "/api/v1/reports", R"({"service_code":"noise","lat":22.7,"long":114.2})", kCams).status,
              403);

    // The key's name is on every write: the report and the transition.
    auto detail = nlohmann::json::parse(Json("GET", "/api/v1/cases/1", "", kOps).body);
    EXPECT_EQ(detail["reports"][0]["via"], "app-a");
    EXPECT_EQ(detail["history"].back()["via"], "ops");
    EXPECT_EQ(detail["history"].back()["actor"], "李");
}

// Issue 13, item 15: an idempotency key belongs to the API key that sent it.
TEST_F(ApiRolesTest, IdempotencyKeysAreScopedPerApiKey) {
    const std::string body = R"({"service_code":"noise","lat":22.72,"long":114.25,"description":"吵"})";
    auto a = Json("POST", "/api/v1/reports", body, kAppA, "retry-1");
    ASSERT_EQ(a.status, 201) << a.body;
    auto b = Json("POST", "/api/v1/reports", body, kAppB, "retry-1");
    ASSERT_EQ(b.status, 201) << "tenant B got tenant A's receipt: " << b.body;
    const auto a_id = nlohmann::json::parse(a.body)["report_id"];
    EXPECT_NE(nlohmann::json::parse(b.body)["report_id"], a_id);
    auto again = Json("POST", "/api/v1/reports", body, kAppA, "retry-1");
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(nlohmann::json::parse(again.body)["report_id"], a_id);
    // The same through Open311's form field.
    auto o1 =
        Call("POST", "/open311/v2/requests.json", "service_code=noise&lat=22.7&long=114.2&idempotency_key=k", kAppA);
    auto o2 =
        Call("POST", "/open311/v2/requests.json", "service_code=noise&lat=22.7&long=114.2&idempotency_key=k", kAppB);
    EXPECT_EQ(o1.status, 201);
    EXPECT_EQ(o2.status, 201);
    EXPECT_EQ(Json("POST", "/api/v1/reports", body, kAppA, std::string(257, 'k')).status, 400);
}

// Issue 13, item 3: address_id is the caller's id for a place, kept apart from the address.
// Issue 14, item 1: a message the brain could not place in a category shows an operator the classifier's
// guesses; the operator confirms one by filing the case with it.
TEST_F(ApiRolesTest, AnOperatorConfirmsOneOfTheGuesses) {
    auto posted = Json("POST",
                       "/api/v1/reports",
                       R"({"service_code":"other","description":"小区门口长期占道停车","lat":22.72,"long":114.25})",
                       kAppA);
    ASSERT_EQ(posted.status, 201) << posted.body;
    const auto id = std::to_string(nlohmann::json::parse(posted.body)["case_id"].get<int64_t>());
    auto detail = nlohmann::json::parse(Json("GET", "/api/v1/cases/" + id, "", kOps).body);
    ASSERT_EQ(detail["guesses"].size(), 2u) << detail.dump();
    EXPECT_EQ(detail["guesses"][0]["category"], "illegal_parking");
    EXPECT_EQ(detail["guesses"][1]["category"], "street_vending");
    EXPECT_GT(detail["guesses"][0]["confidence"].get<double>(), detail["guesses"][1]["confidence"].get<double>());
    auto bad = Json("POST",
                    "/api/v1/cases/" + id + "/transitions",
                    R"({"action":"file","actor":"李","category":"nonsense"})",
                    kOps);
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(ErrorField(bad), "category");
    auto filed = Json("POST",
                      "/api/v1/cases/" + id + "/transitions",
                      R"({"action":"file","actor":"李","category":"street_vending"})",
                      kOps);
    ASSERT_EQ(filed.status, 200) << filed.body;
    EXPECT_EQ(nlohmann::json::parse(filed.body)["category"], "street_vending");
    detail = nlohmann::json::parse(Json("GET", "/api/v1/cases/" + id, "", kOps).body);
    EXPECT_EQ(detail["status"], "filed");
    EXPECT_FALSE(detail.contains("guesses"));  // decided: nothing left to guess
    EXPECT_EQ(detail["history"].back()["note"], "category other -> street_vending");
    EXPECT_EQ(detail["history"].back()["via"], "ops");
}

TEST_F(ApiTest, AddressIdIsStoredAndReturnedAsItself) {
    auto one = Call("POST", "/open311/v2/requests.json", "service_code=missing_manhole&address_id=BLDG-0042");
    ASSERT_EQ(one.status, 201) << one.body;
    const auto id = nlohmann::json::parse(one.body)[0]["service_request_id"].get<std::string>();
    auto got = nlohmann::json::parse(Call("GET", "/open311/v2/requests/" + id + ".json").body);
    EXPECT_EQ(got[0]["address_id"], "BLDG-0042");
    EXPECT_TRUE(got[0]["address"].is_null()) << got.dump();
    auto xml = Call("GET", "/open311/v2/requests/" + id + ".xml");
    EXPECT_NE(xml.body.find("<address_id>BLDG-0042</address_id>"), std::string::npos) << xml.body;
    // The same address_id is the same place (a duplicate); another one is not.
    auto same = nlohmann::json::parse(
        Call("POST", "/open311/v2/requests.json", "service_code=missing_manhole&address_id=BLDG-0042").body);
    auto other = nlohmann::json::parse(
        Call("POST", "/open311/v2/requests.json", "service_code=missing_manhole&address_id=BLDG-0043").body);
    auto listed = nlohmann::json::parse(Call("GET", "/open311/v2/requests.json?service_code=missing_manhole").body);
    std::map<std::string, std::string> case_of;
    for (const auto& r : listed) case_of[r["service_request_id"]] = r["case_id"];
    EXPECT_EQ(case_of[same[0]["service_request_id"]], case_of[id]);
    EXPECT_NE(case_of[other[0]["service_request_id"]], case_of[id]);
    // With both, each keeps its own field.
    auto both = Call("POST", "/open311/v2/requests.json", "service_code=noise&address_string=吉祥路1号&address_id=A7");
    const auto both_id = nlohmann::json::parse(both.body)[0]["service_request_id"].get<std::string>();
    auto b = nlohmann::json::parse(Call("GET", "/open311/v2/requests/" + both_id + ".json").body);
    EXPECT_EQ(b[0]["address"], "吉祥路1号");
    EXPECT_EQ(b[0]["address_id"], "A7");
}

// Issue 13, item 10: a NUL is refused at intake by name, whatever the store.
TEST_F(ApiTest, NulInTextIsRefusedByName) {
    auto r = Call("POST", "/open311/v2/requests.json", "service_code=noise&lat=22.7&long=114.2&description=a%00b");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("description: contains a NUL"), std::string::npos) << r.body;
    EXPECT_EQ(Call("POST", "/open311/v2/requests.json", "service_code=noise&address_string=x%00").status, 400);
}

// Issue 13, item 1: one endpoint is still a list, in JSON and in XML, and XML is text/xml.
TEST_F(ApiTest, DiscoveryListsItsEndpointInBothFormats) {
    auto j = nlohmann::json::parse(Call("GET", "/open311/v2/discovery.json").body);
    ASSERT_TRUE(j["endpoints"].is_array());
    EXPECT_EQ(j["endpoints"].size(), 1u);
    EXPECT_TRUE(j["endpoints"][0]["formats"].is_array());
    auto xml = Call("GET", "/open311/v2/discovery.xml");
    EXPECT_EQ(xml.content_type.rfind("text/xml", 0), 0u) << xml.content_type;
    EXPECT_NE(xml.body.find("<endpoints><endpoint><changeset>"), std::string::npos) << xml.body;
    EXPECT_NE(xml.body.find("<formats><format>application/json</format><format>text/xml</format></formats>"),
              std::string::npos);
}

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

// Issue 13, item 2: a jurisdiction that is not ours is a resource we do not have.
TEST_F(ApiTest, AnotherJurisdictionIsNotFound) {
    EXPECT_EQ(Call("GET", "/open311/v2/services.json?jurisdiction_id=longgang.shenzhen.gov.cn").status, 200);
    auto other = Call("GET", "/open311/v2/services.json?jurisdiction_id=futian.shenzhen.gov.cn");
    EXPECT_EQ(other.status, 404);
    EXPECT_NE(other.body.find("jurisdiction_id"), std::string::npos) << other.body;
    EXPECT_EQ(Call("GET", "/open311/v2/requests.xml?jurisdiction_id=nowhere").status, 404);
    auto post = Call("POST",
                     "/open311/v2/requests.json",
                     "jurisdiction_id=futian.shenzhen.gov.cn&service_code=noise&lat=22.72&long=114.25");
    EXPECT_EQ(post.status, 404) << post.body;
    EXPECT_EQ(engine_->ComputeStats(0)->reports, 0) << "a report for another jurisdiction was stored";
    EXPECT_EQ(Call("POST",
                   "/open311/v2/requests.json",
                   "jurisdiction_id=longgang.shenzhen.gov.cn&service_code=noise&lat=22.72&long=114.25")
                  .status,
              201);
}

// Issue 13, item 5: a method a resource does not take is 405 with Allow, never 404; HEAD is a GET.
TEST_F(ApiTest, WrongMethodsGet405WithAllow) {
    const std::tuple<const char*, const char*, const char*> cases[] = {
        {"DELETE", "/open311/v2/requests.json", "GET, HEAD, POST"},
        {"PUT", "/open311/v2/services.json", "GET, HEAD"},
        {"POST", "/api/v1/cases", "GET, HEAD"},
        {"DELETE", "/api/v1/health", "GET, HEAD"},
        {"GET", "/api/v1/reports", "POST"},
        {"PATCH", "/api/v1/cases/1", "GET, HEAD"},
        {"GET", "/api/v1/cases/1/transitions", "POST"},
    };
    for (const auto& [method, target, allow] : cases) {
        const ApiResponse r = Call(method, target);
        EXPECT_EQ(r.status, 405) << method << " " << target << ": " << r.body;
        EXPECT_EQ(r.allow, allow) << method << " " << target;
    }
    EXPECT_EQ(Call("HEAD", "/api/v1/health").status, 200);
    EXPECT_EQ(Call("HEAD", "/open311/v2/services.xml").status, 200);
}

// Issue 13, item 8: a body that cannot be decoded is a 400 naming the problem, even when its key is inside it.
TEST_F(ApiTest, AMalformedFormIsA400NotA403) {
    const ApiResponse r = Call("POST",
                               "/open311/v2/requests.json",
                               "api_key=k-0123456789abcdef&service_code=noise&lat=%G1&long=114.25",
                               /*key=*/"");
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("lat"), std::string::npos) << r.body;
}

// Issue 13, item 7: an error never echoes invalid UTF-8 nor cuts a character in half, in JSON or XML.
TEST_F(ApiTest, ErrorBodiesAreValidUtf8) {
    const std::string long_code = "占道经营占道经营占道经营占道经营占道经营占道";  // 22 characters, 66 bytes
    const std::string targets[] = {
        "/open311/v2/requests.json?status=%FF",
        "/open311/v2/requests.xml?status=%FF%FE",
        "/open311/v2/services/%E5%8D.json",
        "/api/v1/cases?category=%C3%28",
        "/api/v1/cases?%FFkey=1",
    };
    for (const std::string& target : targets) {
        const ApiResponse r = Call("GET", target);
        EXPECT_GE(r.status, 400) << target;
        EXPECT_TRUE(core::ValidUtf8(r.body)) << target << ": " << r.body;
    }
    const ApiResponse r =
        Call("POST", "/open311/v2/requests.xml", "service_code=" + long_code + "&lat=22.72&long=114.25");
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(core::ValidUtf8(r.body)) << r.body;
    EXPECT_NE(r.body.find("占道经营占道经营占道经营占道经营占道经营占"), std::string::npos)
        << "the echo should keep whole characters: " << r.body;
    const ApiResponse j = Call("GET", "/api/v1/cases?category=" + long_code);
    EXPECT_TRUE(core::ValidUtf8(j.body)) << j.body;
    EXPECT_EQ(nlohmann::json::parse(j.body)["message"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos)
        << "a character was cut in half: " << j.body;
}

// Issue 13, item 9: a report's time far from now is refused by name, with the window; nothing is stored.
TEST_F(ApiTest, ReportTimesOutsideTheWindowAreRefused) {
    for (const char* when : {"9999-12-31T23:59:59Z", "1990-01-01T00:00:00Z"}) {
        const std::string report = std::string(R"({"source":"camera","service_code":"street_vending","lat":22.72,)") +
                                   R"("long":114.25,"time":")" + when + R"("})";
        const ApiResponse r = Call("POST", "/api/v1/reports", report);
        EXPECT_EQ(r.status, 400) << when << ": " << r.body;
        const auto j = nlohmann::json::parse(r.body);
        EXPECT_EQ(j["field"], "time");
        EXPECT_NE(j["message"].get<std::string>().find("window"), std::string::npos) << r.body;
        const std::string event = std::string(R"({"device":"cam-1","type":"camera","category":"street_vending",)") +
                                  R"("lat":22.72,"long":114.25,"time":")" + when + R"("})";
        EXPECT_EQ(Call("POST", "/api/v1/events", event).status, 400) << when;
    }
    EXPECT_EQ(engine_->ComputeStats(0)->reports, 0);
    const std::string now = core::FormatTimestamp(core::NowMs() - 60'000);
    EXPECT_EQ(
        Call("POST",
             "/api/v1/events",
             R"({"device":"cam-1","type":"camera","category":"street_vending","lat":22.72,"long":114.25,"time":")" +
                 now + R"("})")
            .status,
        201);
}

TEST_F(ApiTest, JsonErrorsHaveOneShapeWithTheRequestId) {
    ApiRequest req{"GET", "/api/v1/cases?status=nonsense", "", "", "k-0123456789abcdef", "", "req-42"};
    std::promise<ApiResponse> p;
    api_->Handle(req, [&p](ApiResponse r) { p.set_value(std::move(r)); });
    const ApiResponse r = p.get_future().get();
    ASSERT_EQ(r.status, 400);
    const auto j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["code"], "invalid_argument");
    EXPECT_EQ(j["field"], "status");
    EXPECT_EQ(j["request_id"], "req-42");
    EXPECT_NE(j["message"].get<std::string>().find("nonsense"), std::string::npos) << r.body;
    EXPECT_EQ(j.size(), 4u) << r.body;
    // Framing errors use the same function: Open311's list (XML on .xml paths) there, ours elsewhere.
    const ApiResponse xml = ErrorFor("/open311/v2/requests.xml", 413, "body", "too large", "7");
    EXPECT_EQ(xml.status, 413);
    EXPECT_NE(xml.content_type.find("xml"), std::string::npos);
    EXPECT_NE(xml.body.find("<errors>"), std::string::npos) << xml.body;
    EXPECT_EQ(nlohmann::json::parse(ErrorFor("/open311/v2/requests.json", 400, "http", "bad", "7").body)[0]["code"],
              400);
    EXPECT_EQ(nlohmann::json::parse(ErrorFor("/api/v1/cases", 413, "body", "too large", "7").body)["request_id"], "7");
}

/// A store whose reads fail (a disk error naming a path) or throw: what the server must not pass on to a client.
class BrokenStore : public incident::ForwardingStore {
public:
    explicit BrokenStore(std::unique_ptr<incident::Store> inner, bool throws)
        : ForwardingStore(std::move(inner)), throws_(throws) {}
    Result<std::vector<incident::Case>> ListCases(const incident::CaseFilter&, incident::TimeMs) override {
        if (throws_) throw std::runtime_error("std::bad_alloc in /srv/secret/cases.db");
        return Error{ErrorCode::kInternal, "disk I/O error reading /srv/secret/cases.db", ""};
    }
    Result<std::vector<incident::RequestView>> ListRequests(const incident::RequestFilter&) override {
        return Error{ErrorCode::kInternal, "disk I/O error reading /srv/secret/cases.db", ""};
    }

private:
    bool throws_;
};

TEST(ApiFailures, ServerErrorsAreGenericAndNeverEscape) {
    for (const bool throws : {false, true}) {
        const std::string path =
            (std::filesystem::temp_directory_path() / ("cb_api_broken_" + std::to_string(::getpid()) + ".db")).string();
        auto store = std::make_unique<BrokenStore>(std::move(incident::OpenSqliteStore(path)).value(), throws);
        auto engine =
            std::move(incident::IncidentEngine::Open(std::move(store), incident::Taxonomy::Default())).value();
        incident::IntakeQueue intake(*engine);
        Api api(*engine, intake, std::move(ApiKeys::Load("k-0123456789abcdef", "")).value(), "http://test");
        for (const std::string target : {"/api/v1/cases", "/open311/v2/requests.json"}) {
            if (throws && target != "/api/v1/cases") continue;
            ApiRequest req{"GET", target, "", "", "k-0123456789abcdef", "", "req-9"};
            std::promise<ApiResponse> p;
            api.Handle(req, [&p](ApiResponse r) { p.set_value(std::move(r)); });
            const ApiResponse r = p.get_future().get();
            EXPECT_EQ(r.status, 500) << target;
            EXPECT_EQ(r.body.find("secret"), std::string::npos) << "a 5xx body leaks the cause: " << r.body;
            EXPECT_NE(r.detail.find("secret"), std::string::npos) << "the log lost the cause";
            if (target == "/api/v1/cases") {
                const auto j = nlohmann::json::parse(r.body);
                EXPECT_EQ(j["code"], "internal");
                EXPECT_EQ(j["request_id"], "req-9");
            }
        }
        for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
    }
}

}  // namespace
}  // namespace citybrain::server
