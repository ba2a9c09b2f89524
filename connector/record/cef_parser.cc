#include "connector/record/cef_parser.h"

#include <cctype>

#include <fmt/format.h>

namespace siem {

std::optional<std::string> CefRecord::get(std::string_view key) const {
  for (const auto& [k, v] : extension)
    if (k == key) return v;
  return std::nullopt;
}

namespace {

bool fail(std::string* error, std::string msg) {
  if (error) *error = std::move(msg);
  return false;
}

bool is_key_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

std::optional<CefRecord> parse_cef_strict(std::string_view line, std::string* error) {
  if (line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos) {
    fail(error, "raw CR or LF in the line");
    return std::nullopt;
  }
  if (line.substr(0, 4) != "CEF:") {
    fail(error, "does not start with 'CEF:'");
    return std::nullopt;
  }
  std::vector<std::string> header;
  std::string cur;
  std::size_t i = 4;
  while (i < line.size() && header.size() < 7) {
    const char c = line[i];
    if (c == '\\') {
      if (i + 1 >= line.size() || (line[i + 1] != '\\' && line[i + 1] != '|')) {
        fail(error, fmt::format("invalid escape in header field {} at offset {}", header.size() + 1, i));
        return std::nullopt;
      }
      cur += line[i + 1];
      i += 2;
      continue;
    }
    if (c == '|') {
      header.push_back(std::move(cur));
      cur.clear();
      ++i;
      continue;
    }
    cur += c;
    ++i;
  }
  if (header.size() != 7) {
    fail(error, fmt::format("expected 7 header fields, found {}", header.size()));
    return std::nullopt;
  }
  CefRecord r;
  r.version = header[0];
  r.vendor = header[1];
  r.product = header[2];
  r.device_version = header[3];
  r.class_id = header[4];
  r.name = header[5];
  if (r.version != "0" && r.version != "1") {
    fail(error, "version must be 0 or 1");
    return std::nullopt;
  }
  try {
    std::size_t used = 0;
    r.severity = std::stoi(header[6], &used);
    if (used != header[6].size() || r.severity < 0 || r.severity > 10) throw std::out_of_range("severity");
  } catch (const std::exception&) {
    fail(error, fmt::format("severity '{}' is not an integer 0-10", header[6]));
    return std::nullopt;
  }
  // Extension: key=value pairs separated by spaces; a value ends where " key=" (unescaped) begins.
  const std::string_view ext = line.substr(i);
  std::size_t p = 0;
  while (p < ext.size()) {
    while (p < ext.size() && ext[p] == ' ') ++p;
    if (p >= ext.size()) break;
    std::size_t k = p;
    while (k < ext.size() && is_key_char(ext[k])) ++k;
    if (k == p || k >= ext.size() || ext[k] != '=') {
      fail(error, fmt::format("extension: expected key= at offset {}", p));
      return std::nullopt;
    }
    std::string key(ext.substr(p, k - p));
    std::string value;
    std::size_t v = k + 1;
    while (v < ext.size()) {
      const char c = ext[v];
      if (c == '\\') {
        if (v + 1 >= ext.size()) {
          fail(error, fmt::format("extension {}: dangling backslash", key));
          return std::nullopt;
        }
        const char n = ext[v + 1];
        if (n == '\\') value += '\\';
        else if (n == '=') value += '=';
        else if (n == 'n') value += '\n';
        else if (n == 'r') value += '\r';
        else {
          fail(error, fmt::format("extension {}: invalid escape '\\{}'", key, n));
          return std::nullopt;
        }
        v += 2;
        continue;
      }
      if (c == '=') {
        fail(error, fmt::format("extension {}: unescaped '=' in the value", key));
        return std::nullopt;
      }
      if (c == ' ') {
        // Does a new key start here?
        std::size_t q = v + 1;
        while (q < ext.size() && is_key_char(ext[q])) ++q;
        if (q > v + 1 && q < ext.size() && ext[q] == '=') break;
      }
      value += c;
      ++v;
    }
    r.extension.emplace_back(std::move(key), std::move(value));
    p = v;
  }
  return r;
}

}  // namespace siem
