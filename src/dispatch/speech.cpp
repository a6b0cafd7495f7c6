// SPDX-License-Identifier: Apache-2.0
#include "dispatch/speech.hpp"

#include <espeak-ng/speak_lib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <utility>

#include "core/utf8.hpp"

namespace citybrain::dispatch {

namespace {

struct Reading {
    char32_t code;
    const char* pinyin;
};
constexpr Reading kReadings[] = {
#include "pinyin_table.inc"
};

/// Words whose characters' most common readings are wrong together, as they appear in notices and replies.
struct Word {
    std::u32string_view text;
    const char* pinyin;
};
constexpr Word kWords[] = {
    {U"处理", "chu3 li3"},
    {U"长时间", "chang2 shi2 jian1"},
    {U"长期", "chang2 qi1"},
    {U"作为", "zuo4 wei2"},
    {U"银行", "yin2 hang2"},
    {U"行人", "xing2 ren2"},
    {U"重新", "chong2 xin1"},
    {U"了解", "liao3 jie3"},
    {U"朝阳", "zhao1 yang2"},
};

constexpr const char* kDigits[] = {"ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3"};

const char* Lookup(char32_t c) {
    const auto* end = std::end(kReadings);
    const auto* it =
        std::lower_bound(std::begin(kReadings), end, c, [](const Reading& r, char32_t v) { return r.code < v; });
    return it != end && it->code == c ? it->pinyin : nullptr;
}

bool IsPause(char32_t c) {
    switch (c) {
        case U'，':
        case U'。':
        case U'！':
        case U'？':
        case U'；':
        case U'：':
        case U'、':
        case U',':
        case U'.':
        case U'!':
        case U'?':
        case U';':
        case U':':
        case U'\n':
            return true;
        default:
            return false;
    }
}

/// Applies the tone changes within a run of syllables (no pause between them).
void Sandhi(std::vector<std::pair<char32_t, std::string>>& run) {
    const auto tone = [](const std::string& s) { return s.back(); };
    for (size_t i = 0; i + 1 < run.size(); ++i) {
        auto& [c, py] = run[i];
        const char next = tone(run[i + 1].second);
        if (c == U'不' && next == '4') {
            py = "bu2";
        } else if (c == U'一' && (i == 0 || run[i - 1].first != U'第')) {  // 第一 keeps yi1
            py = next == '4' ? "yi2" : (next >= '1' && next <= '3') ? "yi4" : py;
        }
    }
    // Third before third becomes second, from the right (你好 ni2 hao3; 展览馆 zhan2 lan2 guan3).
    for (size_t i = run.size(); i-- > 1;) {
        if (tone(run[i].second) == '3' && tone(run[i - 1].second) == '3') {
            run[i - 1].second.back() = '2';
        }
    }
}

}  // namespace

Result<std::string> ToPinyin(std::string_view text) {
    if (!core::ValidUtf8(text)) return InvalidArgument("text", "is not valid UTF-8");
    const std::u32string s = core::DecodeUtf8(text);
    std::string out;
    std::vector<std::pair<char32_t, std::string>> run;  // syllables since the last pause; char 0 for non-Chinese
    const auto flush = [&](const char* pause) {
        Sandhi(run);
        for (const auto& [c, py] : run) {
            if (!out.empty() && out.back() != ' ') out += ' ';
            out += py;
        }
        run.clear();
        if (pause != nullptr && !out.empty() && out.back() != ',' && out.back() != '.') out += pause;
    };
    bool spoken = false;
    for (size_t i = 0; i < s.size();) {
        const char32_t c = s[i];
        bool word = false;
        for (const auto& w : kWords) {
            if (s.compare(i, w.text.size(), w.text) == 0) {
                // Split the word's readings over its characters so sandhi still sees each syllable.
                std::string_view py = w.pinyin;
                for (size_t k = 0; k < w.text.size(); ++k) {
                    const size_t sp = py.find(' ');
                    run.emplace_back(w.text[k], std::string(py.substr(0, sp)));
                    py = sp == std::string_view::npos ? std::string_view() : py.substr(sp + 1);
                }
                i += w.text.size();
                word = spoken = true;
                break;
            }
        }
        if (word) continue;
        if (IsPause(c)) {
            flush(c == U'。' || c == U'.' || c == U'！' || c == U'!' || c == U'？' || c == U'?' ? "." : ",");
        } else if (c == U' ' || c == U'\t' || c == U'\u3000') {
            // spaces separate nothing in Chinese
        } else if (c >= U'0' && c <= U'9') {
            run.emplace_back(c, kDigits[c - U'0']);
            spoken = true;
        } else if (c >= U'０' && c <= U'９') {
            run.emplace_back(c, kDigits[c - U'０']);
            spoken = true;
        } else if ((c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z')) {
            // A Latin word (a plate number, "APP") is spelt as it is; it takes no part in sandhi.
            std::string latin;
            while (i < s.size() && ((s[i] >= U'a' && s[i] <= U'z') || (s[i] >= U'A' && s[i] <= U'Z'))) {
                latin += static_cast<char>(s[i] | 0x20);
                ++i;
            }
            flush(nullptr);
            if (!out.empty()) out += ' ';
            out += latin;
            spoken = true;
            continue;
        } else if (const char* py = Lookup(c)) {
            run.emplace_back(c, py);
            spoken = true;
        } else {
            char hex[16];
            std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(c));
            return InvalidArgument("text",
                                   "character " + std::to_string(i + 1) + " (" + hex + ") has no Mandarin reading");
        }
        ++i;
    }
    flush(nullptr);
    if (!spoken) return InvalidArgument("text", "has nothing to say");
    while (!out.empty() && (out.back() == ',' || out.back() == '.' || out.back() == ' ')) out.pop_back();
    return out;
}

namespace {

std::mutex g_espeak_mutex;
int g_sample_rate = 0;
std::vector<int16_t>* g_sink = nullptr;

int Collect(short* wav, int count, espeak_EVENT* /*events*/) {
    if (wav != nullptr && count > 0 && g_sink != nullptr) g_sink->insert(g_sink->end(), wav, wav + count);
    return 0;
}

}  // namespace

Result<Wave> SynthesizePinyin(const std::string& pinyin) {
    if (pinyin.empty()) return InvalidArgument("text", "is empty");
    std::lock_guard lock(g_espeak_mutex);
    if (g_sample_rate <= 0) {
        g_sample_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, 0);
        if (g_sample_rate <= 0) {
            return Error{ErrorCode::kUnavailable, "espeak-ng could not start (is espeak-ng-data installed?)", "speak"};
        }
        espeak_SetSynthCallback(Collect);
        if (espeak_SetVoiceByName("cmn-latn-pinyin") != EE_OK) {
            g_sample_rate = 0;
            return Error{ErrorCode::kUnavailable, "espeak-ng has no cmn-latn-pinyin voice", "speak"};
        }
    }
    Wave wave;
    wave.sample_rate = g_sample_rate;
    g_sink = &wave.samples;
    const espeak_ERROR rc =
        espeak_Synth(pinyin.c_str(), pinyin.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, nullptr, nullptr);
    espeak_Synchronize();
    g_sink = nullptr;
    if (rc != EE_OK) return Error{ErrorCode::kInternal, "espeak-ng failed to synthesise", "speak"};
    return wave;
}

