// SPDX-License-Identifier: Apache-2.0
// Internal to src/server: opening a listening socket for the HTTP server.
#pragma once

// Boost 1.74's asio uses std::exchange without including <utility> (check-headers found it).
#include <utility>
// (in a block of its own, so that clang-format keeps it before asio)

#include <boost/asio.hpp>
#include <string>

#include "core/error.hpp"

namespace citybrain::server {

/// Opens, binds and listens on `address:port` (port 0: any free one); returns the bound port. InvalidArgument
/// (--address) for an address that is not an IP; Unavailable, naming the address, when it cannot listen.
inline Result<uint16_t> Listen(boost::asio::ip::tcp::acceptor& acceptor, const std::string& address, uint16_t port) {
    namespace net = boost::asio;
    boost::system::error_code ec;
    const auto ip = net::ip::make_address(address, ec);
    if (ec) return InvalidArgument("--address", "'" + address + "' is not an IP address");
    const net::ip::tcp::endpoint endpoint{ip, port};
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
        return Error{ErrorCode::kUnavailable, "cannot listen: " + ec.message(), address + ":" + std::to_string(port)};
    }
    return acceptor.local_endpoint().port();
}

}  // namespace citybrain::server
