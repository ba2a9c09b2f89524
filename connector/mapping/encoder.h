// An output format's encoder: one mapped record in, the event's text in that format out. The
// mapper runs the record's kind detection, enrichment and identity once, then each encoder whose
// format the pipeline asked for; a new output format is a new encoder (and its YAML rules), not a
// change to the mapper (docs/architecture.md, "Adding an output format").
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connector/core/event.h"
#include "connector/mapping/mapping_rules.h"

namespace siem::mapping {

// What an encoder reads: the rules of the record's kind and the evaluation context (the record,
// its identity and time, and the enrichment result: ctx.enrichment, ctx.severity).
struct MappedRecord {
  const KindMapping& rules;
  const EvalContext& ctx;
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  virtual std::string_view name() const = 0;
  virtual OutputFormat format() const = 0;
  // Appends the event in this format to `out` (empty on entry; its capacity is reused).
  virtual void encode(const MappedRecord& record, std::string& out) const = 0;
};

// The encoders of the formats the mapping rules produce, in output order, built once from `set`
// (`host`: the value of $host, encoded once where a rule's value never changes).
std::vector<std::unique_ptr<Encoder>> make_encoders(const MappingSet& set, const std::string& host);

// The formats whose encoder never writes a raw CR or LF byte, whatever the record holds: ECS and
// OCSF are JSON whose strings are written by encoding::append_json_string (control characters
// escaped) and whose structure is compact (no whitespace between tokens); CEF escapes LF and CR in
// extension values as `\n` / `\r` and turns them into spaces in header fields (formats.md §1.2).
// The mapper marks those payloads in MappedEvent::single_line.
inline constexpr FormatSet kSingleLineFormats =
    format_bit(OutputFormat::ecs) | format_bit(OutputFormat::cef) | format_bit(OutputFormat::ocsf);

// The member of `event` that holds an encoded format's text (ecs, cef or ocsf; not raw).
std::string& encoded_output(MappedEvent& event, OutputFormat format);

}  // namespace siem::mapping
