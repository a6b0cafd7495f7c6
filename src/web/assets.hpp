// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string_view>
#include <vector>

namespace citybrain::web {

/// One file of the dashboard, embedded in the binary at build time (no files to install beside it).
struct Asset {
    std::string_view path;  // "/index.html"
    std::string_view content_type;
    std::string_view body;
};

const std::vector<Asset>& Assets();

}  // namespace citybrain::web
