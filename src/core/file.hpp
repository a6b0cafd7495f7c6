// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

#include "core/error.hpp"

namespace citybrain::core {

/// Reads a whole file; NotFound when it cannot be opened or read.
Result<std::string> ReadFile(const std::string& path);

}  // namespace citybrain::core
