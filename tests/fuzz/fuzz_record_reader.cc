// Fuzz target: arbitrary bytes as an input file -> RecordReader (NDJSON, {"value":[...]} lists,
// {"records":[...]} envelopes, top-level [...] arrays, multi-line documents, a partial tail) -> kind detection -> mapping to
// ECS and CEF -> privileged-access enrichment.
//
// Must hold for every input (a violation aborts, so libFuzzer saves the input as a crash):
//   - no crash, hang, leak, or undefined behaviour (ASan/UBSan);
//   - with a size limit, no record and no kept error text is longer than it allows;
//   - split() consumes everything in Tail::complete mode and never more than the input otherwise;
//     every record and error it reports lies inside the input, on the line it claims;
//   - every mapped record yields one ECS line that is a valid JSON object (strict UTF-8) and one
//     CEF line that parses under the strict CEF parser, with externalId equal to the event id (after
//     the encoder's documented control-character substitution).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "connector/config/config_node.h"
#include "connector/core/record_reader.h"
#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/mapper.h"
#include "connector/record/cef_parser.h"

namespace {

using siem::FormatSet;
using siem::OutputFormat;

[[noreturn]] void violation(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_record_reader: %s\n%.*s\n", what, static_cast<int>(std::min<std::size_t>(detail.size(), 4096)),
               detail.data());
  std::abort();
}

struct Harness {
  siem::Diagnostics diags;
  std::shared_ptr<siem::ConfigDocument> doc;
  std::unique_ptr<siem::Mapper> mapper;

  Harness() {
    // Shipped mappings (found through the source tree the binary was built from) and the default
    // enrichment settings; no state store, so the learned roster lives in memory only.
    doc = siem::ConfigDocument::load_string("{}", "fuzz.yaml", diags);
    auto root = doc->root();
    mapper = siem::make_mapping_stage(root, nullptr);
    if (diags.has_errors()) {
      std::fprintf(stderr, "fuzz_record_reader: cannot load the shipped mappings:\n%s\n", diags.format().c_str());
      std::abort();
    }
  }
};

Harness& harness() {
  static Harness h;
  return h;
}

std::size_t line_of(std::string_view text, const char* at, std::size_t first_line) {
  std::size_t line = first_line;
  for (const char* p = text.data(); p < at; ++p) line += *p == '\n';
  return line;
}

bool inside(std::string_view text, std::string_view part) {
  return part.data() >= text.data() && part.data() + part.size() <= text.data() + text.size();
}

void check_mapped(const siem::MappedEvent& ev, FormatSet formats) {
  if (formats & siem::format_bit(OutputFormat::ecs)) {
    if (ev.ecs.find('\n') != std::string::npos) violation("ECS document spans several lines", ev.ecs);
    nlohmann::json ecs;
    try {
      ecs = nlohmann::json::parse(ev.ecs);
    } catch (const nlohmann::json::exception& e) {
      violation(e.what(), ev.ecs);
    }
    if (!ecs.is_object()) violation("ECS document is not a JSON object", ev.ecs);
    if (!ecs.contains("@timestamp")) violation("ECS document without @timestamp", ev.ecs);
  }
  if (formats & siem::format_bit(OutputFormat::cef)) {
    std::string error;
    auto cef = siem::parse_cef_strict(ev.cef, &error);
    if (!cef) violation(("CEF line rejected by the strict parser: " + error).c_str(), ev.cef);
    // The encoder's documented substitution: control characters other than CR/LF become a space.
    std::string id(ev.id());
    for (auto& c : id)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\r') || c == 0x7F) c = ' ';
    if (ev.id().size() <= 4096 && cef->get("externalId") != id)
      violation(("CEF externalId differs from the event id " + std::string(ev.id())).c_str(), ev.cef);
    if (cef->severity != ev.severity) violation("CEF severity differs from the event severity", ev.cef);
  }
}

