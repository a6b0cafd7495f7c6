// SPDX-License-Identifier: Apache-2.0
#include "core/error.hpp"

namespace citybrain {

const char* ErrorCodeName(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument:
            return "InvalidArgument";
        case ErrorCode::kNotFound:
            return "NotFound";
        case ErrorCode::kFailedPrecondition:
            return "FailedPrecondition";
        case ErrorCode::kConflict:
            return "Conflict";
        case ErrorCode::kResourceExhausted:
            return "ResourceExhausted";
        case ErrorCode::kUnavailable:
            return "Unavailable";
        case ErrorCode::kInternal:
            return "Internal";
    }
    return "Internal";
}

}  // namespace citybrain
