// SPDX-License-Identifier: Apache-2.0
// libFuzzer targets for the incident engine's edges: CSV exports, form bodies and timestamps, the taxonomy file,
// and whole API requests (target + body) against a real engine on a scratch SQLite file. Any input must give a
// result or a clean error, never a crash, hang or sanitizer report.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <future>
#include <string>
#include <string_view>

#include "core/time.hpp"
#include "incident/csv.hpp"
#include "incident/taxonomy.hpp"
#include "server/api.hpp"
#include "server/form.hpp"

using namespace citybrain;

#ifdef CB_FUZZ_CSV
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    incident::CsvReader reader(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.csv");
    std::vector<std::string> fields;
    Status status;
    size_t records = 0;
    while (reader.Next(fields, status)) {
        if (fields.empty()) __builtin_trap();  // a record always has at least one field
        ++records;
    }
    if (records > size + 1) __builtin_trap();
    return 0;
}
#endif

#ifdef CB_FUZZ_FORM
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto form = server::ParseForm(text);
    if (form.ok()) {
        for (const auto& [k, v] : *form) {
            if (k.size() > size || v.size() > size) __builtin_trap();
        }
    }
    auto t = core::ParseTimestamp(text, "fuzz");
    if (t.ok()) {
        // What we print we must read back to the same second.
        auto again = core::ParseTimestamp(core::FormatTimestamp(*t), "again");
        if (!again.ok() || *again / 1000 != (*t >= 0 ? *t / 1000 : (*t - 999) / 1000)) __builtin_trap();
    }
    return 0;
}
#endif

#ifdef CB_FUZZ_TAXONOMY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto t = incident::Taxonomy::Parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
    if (t.ok() && t->categories().empty()) __builtin_trap();
    return 0;
}
#endif

#ifdef CB_FUZZ_API
namespace {
struct World {
    World() {
        path =
            (std::filesystem::temp_directory_path() / ("cb_api_fuzz_" + std::to_string(::getpid()) + ".db")).string();
        for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
        engine = std::move(incident::IncidentEngine::Open(std::move(incident::OpenSqliteStore(path, false)).value(),
                                                          incident::Taxonomy::Default()))
                     .value();
        intake = std::make_unique<incident::IntakeQueue>(*engine);
        api = std::make_unique<server::Api>(*engine,
                                            *intake,
                                            std::move(server::ApiKeys::Load("fuzz-key-0123456789abcdef", "")).value(),
                                            "http://127.0.0.1");
    }
    std::string path;
    std::unique_ptr<incident::IncidentEngine> engine;
    std::unique_ptr<incident::IntakeQueue> intake;
    std::unique_ptr<server::Api> api;
};
}  // namespace

// Input: METHOD \n TARGET \n CONTENT-TYPE \n BODY.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static World world;
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto line = [&]() {
        const size_t nl = in.find('\n');
        std::string out(in.substr(0, nl));
        in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
        return out;
    };
    server::ApiRequest req;
    req.method = line();
    req.target = line();
    req.content_type = line();
    req.body = std::string(in);
    req.api_key = "fuzz-key-0123456789abcdef";
    std::promise<server::ApiResponse> done;
    auto answer = done.get_future();
    world.api->Handle(req, [&done](server::ApiResponse r) { done.set_value(std::move(r)); });
    const server::ApiResponse r = answer.get();
    if (r.status < 200 || r.status >= 600 || r.status >= 500) __builtin_trap();  // bad input is never a 5xx
    return 0;
}
#endif
