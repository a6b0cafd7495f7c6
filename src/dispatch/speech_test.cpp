// SPDX-License-Identifier: Apache-2.0
#include "dispatch/speech.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/file.hpp"

namespace citybrain::dispatch {
namespace {

TEST(Pinyin, NoticeWithToneChanges) {
    // 不 before a fourth tone becomes bu2; the comma is a pause.
    EXPECT_EQ(ToPinyin("请不要占道经营，谢谢配合").value(),
              "qing3 bu2 yao4 zhan4 dao4 jing1 ying2, xie4 xie4 pei4 he2");
    EXPECT_EQ(ToPinyin("不好").value(), "bu4 hao3");
    // Third before third: 你好 ni2 hao3, and across a run from the right.
    EXPECT_EQ(ToPinyin("你好！").value(), "ni2 hao3");
    EXPECT_EQ(ToPinyin("一样").value(), "yi2 yang4");
    EXPECT_EQ(ToPinyin("第一天").value(), "di4 yi1 tian1");
    // Notice words with their own readings (处理 chu3 li3, then chu2 before li3), digits in Chinese, Latin passes
    // through, ü as v.
    EXPECT_EQ(ToPinyin("请尽快处理").value(), "qing2 jin3 kuai4 chu2 li3");
    EXPECT_EQ(ToPinyin("3号路口有APP绿灯").value(), "san1 hao4 lu4 kou2 you3 app lv4 deng1");
}

TEST(Pinyin, BadTextIsNamed) {
    EXPECT_EQ(ToPinyin("").error().ToString(), "text: has nothing to say");
    EXPECT_EQ(ToPinyin("，。").error().ToString(), "text: has nothing to say");
    EXPECT_EQ(ToPinyin("\xff\xfe").error().ToString(), "text: is not valid UTF-8");
    EXPECT_EQ(ToPinyin("请\xF0\x9F\x98\x80").error().ToString(), "text: character 2 (U+1F600) has no Mandarin reading");
}

double Rms(const Wave& w) {
    double sum = 0;
    for (const int16_t s : w.samples) sum += static_cast<double>(s) * s;
    return w.samples.empty() ? 0 : std::sqrt(sum / static_cast<double>(w.samples.size()));
}

TEST(Speech, NoticeIsRealAudioOfPlausibleLength) {
    const auto wave = SpeakChinese("请不要占道经营，谢谢配合");
    ASSERT_TRUE(wave.ok()) << wave.error().ToString();
    EXPECT_EQ(wave->sample_rate, 22050);
    // Eleven syllables and a pause: Mandarin runs at about 3 to 6 syllables a second.
    EXPECT_GT(wave->seconds(), 11 / 6.0);
    EXPECT_LT(wave->seconds(), 11 / 2.5 + 0.5);
    // Speech, not silence: a loud enough signal with many zero crossings.
    EXPECT_GT(Rms(*wave), 500);
    size_t crossings = 0;
    for (size_t i = 1; i < wave->samples.size(); ++i) crossings += (wave->samples[i - 1] < 0) != (wave->samples[i] < 0);
    EXPECT_GT(crossings, wave->samples.size() / 100);
}

TEST(Speech, ToneNumbersAreNotReadAloud) {
    // If the voice read "3" as a word (as Debian's cmn voice does), toned pinyin would take far longer than the
    // same syllables without tones.
    const auto toned = SynthesizePinyin("qing3 bu2 yao4 zhan4 dao4 jing1 ying2");
    const auto plain = SynthesizePinyin("qing bu yao zhan dao jing ying");
    ASSERT_TRUE(toned.ok() && plain.ok());
    EXPECT_LT(toned->seconds(), plain->seconds() * 1.25);
    EXPECT_GT(toned->seconds(), plain->seconds() * 0.75);
}

TEST(Speech, WavFileIsWellFormed) {
    const auto wave = SpeakChinese("道路积水，请绕行");
    ASSERT_TRUE(wave.ok()) << wave.error().ToString();
    const auto path = (std::filesystem::temp_directory_path() / "cb_speech_test.wav").string();
    ASSERT_TRUE(WriteWav(path, *wave).ok());
    const std::string bytes = core::ReadFile(path).value();
    std::filesystem::remove(path);
    ASSERT_EQ(bytes.size(), 44 + wave->samples.size() * 2);
    EXPECT_EQ(bytes.substr(0, 4), "RIFF");
    EXPECT_EQ(bytes.substr(8, 8), "WAVEfmt ");
    EXPECT_EQ(bytes.substr(36, 4), "data");
    const auto u32 = [&](size_t at) {
        uint32_t v = 0;
        for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[at + static_cast<size_t>(i)]);
        return v;
    };
    EXPECT_EQ(u32(24), 22050u);                    // sample rate
    EXPECT_EQ(u32(40), wave->samples.size() * 2);  // data size
    EXPECT_FALSE(WriteWav("/nonexistent/dir/x.wav", *wave).ok());
}

}  // namespace
}  // namespace citybrain::dispatch
