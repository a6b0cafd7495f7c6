// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for what the model gateway reads from outside: its configuration file, the server-sent events
// of an upstream's stream, and the bodies of chat and embedding calls (answered by citybrain-local, in process).
// The first byte picks which. Every input gets exactly one well-formed answer (a reply, or a stream that ends);
// SSE splitting does not depend on how the bytes are cut; nothing crashes.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agents/gateway.hpp"
#include "agents/gateway_config.hpp"
#include "agents/sse.hpp"

using namespace citybrain;

namespace {

class Sink : public agents::Responder {
public:
    void Reply(int status, std::string, std::string body, agents::Headers) override {
        if (replies++ > 0 || begun || status < 200 || status > 599 || body.empty()) __builtin_trap();
    }
    void Begin(int status, std::string, agents::Headers) override {
        if (begun || replies > 0 || status != 200) __builtin_trap();
        begun = true;
    }
    bool Write(std::string) override {
        if (!begun || ended) __builtin_trap();
        return true;
    }
    void End() override {
        if (!begun || ended) __builtin_trap();
        ended = true;
    }
    int replies = 0;
    bool begun = false;
    bool ended = false;
};

agents::Gateway& TheGateway() {
    static agents::Gateway* gateway = [] {
        char path[] = "/tmp/cb_gateway_fuzz_XXXXXX";
        const int fd = mkstemp(path);
        if (fd >= 0) close(fd);
        agents::GatewayOptions o;
        agents::KeyConfig k;
        k.name = "fuzz";
        k.sha256 = agents::Sha256Hex("fuzz-key-0001");
        o.config.keys.push_back(k);
        o.audit_path = path;
        o.io_threads = 1;
        auto g = agents::Gateway::Open(std::move(o));
        if (!g.ok()) std::abort();
        return std::move(g).value().release();
    }();
    return *gateway;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 4) {
        case 0: {
            const auto c = agents::ParseGatewayConfig(text, "fuzz");
            if (!c.ok() && c.error().where.empty()) __builtin_trap();
            break;
        }
        case 1: {
            agents::SseSplitter whole;
            agents::SseSplitter pieces;
            const auto expected = whole.Feed(text);
            std::vector<std::string> got;
            for (size_t i = 0; i < text.size(); i += 1 + i % 7) {
                for (auto& e : pieces.Feed(std::string_view(text).substr(i, 1 + i % 7))) got.push_back(std::move(e));
            }
            if (got != expected) __builtin_trap();
            break;
        }
        default: {
            auto sink = std::make_shared<Sink>();
            const char* path = data[0] % 4 == 2 ? "/v1/chat/completions" : "/v1/embeddings";
            TheGateway().Handle({"POST", path, text, "fuzz-key-0001", "1"}, sink);
            // citybrain-local answers in the call; a model it does not know is refused in the call too.
            if (sink->replies + (sink->ended ? 1 : 0) != 1) __builtin_trap();
            break;
        }
    }
    return 0;
}
