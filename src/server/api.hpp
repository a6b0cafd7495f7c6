// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "incident/engine.hpp"

namespace citybrain::agents {
class CitizenDesk;
}
namespace citybrain::vision {
class CameraSet;
class CameraFeeds;
}  // namespace citybrain::vision
namespace citybrain::clinic {
class Clinic;
}

namespace citybrain::server {

/// A request as the API sees it, independent of the HTTP library (so it is unit-tested and fuzzed directly).
struct ApiRequest {
    std::string method;  // GET, POST, …
    std::string target;  // path and query, e.g. /open311/v2/requests.json?status=open
    std::string body;
    std::string content_type;
    std::string api_key;          // X-API-Key, or the token of `Authorization: Bearer`
    std::string idempotency_key;  // Idempotency-Key header
    std::string request_id;       // the server's id for this request (X-Request-Id), echoed in error bodies
};

struct ApiResponse {
    int status = 200;
    std::string content_type = "application/json; charset=utf-8";
    std::string body;
    /// What went wrong inside, for the log only: a 5xx body stays generic.
    std::string detail;
    /// The body is CityBrain's error object, which gets the request id.
    bool json_error = false;
    /// For 405: the methods the resource takes (the Allow header).
    std::string allow;
    /// Further headers (Retry-After, the gateway's X-CityBrain-Upstream).
    std::vector<std::pair<std::string, std::string>> headers;
};

/// The HTTP status of an error's code, one mapping for every API of the server.
int HttpStatus(ErrorCode code);

/// An error in the shape the path's clients expect: Open311's `[{"code","description"}]` under /open311/ (XML on
/// `.xml` paths), and `{"code","message","field","request_id"}` everywhere else. A 5xx says nothing of the cause
/// (that goes to `detail`, for the log).
ApiResponse ErrorFor(std::string_view path,
                     int status,
                     const std::string& field,
                     const std::string& message,
                     const std::string& request_id);

/// What a key may do. A key without roles listed has them all (as every key did before roles existed).
enum Role : unsigned {
    kRoleReport = 1,    // post reports (Open311 and /api/v1/reports) as a citizen, hotline or inspector
    kRoleDevice = 2,    // speak for devices: /api/v1/events, and reports whose source is a camera, sensor or robot
    kRoleOperator = 4,  // read cases with their free text, operators and notes; move cases through the flow
    kRoleAll = 7,
};

/// One API key: its secret, the name recorded on everything it writes, and its roles.
struct ApiKey {
    std::string key;
    std::string name;
    unsigned roles = kRoleAll;
    bool Has(Role r) const { return (roles & r) != 0; }
};

/// API keys from CITYBRAIN_API_KEYS (comma-separated; named env-1, env-2, … with every role) and/or a keys file:
/// one key per line, `KEY [NAME [ROLES]]`, ROLES a comma list of report, device, operator (# starts a comment).
/// With none configured every write is refused: there is no built-in key.
class ApiKeys {
public:
    static Result<ApiKeys> Load(const char* env_value, const std::string& file);
    /// A fresh random key (32 hex digits from the system's entropy) named `name` with `roles`, added to the set:
    /// the console's key for this run, handed to the operator in the console's address. Returns the key.
    std::string AddSessionKey(const std::string& name, unsigned roles);
    bool empty() const { return keys_.empty(); }
    /// The key, or null. Compares against every key in time independent of where a difference lies.
    const ApiKey* Find(const std::string& key) const;
    bool Accepts(const std::string& key) const { return Find(key) != nullptr; }
    size_t size() const { return keys_.size(); }

private:
    std::vector<ApiKey> keys_;
};

/// Open311 GeoReport v2 under /open311/v2/ (JSON and XML) and CityBrain's JSON API for cases under /api/v1/.
/// It parses, validates, calls the incident engine's facade and renders; nothing else.
class Api {
public:
    /// `clock` is the brain's time (the wall clock by default; the simulated clock under `citybrain run`).
    Api(incident::IncidentEngine& engine,
        incident::IntakeQueue& intake,
        ApiKeys keys,
        std::string base_url,
        std::function<incident::TimeMs()> clock = {});

    /// Calls `done` exactly once, from this thread (reads) or the intake writer (after the commit of a POST). An
    /// exception inside becomes a generic 500; the detail is logged with the request id.
    void Handle(const ApiRequest& request, std::function<void(ApiResponse)> done);

    /// Turns on the citizen channel, POST and GET /api/v1/messages (before serving).
    void SetCitizenDesk(agents::CitizenDesk* desk) { desk_ = desk; }
    /// Turns on the cameras: POST /api/v1/cameras/{id}/frames, GET /api/v1/cameras and the snapshots.
    void SetCameras(vision::CameraSet* cameras, vision::CameraFeeds* feeds = nullptr) {
        cameras_ = cameras;
        camera_feeds_ = feeds;
    }
    /// Turns on clinic screening: POST /api/v1/clinic/sessions, POST …/{id}/answers, GET …/{id}.
    void SetClinic(clinic::Clinic* clinic) { clinic_ = clinic; }

    /// Responses that never change while the server runs (discovery, the service list), rendered once.
    struct Cached {
        ApiResponse discovery_json, discovery_xml, services_json, services_xml;
    };

private:
    incident::IncidentEngine& engine_;
    incident::IntakeQueue& intake_;
    ApiKeys keys_;
    std::string base_url_;
    std::function<incident::TimeMs()> clock_;
    Cached cached_;
    agents::CitizenDesk* desk_ = nullptr;
    vision::CameraSet* cameras_ = nullptr;
    vision::CameraFeeds* camera_feeds_ = nullptr;
    clinic::Clinic* clinic_ = nullptr;
};

}  // namespace citybrain::server
