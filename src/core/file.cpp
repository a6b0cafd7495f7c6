// SPDX-License-Identifier: Apache-2.0
#include "core/file.hpp"

#include <fstream>
#include <sstream>

namespace citybrain::core {

Result<std::string> ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound(path, "cannot open file");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return NotFound(path, "read error");
    return ss.str();
}

}  // namespace citybrain::core