void map_record(std::string_view json, std::size_t line) {
  auto& h = harness();
  siem::RawRecord rec;
  rec.json.assign(json);
  rec.origin = "fuzz:" + std::to_string(line);
  const FormatSet both = siem::format_bit(OutputFormat::ecs) | siem::format_bit(OutputFormat::cef);
  siem::MappedEvent ev;
  if (!h.mapper->map(rec, std::nullopt, both, ev)) check_mapped(ev, both);

  // Again as a forced kind (`map --source`, or a source's kind hint), chosen from the record so a
  // saved crash reproduces: every kind's rules must cope with any record shape.
  const auto& kinds = siem::all_source_kinds();
  std::size_t h32 = 2166136261u;
  for (unsigned char c : json) h32 = (h32 ^ c) * 16777619u;
  const siem::SourceKind forced = kinds[h32 % kinds.size()];
  const FormatSet one = (h32 >> 8) & 1 ? siem::format_bit(OutputFormat::cef) : siem::format_bit(OutputFormat::ecs);
  siem::MappedEvent ev2;
  if (!h.mapper->map(rec, forced, one, ev2)) check_mapped(ev2, one);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  constexpr std::size_t first_line = 7;  // a chunk that does not start at line 1

  // Without a size limit, and with a small one (a document over it is one error, kept short).
  for (const std::size_t limit : {SIZE_MAX, std::size_t{64}})
  for (auto tail : {siem::RecordReader::Tail::complete, siem::RecordReader::Tail::growing_file,
                    siem::RecordReader::Tail::cut_chunk}) {
    const bool map = tail == siem::RecordReader::Tail::complete && limit == SIZE_MAX;
    const std::size_t consumed = siem::RecordReader::split(
        text,
        [&](const siem::RecordSlice& r) {
          if (!inside(text, r.json)) violation("record outside the input", r.json);
          if (r.json.empty()) violation("empty record", text);
          if (r.json.size() > limit) violation("record over the size limit", r.json);
          if (r.line != line_of(text, r.json.data(), first_line))
            violation(("record reported on line " + std::to_string(r.line) + ", starts on line " +
                       std::to_string(line_of(text, r.json.data(), first_line))).c_str(), r.json);
          if (map) map_record(r.json, r.line);
        },
        [&](const siem::ReadError& e) {
          if (e.reason.empty() != (e.oversize_bytes > 0)) violation("error without a reason", e.text);
          if (e.oversize_bytes > 0 && (e.oversize_bytes <= limit || e.text.size() > siem::kOversizePrefixBytes))
            violation("oversize error within the limit, or keeping too much", e.text);
          if (!e.text.empty()) {
            if (!inside(text, e.text)) violation("error text outside the input", e.text);
            if (e.line != line_of(text, e.text.data(), first_line))
              violation(("error reported on line " + std::to_string(e.line) + ", text starts on line " +
                         std::to_string(line_of(text, e.text.data(), first_line))).c_str(), e.text);
          }
        },
        first_line, tail, limit);
    if (map || limit != SIZE_MAX) {
      // The scan that passes over a document too long to hold ends inside what it is given.
      // (Also the scan for one element of a top-level array, which ends at its closing bracket.)
      for (const bool element : {false, true}) {
        siem::OversizeSkip skip(text, 16, element);
        const std::size_t half = text.size() / 2;
        const auto first = skip.feed(text.substr(0, half));
        const auto second = first ? std::nullopt : skip.feed(text.substr(half));
        if ((first && *first > half) || (second && *second > text.size() - half) || skip.bytes() > text.size())
          violation("oversize scan ran past its input", text);
      }
    }
    if (consumed > text.size()) violation("consumed more than the input", text);
    if (map && consumed != text.size()) violation("Tail::complete did not consume the whole input", text);
    if (!map && consumed < text.size()) {
      // What is left over must start a document that can still grow, never blank space.
      const char c = text[consumed];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') violation("left blank space unconsumed", text.substr(consumed));
    }
  }
  return 0;
}
