// The HEC wire contract as the emulator (hec_emulator.h) reads it, apart from the server's state:
// the codes and their texts, the Authorization header's schemes, gzip bodies, channel GUIDs, and
// the two body forms (concatenated JSON envelopes, validated one by one; raw lines).
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace siem::hec {

// The text Splunk writes for a HEC code ("Unknown" for others).
const char* code_text(int code);
// Case-insensitive `prefix` test (the Authorization schemes).
bool iequals_prefix(std::string_view s, std::string_view prefix);
// Standard base64 (Basic auth); empty on a character outside the alphabet.
std::string base64_decode(std::string_view in);
bool is_ws(char c);
// Inflates a gzip (or zlib) body; throws std::runtime_error when it is corrupt or would exceed
// `limit` bytes once inflated.
std::string gunzip(const std::string& in, std::size_t limit);
// True for a canonical 8-4-4-4-12 hex GUID.
bool is_guid(const std::string& s);
// Validates one envelope; returns 0 or the HEC code of the failure.
int validate_envelope(const nlohmann::json& env, const std::vector<std::string>& allowed_indexes);

// The envelopes of an event endpoint's body, in order, up to the first bad one: its HEC code
// (0: none) and its 0-based number.
struct EventBody {
  std::vector<nlohmann::json> accepted;
  int fail_code = 0;
  std::size_t fail_index = 0;
};
EventBody parse_event_body(std::string_view text, const std::vector<std::string>& allowed_indexes);
// The raw endpoint's body: one envelope per non-blank line, with sourcetype/index/host/source
// from the query.
std::vector<nlohmann::json> parse_raw_body(std::string_view text, const std::map<std::string, std::string>& query);

}  // namespace siem::hec
