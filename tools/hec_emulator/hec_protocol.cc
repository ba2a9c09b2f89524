#include "tools/hec_emulator/hec_protocol.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

namespace siem::hec {

using nlohmann::json;

namespace {

// Finds the end (one past the closing brace) of the JSON object starting at `pos` (which must be
// '{'), honouring strings and escapes. Returns npos when unterminated.
std::size_t object_end(std::string_view s, std::size_t pos) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = pos; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

bool blank_string(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return is_ws(c); });
}

}  // namespace

const char* code_text(int code) {
  switch (code) {
    case 0: return "Success";
    case 1: return "Token disabled";
    case 2: return "Token is required";
    case 3: return "Invalid authorization";
    case 4: return "Invalid token";
    case 5: return "No data";
    case 6: return "Invalid data format";
    case 7: return "Incorrect index";
    case 8: return "Internal server error";
    case 9: return "Server is busy";
    case 10: return "Data channel is missing";
    case 11: return "Invalid data channel";
    case 12: return "Event field is required";
    case 13: return "Event field cannot be blank";
    case 14: return "ACK is disabled";
    case 15: return "Error in handling indexed fields";
    case 16: return "Query string authorization is not enabled";
    case 17: return "HEC is healthy";
    case 18: return "HEC is unhealthy, queues are full";
    case 19: return "HEC is unhealthy, ack service unavailable";
    case 20: return "HEC is unhealthy, queues are full, ack service unavailable";
    default: return "Unknown";
  }
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) return false;
  return true;
}

std::string base64_decode(std::string_view in) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned val = 0;
  int bits = -8;
  for (char c : in) {
    if (c == '=') break;
    auto pos = chars.find(c);
    if (pos == std::string::npos) return {};
    val = (val << 6) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int validate_envelope(const json& env, const std::vector<std::string>& allowed_indexes) {
  if (!env.is_object()) return 6;
  auto ev = env.find("event");
  if (ev == env.end()) return 12;
  if (ev->is_null() || (ev->is_string() && blank_string(ev->get_ref<const std::string&>()))) return 13;
  if (ev->is_object() && ev->empty()) return 13;
  if (auto t = env.find("time"); t != env.end()) {
    if (t->is_string()) {
      const auto& ts = t->get_ref<const std::string&>();
      char* end = nullptr;
      std::strtod(ts.c_str(), &end);
      if (ts.empty() || end != ts.c_str() + ts.size()) return 6;
    } else if (!t->is_number()) {
      return 6;
    }
  }
  for (const char* key : {"host", "source", "sourcetype", "index"}) {
    if (auto it = env.find(key); it != env.end() && !it->is_string()) return 6;
  }
  if (auto f = env.find("fields"); f != env.end()) {
    if (!f->is_object()) return 15;
    for (const auto& [k, v] : f->items()) {
      if (v.is_string() || v.is_number() || v.is_boolean()) continue;
      if (v.is_array() && std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_string() || x.is_number(); })) continue;
      return 15;
    }
  }
  if (!allowed_indexes.empty()) {
    if (auto idx = env.find("index"); idx != env.end()) {
      if (std::find(allowed_indexes.begin(), allowed_indexes.end(), idx->get<std::string>()) == allowed_indexes.end()) return 7;
    }
  }
  return 0;
}

std::string gunzip(const std::string& in, std::size_t limit) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[64 * 1024];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      throw std::runtime_error("corrupt gzip body");
    }
    out.append(buf, sizeof(buf) - zs.avail_out);
    if (out.size() > limit) {
      inflateEnd(&zs);
      throw std::runtime_error("inflated body too large");
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      throw std::runtime_error("truncated gzip body");
    }
  }
  inflateEnd(&zs);
  return out;
}

bool is_guid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

EventBody parse_event_body(std::string_view text, const std::vector<std::string>& allowed_indexes) {
  EventBody out;
  std::size_t pos = 0;
  std::size_t n = 0;
  while (true) {
    while (pos < text.size() && is_ws(text[pos])) ++pos;
    if (pos >= text.size()) break;
    int code = 0;
    json env;
    if (text[pos] != '{') {
      code = 6;
    } else {
      auto end = object_end(text, pos);
      if (end == std::string_view::npos) {
        code = 6;
      } else {
        try {
          env = json::parse(text.substr(pos, end - pos));
          code = validate_envelope(env, allowed_indexes);
        } catch (const json::exception&) {
          code = 6;
        }
        pos = end;
      }
    }
    if (code != 0) {
      out.fail_code = code;
      out.fail_index = n;
      break;
    }
    out.accepted.push_back(std::move(env));
    ++n;
  }
  return out;
}

std::vector<json> parse_raw_body(std::string_view text, const std::map<std::string, std::string>& q) {
  std::vector<json> accepted;
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    start = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (std::all_of(line.begin(), line.end(), is_ws)) continue;
    json env{{"event", std::string(line)}};
    for (const char* key : {"sourcetype", "index", "host", "source"})
      if (auto it = q.find(key); it != q.end()) env[key] = it->second;
    accepted.push_back(std::move(env));
  }
  return accepted;
}

}  // namespace siem::hec
