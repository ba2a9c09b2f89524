// The mapper marks the ECS, CEF and OCSF payloads single-line (MappedEvent::single_line), and the
// LF-framed syslog sink then scans only the header for line breaks (append_message). That is sound
// only if no record can make an encoder write a raw CR or LF: checked here on every payload sample
// of tests/data with a CR, an LF and a CRLF put into every string value and every object key, the
// record pretty-printed (line breaks between its tokens).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "connector/config/config_node.h"
#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/encoder.h"
#include "connector/mapping/mapper.h"
#include "tests/support/sample_records.h"

namespace siem {
namespace {

// Every string value gets line breaks at its start, middle and end; every object a member whose key
// and value hold them (bounded by the samples' own depth).
nlohmann::json with_line_breaks(const nlohmann::json& j) {
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    return "\n" + s.substr(0, s.size() / 2) + "\r\n" + s.substr(s.size() / 2) + "\r";
  }
  if (j.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : j) out.push_back(with_line_breaks(item));
    return out;
  }
  if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, value] : j.items()) out[key] = with_line_breaks(value);
    out["line\nbreak\rkey"] = "value\r\nwith breaks";
    return out;
  }
  return j;
}

TEST(SingleLinePayloads, EncodersNeverWriteARawLineBreak) {
  Diagnostics diags;
  auto doc = ConfigDocument::load_string("{}", "test.yaml", diags);
  auto mapper = make_mapping_stage(doc->root(), nullptr);
  ASSERT_FALSE(diags.has_errors()) << diags.format();
  const FormatSet formats = format_bit(OutputFormat::ecs) | format_bit(OutputFormat::cef) |
                            format_bit(OutputFormat::ocsf) | format_bit(OutputFormat::raw);
  int mapped = 0;
  for (const auto& sample : testing::sample_records()) {
    const auto parsed = nlohmann::json::parse(sample.json, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) continue;
    for (const bool inject : {false, true}) {
      RawRecord rec;
      rec.json = (inject ? with_line_breaks(parsed) : parsed).dump(2);
      ASSERT_NE(std::string_view(rec.json).find('\n'), std::string::npos);
      MappedEvent ev;
      if (mapper->map(rec, std::nullopt, formats, ev)) continue;  // refused records are not encoded
      ++mapped;
      EXPECT_EQ(ev.single_line, mapping::kSingleLineFormats) << sample.file;
      for (const auto f : {OutputFormat::ecs, OutputFormat::cef, OutputFormat::ocsf}) {
        const std::string_view text = ev.payload(f);
        EXPECT_FALSE(text.empty()) << sample.file << " " << to_string(f);
        EXPECT_EQ(text.find_first_of("\r\n"), std::string::npos) << sample.file << " " << to_string(f) << ": " << text;
      }
    }
  }
  EXPECT_GT(mapped, 90);  // every sample record, as it is and with line breaks put in
}

TEST(SingleLinePayloads, OnlyTheEncodedFormatsAreMarked) {
  Diagnostics diags;
  auto doc = ConfigDocument::load_string("{}", "test.yaml", diags);
  auto mapper = make_mapping_stage(doc->root(), nullptr);
  ASSERT_FALSE(diags.has_errors()) << diags.format();
  const auto samples = testing::sample_records();
  ASSERT_FALSE(samples.empty());
  RawRecord rec;
  rec.json = samples.front().json;
  MappedEvent ev;
  ASSERT_FALSE(mapper->map(rec, std::nullopt, format_bit(OutputFormat::cef) | format_bit(OutputFormat::raw), ev));
  EXPECT_EQ(ev.single_line, format_bit(OutputFormat::cef));  // the raw record is never marked
  // An event built any other way (read back from a disk buffer, a test) is not marked.
  EXPECT_EQ(MappedEvent{}.single_line, 0);
}

}  // namespace
}  // namespace siem
