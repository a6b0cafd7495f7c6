// SPDX-License-Identifier: Apache-2.0
#include "core/url.hpp"

namespace citybrain::core {

Result<HttpUrl> ParseHttpUrl(const std::string& url, const std::string& field) {
    constexpr std::string_view kScheme = "http://";
    if (url.rfind(kScheme, 0) != 0) {
        return InvalidArgument(field, "must start with http:// (https needs a TLS proxy in front)");
    }
    HttpUrl u;
    const std::string rest = url.substr(kScheme.size());
    const size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    u.path = slash == std::string::npos ? "" : rest.substr(slash);
    while (!u.path.empty() && u.path.back() == '/') u.path.pop_back();
    if (const size_t colon = authority.rfind(':'); colon != std::string::npos) {
        u.port = authority.substr(colon + 1);
        authority.resize(colon);
        if (u.port.empty() || u.port.size() > 5 || u.port.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(u.port) > 65535) {
            return InvalidArgument(field, "bad port in '" + url + "'");
        }
    }
    if (authority.empty()) return InvalidArgument(field, "no host in '" + url + "'");
    u.host = authority;
    return u;
}

}  // namespace citybrain::core
