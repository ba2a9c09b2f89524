// PIM activations: every activation, thin justifications, long activations.
#include "connector/enrichment/rules/rules.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/utext.h>
#include <unicode/utypes.h>

#include "connector/enrichment/rules/rule_util.h"

namespace siem::rules {

void pim_activation(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!is_pim_activation(c.facts)) return;
  const std::string roles = c.privileged_roles.empty() ? std::string("a role") : role_names(c);
  out.push_back({"pa.pim.activation", 5, fmt::format("{} activated {} through PIM", target_label(c.facts), roles)});
}

namespace {
// White space and zero-width characters a justification may be padded with: ASCII white space,
// U+0085, U+00A0, U+1680, U+2000-U+200B, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF.
bool blank(char32_t cp) {
  return cp == U' ' || (cp >= U'\t' && cp <= U'\r') || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000 || cp == 0xFEFF;
}

// The code point of the UTF-8 sequence s[at, at + len) (len 1-4, as the lead byte says); an
// invalid sequence is no white space (U+FFFD).
char32_t decode(std::string_view s, std::size_t at, std::size_t len) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[at + i]); };
  if (len == 1) return byte(0) < 0x80 ? byte(0) : 0xFFFD;
  char32_t cp = byte(0) & (0x7F >> len);
  for (std::size_t i = 1; i < len; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  return cp;
}

std::size_t lead_length(unsigned char b) { return b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

// The user-perceived characters of `s` (extended grapheme clusters, Unicode UAX #29, as ICU segments
// them): a letter with combining accents, a flag, an emoji with its skin tone or a ZWJ family each
// count one; an invalid UTF-8 byte counts one. Without ICU's break data, its code points.
std::size_t grapheme_count(std::string_view s) {
  if (s.empty()) return 0;
  // ASCII alone (the usual justification): every character is a cluster of its own except CR LF,
  // which is one (UAX #29 GB3) - the same count as ICU's, without it.
  if (std::all_of(s.begin(), s.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x80; })) {
    std::size_t n = s.size();
    for (std::size_t i = 1; i < s.size(); ++i)
      if (s[i] == '\n' && s[i - 1] == '\r') --n;
    return n;
  }
  thread_local std::unique_ptr<icu::BreakIterator> it = [] {
    UErrorCode err = U_ZERO_ERROR;
    std::unique_ptr<icu::BreakIterator> bi(icu::BreakIterator::createCharacterInstance(icu::Locale::getRoot(), err));
    if (U_SUCCESS(err) && bi) return bi;
    // Once per process (each mapping thread would try): justifications then count code points.
    static std::once_flag warned;
    std::call_once(warned, [err] {
      spdlog::warn("enrichment: ICU's character break iterator is not available ({}); PIM justifications are "
                   "counted in code points, not user-perceived characters", u_errorName(err));
    });
    return std::unique_ptr<icu::BreakIterator>();
  }();
  const auto code_points = [&] {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char ch) {
      return (static_cast<unsigned char>(ch) & 0xC0) != 0x80;  // not a continuation byte
    }));
  };
  if (!it || s.size() > static_cast<std::size_t>(INT32_MAX)) return code_points();
  UErrorCode err = U_ZERO_ERROR;
  UText* text = utext_openUTF8(nullptr, s.data(), static_cast<int64_t>(s.size()), &err);
  if (U_SUCCESS(err)) it->setText(text, err);
  std::size_t n = 0;
  if (U_SUCCESS(err))
    for (int32_t at = it->next(); at != icu::BreakIterator::DONE; at = it->next()) ++n;
  utext_close(text);
  return U_SUCCESS(err) ? n : code_points();
}

// The characters of a justification without its leading and trailing white space (Unicode white
// space and zero-width characters included): user-perceived characters (a Japanese or Greek
// justification counts its letters, not their bytes; "é" written e + U+0301 is one), spaces between
// words included ("fix ticket" has 10).
std::size_t justification_chars(std::string_view j) {
  for (;;) {  // leading
    if (j.empty()) break;
    const std::size_t len = lead_length(static_cast<unsigned char>(j.front()));
    if (len > j.size() || !blank(decode(j, 0, len))) break;
    j.remove_prefix(len);
  }
  for (;;) {  // trailing: back to the last lead byte
    std::size_t at = j.size();
    while (at > 0 && j.size() - at < 4 && (static_cast<unsigned char>(j[at - 1]) & 0xC0) == 0x80) --at;
    if (at == 0) break;
    --at;
    const std::size_t len = j.size() - at;
    if (lead_length(static_cast<unsigned char>(j[at])) != len || !blank(decode(j, at, len))) break;
    j.remove_suffix(len);
  }
  return grapheme_count(j);
}
}  // namespace

void pim_no_justification(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_pim_activation(f) || !f.has_justification) return;
  const std::size_t chars = justification_chars(f.justification);
  if (chars >= c.settings.pim_min_justification_chars) return;
  out.push_back({"pa.pim.no_justification", 7,
                 fmt::format("activation justified with {} character(s), fewer than {}", chars,
                             c.settings.pim_min_justification_chars)});
}

void pim_long_activation(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_pim_activation(f) || !f.duration_ms || *f.duration_ms <= c.settings.pim_max_activation_ms) return;
  out.push_back({"pa.pim.long_activation", 6,
                 fmt::format("activation for {:.1f} h, longer than the {:.1f} h maximum",
                             static_cast<double>(*f.duration_ms) / 3.6e6,
                             static_cast<double>(c.settings.pim_max_activation_ms) / 3.6e6)});
}

}  // namespace siem::rules
