// SPDX-License-Identifier: Apache-2.0
// The HTTP stack's own bookkeeping, over real loopback sockets: the connection cap, and shutdown with clients
// still connected.
#include "server/http_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

namespace citybrain::server {
namespace {

int Connect(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

/// Polls `done` for up to 10 s (a condition, not a timing: the test fails only if it never holds).
template <class F>
bool Eventually(F done) {
    for (int i = 0; i < 1000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return done();
}

class HttpServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        path_ = (std::filesystem::temp_directory_path() / ("cb_http_" + std::to_string(::getpid()) + ".db")).string();
        engine_ = std::move(incident::IncidentEngine::Open(std::move(incident::OpenSqliteStore(path_)).value(),
                                                           incident::Taxonomy::Default()))
                      .value();
        intake_ = std::make_unique<incident::IntakeQueue>(*engine_);
        api_ = std::make_unique<Api>(*engine_, *intake_, std::move(ApiKeys::Load(nullptr, "")).value(), "http://t");
    }
    void TearDown() override {
        api_.reset();
        intake_.reset();
        engine_.reset();
        for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + s);
    }
    std::string path_;
    std::unique_ptr<incident::IncidentEngine> engine_;
    std::unique_ptr<incident::IntakeQueue> intake_;
    std::unique_ptr<Api> api_;
};

// Issue 13, item 11: at the cap, the oldest idle connection makes room for a new one; and a server stopped and
// destroyed with clients still connected lets them go cleanly.
TEST_F(HttpServerTest, CapShedsTheOldestIdleAndShutdownLeavesNothingBehind) {
    ServerOptions options;
    options.port = 0;
    options.threads = 1;
    options.access_log = "";
    options.max_connections = 4;
    auto server = std::make_unique<HttpServer>(*api_, options);
    auto port = server->Start();
    ASSERT_TRUE(port.ok()) << port.error().ToString();
    EXPECT_EQ(server->MaxConnections(), 4u);
    std::thread io([&] { server->Run(); });
    std::vector<int> fds;
    for (int i = 0; i < 4; ++i) {
        fds.push_back(Connect(*port));
        ASSERT_GE(fds.back(), 0);
        ASSERT_TRUE(Eventually([&] { return server->Connections() == fds.size(); }));
    }
    fds.push_back(Connect(*port));  // the fifth: the first, idle longest, is closed for it
    ASSERT_GE(fds.back(), 0);
    char byte = 0;
    timeval wait{10, 0};
    setsockopt(fds[0], SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    EXPECT_EQ(::recv(fds[0], &byte, 1, 0), 0) << "the oldest idle connection was not closed";
    EXPECT_TRUE(Eventually([&] { return server->Connections() <= 4; }));
    // The newest one is served.
    const std::string get = "GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n";
    ASSERT_EQ(::send(fds.back(), get.data(), get.size(), 0), static_cast<ssize_t>(get.size()));
    setsockopt(fds.back(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    char reply[64] = {};
    ASSERT_GT(::recv(fds.back(), reply, sizeof reply - 1, 0), 0);
    EXPECT_EQ(std::string(reply).rfind("HTTP/1.1 200", 0), 0u) << reply;
    // Stopped and destroyed while three clients are still connected.
    server->Stop();
    io.join();
    server.reset();
    for (int fd : fds) ::close(fd);
}

}  // namespace
}  // namespace citybrain::server
