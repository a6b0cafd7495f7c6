// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/error.hpp"

namespace citybrain::server {

struct LiveOptions {
    std::string address = "127.0.0.1";
    uint16_t port = 8080;  // 0 = any free port
};

/// The dashboard's server: static documents at fixed paths (the page, its script, the network) and a live feed
/// over WebSocket at /ws. Frames are pushed, not polled; a slow client skips frames (it only ever gets the newest
/// one after the one it is reading), so the simulation never waits for a browser. One io thread of its own.
class LiveServer {
public:
    explicit LiveServer(LiveOptions options);
    ~LiveServer();
    LiveServer(const LiveServer&) = delete;
    LiveServer& operator=(const LiveServer&) = delete;

    /// Serves `body` at `path` for GET and HEAD (replacing what was there). Thread-safe.
    void SetDocument(const std::string& path, const std::string& content_type, std::string body);
    /// Binds, listens and starts the io thread; returns the bound port. Unavailable (naming the address) when
    /// the port is taken.
    Result<uint16_t> Start();
    /// Sends a frame to every WebSocket client; a client that connects later gets the newest frame first.
    void Publish(std::string frame);
    size_t Clients() const;
    void Stop();

    struct Impl;  // public only so that the sessions in live_server.cpp can name it

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace citybrain::server
