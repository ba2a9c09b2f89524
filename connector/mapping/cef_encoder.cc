// The CEF encoder: one ArcSight CEF line per event (header fields, then the extension keys in
// rule order), with the implementation standard's length limits.
#include "connector/mapping/cef_encoder.h"

#include <algorithm>
#include <memory>

#include "connector/record/encoding.h"

namespace siem::mapping {

namespace {

// CEF extension limits (implementation standard rev. 25). externalId is pinned to the whole id.
std::size_t cef_max_length(std::string_view key) {
  if (key == "act" || key == "outcome") return 63;
  if (key == "app") return 31;
  if (key == "dvchost") return 100;
  if (key == "deviceExternalId") return 255;
  if (key == "externalId") return 4096;
  return 1023;
}

// Where a rule's text is taken from, kept between the rules of an event and between events (no
// allocation per event once grown).
struct TextScratch {
  std::string written;  // append_text()'s output, or a Value's formatted text
  std::string owned;    // a text cut to its key's limit
  Value held;           // evaluate()'s value, for the shapes the fast paths leave to it
};

// The text evaluate().text() gives for `r`, without a Value where the fast paths know the shape:
// a view of the record's or the context's string (plain rules), the text written into
// `scratch.written` (direct rules: templates, maps, numbers, lists, conversions), else the value
// evaluate() gives (a string value in place). false: no value. `text` stays valid until the next
// call with the same scratch.
bool rule_text(const Rule& r, const EvalContext& ctx, TextScratch& scratch, std::string_view& text) {
  if (r.plain) {
    if (const auto found = r.string_view(ctx, text)) return *found;
  }
  if (r.direct) {
    scratch.written.clear();
    if (const auto written = r.append_text(ctx, scratch.written)) {
      text = scratch.written;
      return *written;
    }
  }
  scratch.held = r.evaluate(ctx);
  const Value& v = scratch.held;
  if (v.empty()) return false;
  if (v.kind == Value::Kind::string || v.kind == Value::Kind::json) {
    text = v.s;
  } else {
    scratch.written = v.text();
    text = scratch.written;
  }
  return true;
}

// `text` cut to `max` bytes (whole UTF-8 characters) in `scratch.owned` when longer. true: cut.
bool cut_to(std::string_view& text, std::size_t max, TextScratch& scratch) {
  if (text.size() <= max) return false;
  scratch.owned.assign(text);
  encoding::truncate_utf8(scratch.owned, max);
  text = scratch.owned;
  return true;
}

void append_cef_header_field(const Rule& r, const EvalContext& ctx, std::size_t max_length, TextScratch& scratch,
                             std::string& out) {
  std::string_view text;
  if (!rule_text(r, ctx, scratch, text)) return;
  cut_to(text, max_length, scratch);
  encoding::append_cef_header(out, text);
}

// " key=" (no space before an event's first key) in one append: `key` is a rule's CEF key or
// key + "Label", short names from the mapping files.
void append_key(std::string& out, std::string_view key, std::string_view suffix, bool first) {
  char buf[64];
  if (key.size() + suffix.size() + 2 > sizeof buf) {  // not a real CEF key: the plain way
    if (!first) out += ' ';
    out += key;
    out += suffix;
    out += '=';
    return;
  }
  buf[0] = ' ';
  std::copy(key.begin(), key.end(), buf + 1);
  std::copy(suffix.begin(), suffix.end(), buf + 1 + key.size());
  buf[1 + key.size() + suffix.size()] = '=';
  const std::size_t skip = first ? 1 : 0;
  out.append(buf + skip, key.size() + suffix.size() + 2 - skip);
}

void write_cef(const KindMapping& m, const EvalContext& ctx, int severity, std::string& out) {
  static thread_local TextScratch scratch;
  out.reserve(1024);
  out += "CEF:0|";
  for (const auto* r : {&m.cef_vendor, &m.cef_product, &m.cef_version, &m.cef_class_id, &m.cef_name}) {
    append_cef_header_field(*r, ctx, r == &m.cef_name ? 512 : r == &m.cef_class_id ? 1023 : 63, scratch, out);
    out += '|';
  }
  out += std::to_string(std::clamp(severity, 0, 10));
  out += '|';
  bool first = true;
  std::string truncated;
  auto append_pair = [&](const Rule& r, std::string_view text) {
    if (!r.label.empty()) {
      append_key(out, r.target, "Label", first);
      encoding::append_cef_extension_value(out, r.label);
      first = false;
    }
    append_key(out, r.target, "", first);
    encoding::append_cef_extension_value(out, text);
    first = false;
  };
  for (const auto& r : m.cef_extension) {
    std::string_view text;
    if (!rule_text(r, ctx, scratch, text)) continue;
    if (cut_to(text, cef_max_length(r.target), scratch)) {
      if (!truncated.empty()) truncated += ',';
      truncated += r.target;
    }
    append_pair(r, text);
  }
  if (!truncated.empty()) {
    out += first ? "" : " ";
    out += "cs5Label=truncatedKeys cs5=";
    encoding::append_cef_extension_value(out, truncated);
  }
}

class CefEncoder final : public Encoder {
 public:
  std::string_view name() const override { return "cef"; }
  OutputFormat format() const override { return OutputFormat::cef; }
  void encode(const MappedRecord& record, std::string& out) const override {
    write_cef(record.rules, record.ctx, record.ctx.severity, out);
  }
};

}  // namespace

std::unique_ptr<Encoder> make_cef_encoder() { return std::make_unique<CefEncoder>(); }

}  // namespace siem::mapping
