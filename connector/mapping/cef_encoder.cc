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

void append_cef_header_field(const Rule& r, const EvalContext& ctx, std::size_t max_length, std::string& out) {
  if (r.plain) {  // a string straight from the record / context (vendor, product...): no Value, no copy
    std::string_view text;
    if (const auto found = r.string_view(ctx, text); found && text.size() <= max_length) {
      if (*found) encoding::append_cef_header(out, text);
      return;
    }
  }
  std::string v = r.evaluate(ctx).text();
  encoding::truncate_utf8(v, max_length);
  encoding::append_cef_header(out, v);
}

// Value::text() without the copy for the kinds that hold their text (strings and JSON); the others
// are formatted into `scratch`.
std::string_view value_text(const Value& v, std::string& scratch) {
  if (v.kind == Value::Kind::string || v.kind == Value::Kind::json) return v.s;
  scratch = v.text();
  return scratch;
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
  out.reserve(1024);
  out += "CEF:0|";
  for (const auto* r : {&m.cef_vendor, &m.cef_product, &m.cef_version, &m.cef_class_id, &m.cef_name}) {
    append_cef_header_field(*r, ctx, r == &m.cef_name ? 512 : r == &m.cef_class_id ? 1023 : 63, out);
    out += '|';
  }
  out += std::to_string(std::clamp(severity, 0, 10));
  out += '|';
  bool first = true;
  std::string truncated;
  std::string cs5_value;
  std::string scratch, owned;
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
    if (r.plain) {  // a string straight from the record / context: no Value, no copy
      std::string_view text;
      if (const auto found = r.string_view(ctx, text)) {
        if (!*found) continue;
        if (text.size() <= cef_max_length(r.target)) {
          append_pair(r, text);
          continue;
        }
      }
    }
    const Value v = r.evaluate(ctx);
    if (v.empty()) continue;
    std::string_view text = value_text(v, scratch);  // a string value in place: no copy
    if (const std::size_t max = cef_max_length(r.target); text.size() > max) {
      owned.assign(text);
      encoding::truncate_utf8(owned, max);
      text = owned;
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
