// Variants of a sample record whose values change type (a string where a number was, null, {}, [],
// escapes, an object where a string was, ...): what the mapping must survive field by field. Used
// by the fast-path differential test and the ECS field-type property test.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace siem::testing {

// ~24 KiB of text that escapes to much more.
inline std::string long_hostile_text() {
  std::string s;
  while (s.size() < 24 * 1024) s += "plain text \"quoted\" back\\slash\n\x01\x1F\xE2\x80\xA8 \xC3\xA9t\xC3\xA9 ";
  return s;
}

// Values a field may hold instead of what the sample has.
inline const std::vector<nlohmann::json>& variant_values() {
  static const std::vector<nlohmann::json> values = {
      "", "Ünïcode \"quoted\" back\\slash\nnew line\ttab \x01 ctl", 0, -7, 3.25, 1e300, true, false, nullptr,
      nlohmann::json::object(), nlohmann::json::array(), "10.0.0.1", "2001:db8::1", "2026-03-04T10:15:30.1234567Z",
      "not-an-ip", nlohmann::json::array({"a", "b"}), nlohmann::json({{"k", 1}}), 18446744073709551615ull, "4294967296",
      "Global Administrator", "62e90394-69f5-4237-9190-012177145e10", "MFA",
      // numbers at the limits of the writers' number forms (int64, the shortest double forms)
      std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(), -0.0, 5e-324,
      -1.7976931348623157e308, 0.00012345678901234567, 1234567890123456.7, 1e16, 47.60621,
      // an Azure LocalizableString where a string was
      nlohmann::json({{"value", "Microsoft.Authorization/roleAssignments/write"}, {"localizedValue", "Create role assignment"}}),
      // a long value full of what must be escaped (quotes, backslashes, control characters, U+2028):
      // longer than the JSON writers' room for one document, so they grow it mid-member
      long_hostile_text()};
  return values;
}

// Variants of `record`: for each i, every scalar field gets variant_values()[(k + i) % n] (k: the
// field's position), so every field takes every replacement once; then variants where every
// n-th object or array is replaced by a scalar or an empty container.
inline std::vector<std::string> record_variants(const std::string& record) {
  std::vector<std::string> out;
  const auto original = nlohmann::json::parse(record, nullptr, false);
  if (original.is_discarded()) return out;
  const auto& values = variant_values();
  for (std::size_t shift = 0; shift < values.size(); ++shift) {
    auto copy = original;
    std::size_t k = 0;
    std::function<void(nlohmann::json&)> walk = [&](nlohmann::json& j) {
      if (j.is_object() || j.is_array()) {
        for (auto& child : j) walk(child);
      } else {
        j = values[(k++ + shift) % values.size()];
      }
    };
    walk(copy);
    out.push_back(copy.dump());
  }
  const std::vector<nlohmann::json> containers = {"x", 5, nullptr, nlohmann::json::array(), nlohmann::json::object(), true};
  constexpr std::size_t kEvery = 3;
  for (std::size_t phase = 0; phase < kEvery * containers.size(); ++phase) {
    auto copy = original;
    std::size_t k = 0;
    std::function<void(nlohmann::json&, bool)> walk = [&](nlohmann::json& j, bool root) {
      if (!j.is_object() && !j.is_array()) return;
      if (!root && k++ % kEvery == phase % kEvery) {
        j = containers[phase / kEvery];
        return;
      }
      for (auto& child : j) walk(child, false);
    };
    walk(copy, true);
    out.push_back(copy.dump());
  }
  return out;
}

}  // namespace siem::testing
