// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

#include "core/error.hpp"

namespace citybrain::core {

/// Where an http:// base URL points ("http://host:port/base/path").
struct HttpUrl {
    std::string host;
    std::string port = "80";
    std::string path;  // without a trailing slash; "" for none
};

/// Parses an http:// URL; errors name `field`. https is refused: put a TLS proxy in front.
Result<HttpUrl> ParseHttpUrl(const std::string& url, const std::string& field);

}  // namespace citybrain::core