Result<Wave> SpeakChinese(std::string_view text) {
    CB_TRY_ASSIGN(const std::string pinyin, ToPinyin(text));
    return SynthesizePinyin(pinyin);
}

std::string EncodeWav(const Wave& wave) {
    std::string out;
    const auto u32 = [&](uint32_t v) {
        for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
    };
    const auto u16 = [&](uint16_t v) {
        out += static_cast<char>(v & 0xFF);
        out += static_cast<char>(v >> 8);
    };
    const auto data_bytes = static_cast<uint32_t>(wave.samples.size() * 2);
    out += "RIFF";
    u32(36 + data_bytes);
    out += "WAVEfmt ";
    u32(16);
    u16(1);  // PCM
    u16(1);  // mono
    u32(static_cast<uint32_t>(wave.sample_rate));
    u32(static_cast<uint32_t>(wave.sample_rate) * 2);
    u16(2);
    u16(16);
    out += "data";
    u32(data_bytes);
    for (const int16_t s : wave.samples) u16(static_cast<uint16_t>(s));
    return out;
}

Status WriteWav(const std::string& path, const Wave& wave) {
    const std::string bytes = EncodeWav(wave);
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return InvalidArgument(path, std::string("cannot write: ") + std::strerror(errno));
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    if (std::fclose(f) != 0 || !ok) return InvalidArgument(path, "write failed");
    return {};
}

}  // namespace citybrain::dispatch
