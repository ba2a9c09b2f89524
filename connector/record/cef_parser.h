// A strict CEF:0 parser, used by `siem-connector test` and the test suite to prove every CEF line
// the connector writes is well-formed: exactly seven unescaped header pipes, a 0-10 severity,
// extension keys that are single alphanumeric words, only the escapes the standard defines, no raw
// CR/LF, and no unescaped '=' inside a value.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace siem {

struct CefRecord {
  std::string version, vendor, product, device_version, class_id, name;
  int severity = 0;
  std::vector<std::pair<std::string, std::string>> extension;  // unescaped, in order
  std::optional<std::string> get(std::string_view key) const;
};

// Parses one line; on failure returns nullopt and sets `error`.
std::optional<CefRecord> parse_cef_strict(std::string_view line, std::string* error = nullptr);

}  // namespace siem
