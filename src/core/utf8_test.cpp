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

TEST(Utf8, PrefixNeverCutsACharacter) {
    const std::string water = "积水积水";  // 12 bytes
    EXPECT_EQ(Utf8Prefix(water, 12), water);
    EXPECT_EQ(Utf8Prefix(water, 11), "积水积");
    EXPECT_EQ(Utf8Prefix(water, 7), "积水");
    EXPECT_EQ(Utf8Prefix(water, 2), "");
    EXPECT_EQ(Utf8Prefix("abc", 2), "ab");
}

TEST(Utf8, SanitizeTextKeepsWhatAnyParserTakes) {
    EXPECT_EQ(SanitizeText("积水 ok\t\n"), "积水 ok\t\n");
    const std::string bad[] = {"\xFF", "\xE6\xB0", "\xC0\xAF", "\xED\xA0\x80", "\xEF\xBF\xBE", "\x01", "\x7F"};
    for (const std::string& b : bad) {
        const std::string out = SanitizeText("a" + b + "z");
        EXPECT_TRUE(ValidUtf8(out)) << out;
        EXPECT_EQ(out.front(), 'a');
        EXPECT_EQ(out.back(), 'z');
        EXPECT_NE(out.find("\xEF\xBF\xBD"), std::string::npos) << "not replaced: " << out;
    }
    EXPECT_EQ(SanitizeText("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");  // a 4-byte character stays
}

}  // namespace
}  // namespace citybrain::core
