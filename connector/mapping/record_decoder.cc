#include "connector/mapping/record_decoder.h"

#include <fmt/format.h>

#include "connector/mapping/record_shape.h"
#include "connector/record/encoding.h"

namespace siem::mapping {

namespace {

// Bounded repair of the invalid JSON Azure and hand-edited files really produce: raw control
// characters inside strings, and trailing commas before a closing bracket.
std::optional<std::string> repair_json(std::string_view in) {
  std::string out;
  out.reserve(in.size() + 16);
  bool in_string = false;
  bool changed = false;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (in_string) {
      if (c == '\\' && i + 1 < in.size()) {
        out += c;
        out += in[++i];
        continue;
      }
      if (c == '"') in_string = false;
      if (static_cast<unsigned char>(c) < 0x20) {
        changed = true;
        out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : " ";
        continue;
      }
      out += c;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == ',') {
      std::size_t j = i + 1;
      while (j < in.size() && (in[j] == ' ' || in[j] == '\n' || in[j] == '\r' || in[j] == '\t')) ++j;
      if (j < in.size() && (in[j] == '}' || in[j] == ']')) {
        changed = true;
        continue;
      }
    }
    out += c;
  }
  if (!changed) return std::nullopt;
  return out;
}

// A top-level `properties` holding a JSON object as a string (some Azure diagnostic exports send
// it so): the record rebuilt with the object in its place. nullopt when the string is not a JSON
// object (then it stays a string). `props` is that member of `root`, a string.
std::optional<std::string> decode_string_properties(simdjson::dom::element root, simdjson::dom::element props) {
  const std::string_view inner = props.get_string().value_unsafe();
  const auto first = inner.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || inner[first] != '{') return std::nullopt;
  thread_local simdjson::dom::parser inner_parser;
  simdjson::dom::element decoded;
  if (inner_parser.parse(inner).get(decoded) != simdjson::SUCCESS || !decoded.is_object()) return std::nullopt;
  std::string out;
  out.reserve(inner.size() * 2);
  out += '{';
  const simdjson::dom::object fields = root.get_object().value_unsafe();
  for (const auto field : fields) {
    if (out.size() > 1) out += ',';
    encoding::append_json_string(out, field.key);
    out += ':';
    out += simdjson::minify(json::iequals(field.key, "properties") && field.value.is_string() ? decoded : field.value);
  }
  out += '}';
  return out;
}

}  // namespace

std::optional<std::string> RecordDecoder::decode(const RecordText& json, bool indexed,
                                                 std::vector<std::string>& tags, DecodedRecord& out) {
  simdjson::dom::element& root = out.root;
  static_assert(kRecordParseSlack >= simdjson::SIMDJSON_PADDING);
  auto err = parser_.parse(json.data(), json.size(), !json.padded()).get(root);
  std::string& repaired = rewritten_;
  repaired.clear();
  if (err != simdjson::SUCCESS) {
    if (auto fixed = repair_json(json)) {
      repaired = std::move(*fixed);
      if (parser_.parse(repaired).get(root) == simdjson::SUCCESS) {
        ++stats_.repaired_json;
        tags.emplace_back("json_repaired");
        err = simdjson::SUCCESS;
        out.repaired_raw = repaired;
      }
    }
    if (err != simdjson::SUCCESS) {
      ++stats_.failed;
      return fmt::format("invalid JSON: {}", simdjson::error_message(err));
    }
  }
  if (!root.is_object()) {
    ++stats_.failed;
    return std::string("invalid record: expected a JSON object");
  }
  // The record's index, built once for kind detection and reused by the enrichment.
  const json::Fields* root_fields = nullptr;
  if (indexed) {
    fields_.assign(root);
    root_fields = &fields_;
  }
  out.fields = root_fields;
  const auto props = root_fields ? root_fields->get("properties") : json::child(root, "properties");
  if (props && props->is_string()) {
    if (auto decoded = decode_string_properties(root, *props)) {
      // `properties` sent as a JSON document in a string (some diagnostic exports do): the
      // record is mapped as if it had been an object. `repaired` holds the text from here on.
      repaired = std::move(*decoded);
      if (parser_.parse(repaired).get(root) != simdjson::SUCCESS) {
        ++stats_.failed;
        return std::string("invalid record: cannot re-read it with its decoded 'properties'");
      }
      if (root_fields) fields_.assign(root);
      ++stats_.decoded_properties;
    }
  }
  return rewrite_log_analytics(root, root_fields != nullptr, out.shape_kind, out.ambiguous);
}

// A Log Analytics row (record_shape.h) is rewritten into the Event Hubs shape of the same record,
// which the mappings and the enrichment read; the original text stays the raw record. `root` (and
// the record index, when `indexed`) then describe the rewritten record, held in rewritten_; `kind`
// is its kind. `ambiguous`: a row whose Type its columns contradict. Returns the reason a rewritten
// row cannot be read back (then it is dead-lettered).
std::optional<std::string> RecordDecoder::rewrite_log_analytics(simdjson::dom::element& root, bool indexed,
                                                                std::optional<SourceKind>& kind, bool& ambiguous) {
  if (!indexed) fields_.assign(root);  // forced kind: the shape still decides the paths
  // Every Log Analytics row has TimeGenerated, no other shape does: one lookup for the others.
  if (!fields_.has("TimeGenerated")) return std::nullopt;
  ShapeResult shape = normalize_log_analytics(fields_, root);
  ambiguous = shape.conflicting;
  if (shape.rewritten.empty()) return std::nullopt;
  rewritten_ = std::move(shape.rewritten);
  if (parser_.parse(rewritten_).get(root) != simdjson::SUCCESS) {
    ++stats_.failed;
    return std::string("invalid record: cannot re-read the Log Analytics row in its Event Hubs shape");
  }
  if (indexed) fields_.assign(root);
  kind = shape.kind;
  ++stats_.log_analytics_rows;
  return std::nullopt;
}

}  // namespace siem::mapping
