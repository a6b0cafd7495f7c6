// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace citybrain::dispatch {

/// Chinese text to numbered pinyin, the input espeak-ng's `cmn-latn-pinyin` voice speaks correctly (Debian 12's
/// `cmn` voice reads the tone numbers of its own dictionary aloud in English). Each character takes its most common
/// reading (Unihan, from Debian's go-pinyin dictionary, embedded at build time), a few notice words take theirs
/// (处理 chu3 li3), and the tone changes of speech are applied: 不 and 一 before a fourth tone, third before third.
/// Digits are read one by one in Chinese, Latin letters pass through, Chinese punctuation becomes a pause. Empty
/// text, invalid UTF-8 or a character without a reading is an error naming it.
Result<std::string> ToPinyin(std::string_view text);

struct Wave {
    int sample_rate = 0;
    std::vector<int16_t> samples;  // mono
    double seconds() const { return sample_rate > 0 ? static_cast<double>(samples.size()) / sample_rate : 0; }
};

/// Speaks `pinyin` with espeak-ng's `cmn-latn-pinyin` voice. Thread-safe (espeak-ng has one global state; calls
/// are serialised).
Result<Wave> SynthesizePinyin(const std::string& pinyin);

/// A Mandarin notice (请不要占道经营，谢谢配合) as audio: ToPinyin, then SynthesizePinyin.
Result<Wave> SpeakChinese(std::string_view text);

/// A 16-bit PCM mono RIFF/WAVE file.
std::string EncodeWav(const Wave& wave);
Status WriteWav(const std::string& path, const Wave& wave);

}  // namespace citybrain::dispatch
