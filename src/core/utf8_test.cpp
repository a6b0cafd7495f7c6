// SPDX-License-Identifier: Apache-2.0
#include "core/utf8.hpp"

#include <gtest/gtest.h>

namespace citybrain::core {
namespace {

TEST(Utf8, DecodeEncodeRoundTripAcrossLengths) {
    const std::string text = "a\xC3\xA9\xE6\xB0\xB4\xF0\x9F\x98\x80";  // a é 水 😀: 1, 2, 3 and 4 bytes
    ASSERT_TRUE(ValidUtf8(text));
    const std::u32string cps = DecodeUtf8(text);
    EXPECT_EQ(cps, (std::u32string{U'a', U'é', U'水', U'\U0001F600'}));
    EXPECT_EQ(EncodeUtf8(cps), text);
    EXPECT_EQ(Utf8Length(text), cps.size());
    // A truncated sequence is never read past the end.
    EXPECT_EQ(DecodeUtf8("\xE6\xB0").size(), 1u);
}

}  // namespace
}  // namespace citybrain::core
