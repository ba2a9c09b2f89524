// Timestamps as Azure really sends them, to epoch milliseconds UTC:
//   2026-03-04T10:15:30Z, 2026-03-04T10:15:30.1234567Z (7 fraction digits), offsets (+01:00,
//   -05:00, +0100), no zone (taken as UTC), space instead of T ("2024-03-07 13:08:04.123"),
//   US form "11/14/2025 1:48:53 AM", and epoch numbers (seconds or milliseconds). A date before
//   1900 is no time (Graph's "no date" is 0001-01-01T00:00:00Z).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace siem {

std::optional<std::int64_t> parse_time_ms(std::string_view text);
// Strict RFC 3339, as a configuration value must be written: YYYY-MM-DD(T|t| )hh:mm:ss[.fraction]
// then Z, z or an offset +hh:mm / -hh:mm (the zone is required), nothing before or after. The
// same grammar as parse_time_ms()'s ISO form, without its leniencies (missing seconds or zone,
// spaces, ',' fractions, "no date" years): epoch milliseconds, or nullopt.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);
// The same grammar to epoch MICROseconds (fraction digits past the sixth dropped), for the pull
// sources' windows and checkpoints, which must round-trip Graph's 7-digit times without losing a
// microsecond. `rules` relaxes or tightens it: zone_optional reads a time without a zone as UTC;
// min_year refuses an earlier year.
struct Rfc3339Rules {
  bool zone_optional = false;
  int min_year = 0;
};
std::optional<std::int64_t> parse_rfc3339_us(std::string_view text, const Rfc3339Rules& rules = {});
// RFC 3339 UTC with milliseconds: 2026-03-04T10:15:30.123Z
std::string format_time_ms(std::int64_t epoch_ms);
// The same written into `out` (replacing its contents, reusing its buffer).
void format_time_ms(std::int64_t epoch_ms, std::string& out);
// ISO 8601 duration (PT5H, P1DT2H30M, PT90S) -> milliseconds.
std::optional<std::int64_t> parse_iso_duration_ms(std::string_view text);

}  // namespace siem
