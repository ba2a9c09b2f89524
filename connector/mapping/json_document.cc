// The JSON document writer shared by the ECS and OCSF encoders (json_document.h).
#include "connector/mapping/json_document.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <type_traits>

#include "connector/mapping/expression.h"
#include "connector/mapping/json_out.h"
#include "connector/record/encoding.h"
#include "connector/record/json_access.h"

namespace siem::mapping {

std::string& json_scratch() {
  static thread_local std::string s;
  return s;
}

namespace {

// The rule's value from Rule::evaluate(), after the member's prefix written from `mark` on (taken
// out again when there is no value).
// The general writer (StringOut) writes the value with append_value_json(), the reference the
// shortcuts are compared with; the cursor with write_value_json(), the same bytes in place.
template <class Out>
bool write_evaluated(const Rule& rule, std::size_t mark, const EvalContext& ctx, Out& out) {
  Value v = rule.evaluate(ctx);
  if (v.empty()) {
    out.truncate(mark);
    return false;
  }
  if constexpr (std::is_same_v<Out, CursorOut>) {
    write_value_json(out, v);
  } else {
    out.with_string([&](std::string& s) {
      append_value_json(s, v);
      return true;
    });
  }
  return true;
}

// One member from a rule: "key":value after a comma unless it is its object's first; nothing when
// the rule has no value. true: written. `plan_text`: the plan's text; the member's prefix is taken from
// it only once there is a value (most members of a plan are absent from a given record).
// Inlined into the writer's loop (two call sites, one of them rare: GCC would otherwise call it).
template <class Out>
[[gnu::always_inline]] inline bool write_field(const JsonProgram::Step& step, const char* plan_text, bool first,
                                               const std::vector<Rule>& rules, const EvalContext& ctx, Out& out) {
  const auto prefix_of = [&] { return std::string_view(plan_text + step.text_at + first, step.text_size - first); };
  // {from: path}: most members (the shapes' steps use `path` for their own path)
  if (const json::Path* p = step.op == JsonProgram::Step::field ? step.path : nullptr) {
    const auto e = step.slot >= 0 && ctx.cache ? ctx.cache->find(step.slot, *p, ctx.record) : p->first(ctx.record);
    if (!e) return false;
    if (e->is_string()) {
      const std::string_view text = e->get_string().value_unsafe();
      if (text.empty()) return false;
      out.json_string(prefix_of(), text);
      return true;
    }
  }
  const std::size_t mark = out.mark();
  out.put(prefix_of());
  const auto& rule = rules[step.rule];
  if (rule.direct) {
    // The cursor: the value escaped and written in place after the prefix (nothing written when
    // there is none; whatever was written taken out again when the case is left to evaluate()).
    std::optional<bool> written;
    if constexpr (std::is_same_v<Out, CursorOut>) {
      written = write_or_rewind(out, [&](CursorOut& o) { return rule.append_json(ctx, o); });
      if (written && *written) return true;
    } else if (out.with_string([&](std::string& s) {
                 written = rule.append_json(ctx, s);
                 return written && *written;
               })) {
      return true;
    }
    if (written) {
      out.truncate(mark);
      return false;
    }
  }
  return write_evaluated(rule, mark, ctx, out);
}

// A member of the shapes write_json_document() handles itself (JsonProgram::Step::Shape), the same
// bytes as write_field() would write through the rule. true: written; false: no value (nothing
// written); nullopt: a case left to write_field() (nothing written).
template <class Out>
[[gnu::noinline]] std::optional<bool> write_shape(const JsonProgram::Step& step, std::string_view prefix,
                                                  const std::vector<Rule>& rules, const EvalContext& ctx, Out& out) {
  using Shape = JsonProgram::Step::Shape;
  switch (step.op) {
    case JsonProgram::Step::strings: {  // as append_in_form() over append_plain() for record strings
      for (const auto& a : rules[step.rule].alternatives) {
        for (const auto& p : a->paths) {
          const auto e = find_path(p, ctx);
          if (!e) continue;
          if (!e->is_string()) return std::nullopt;  // null, a number, an object...: left to the rule
          std::string_view text = e->get_string().value_unsafe();
          if (text.empty()) continue;
          if (is_ip(a->conversion)) {
            const auto kept = ip_address(a->conversion, text);
            if (!kept) break;  // this alternative gives nothing: the next one decides
            text = *kept;
          }
          out.json_string(prefix, text);
          return true;
        }
      }
      return false;
    }
    case JsonProgram::Step::text_var: {  // as append_plain(): the context's string, if it has one
      const std::string* text = text_variable(step.var, ctx);
      if (!text) return std::nullopt;
      if (text->empty()) return false;
      out.json_string(prefix, *text);
      return true;
    }
    case JsonProgram::Step::int_var: {
      constexpr std::size_t kDigits = 24;  // the longest int64, "-9223372036854775808", fits
      char* p = out.room(prefix.size() + kDigits);
      encoding::copy_bytes(p, prefix.data(), prefix.size());
      out.advance(std::to_chars(p + prefix.size(), p + prefix.size() + kDigits, int_variable(step.var, ctx)).ptr);
      return true;
    }
    case JsonProgram::Step::list_var: {  // as append_plain(): a JSON array of the strings, if any
      const ListVariable l = list_variable(step.var, ctx);
      if (l.empty()) return false;
      out.put(prefix);
      out.put('[');
      bool first = true;
      for (const auto* list : {l.a, l.b}) {
        if (!list) continue;
        for (const auto& item : *list) {
          out.json_string(first ? std::string_view() : std::string_view(",", 1), item);
          first = false;
        }
      }
      out.put(']');
      return true;
    }
    case JsonProgram::Step::pa_var: return std::nullopt;
    case JsonProgram::Step::converted: {  // as append_direct() -> first_value() for its one path
      const Expr& x = *step.expr;
      auto found = step.slot >= 0 && ctx.cache ? ctx.cache->find(step.slot, *step.path, ctx.record) : find_path(*step.path, ctx);
      if (found) found = x.from_value(*found);
      if (!found) return false;
      switch (found->type()) {  // null, "", {} and [] are no value
        case simdjson::dom::element_type::NULL_VALUE: return false;
        case simdjson::dom::element_type::STRING:
          if (found->get_string().value_unsafe().empty()) return false;
          break;
        case simdjson::dom::element_type::OBJECT:
          if (json::as_object(*found).begin() == json::as_object(*found).end()) return false;
          break;
        case simdjson::dom::element_type::ARRAY:
          if (json::as_array(*found).begin() == json::as_array(*found).end()) return false;
          break;
        default: break;
      }
      const std::size_t mark = out.mark();
      out.put(prefix);
      switch (conversion_row(x.conversion).fast.template to<Out>()(*found, x.multiply, Form::json, out)) {
        case Written::value: return true;
        case Written::nothing: out.truncate(mark); return false;
        case Written::unsupported: break;
      }
      out.truncate(mark);
      return std::nullopt;
    }
    case JsonProgram::Step::address: {  // a non-empty record string; anything else: left to the rule
      const auto e = find_path(*step.path, ctx);
      if (!e || !e->is_string()) return e ? std::nullopt : std::optional<bool>(false);
      const std::string_view text = e->get_string().value_unsafe();
      if (text.empty()) return std::nullopt;
      const auto kept = ip_address(Conversion::ip, text);
      if (!kept) return false;
      out.json_string(prefix, *kept);
      return true;
    }
    default: {  // structured: as append_plain() for json / elastic / snake
      const auto e = find_path(*step.path, ctx);
      if (!e) return false;
      const std::size_t mark = out.mark();
      out.put(prefix);
      const std::size_t start = out.mark();
      if (step.shape == Shape::json) write_compact_json_to(out, *e);
      else write_elastic_to(out, *e, step.shape == Shape::elastic, std::numeric_limits<std::size_t>::max());
      const std::string_view written = out.since(start);
      if (written.empty() || written == "null" || written == "{}" || written == "[]") {  // Value::empty()
        out.truncate(mark);
        return false;
      }
      return true;
    }
  }
}

// A choice step's alternative: the first whose conditions all hold (as append_in_form() over
// append_plain()), or null.
const JsonProgram::Choice* choose(const JsonProgram& plan, const JsonProgram::Step& step, const EvalContext& ctx) {
  const auto* c = plan.choices.data() + step.choice_at;
  for (const auto* end = c + step.choice_count; c != end; ++c) {
    const auto& when = c->expr->when;
    if (std::all_of(when.begin(), when.end(), [&](const Condition& k) { return condition_holds(k, ctx); })) return c;
  }
  return nullptr;
}

template <class Out>
void write_steps(const JsonProgram& plan, const std::vector<Rule>& rules, const EvalContext& ctx, Out& out) {
  out.put('{');
  // One level per open object: where its key began (to drop it if it stays empty) and whether
  // it was its parent's first member.
  struct Level {
    std::size_t mark;
    bool first;
  };
  Level fixed[16];
  std::unique_ptr<Level[]> deep;
  Level* levels = fixed;
  if (plan.max_depth > std::size(fixed)) levels = (deep = std::make_unique<Level[]>(plan.max_depth)).get();
  std::size_t depth = 0;
  bool first = true;  // nothing written yet in the current object
  const char* text = plan.text.data();
  // A step's text without its leading comma for an object's first member.
  auto prefix = [&](const JsonProgram::Step& step) {
    return std::string_view(text + step.text_at + first, step.text_size - first);
  };
  for (const auto& step : plan.steps) {
    switch (step.op) {
      case JsonProgram::Step::field:
        if (write_field(step, text, first, rules, ctx, out)) first = false;
        break;
      case JsonProgram::Step::general: {
        const std::size_t mark = out.mark();
        out.put(prefix(step));
        if (write_evaluated(rules[step.rule], mark, ctx, out)) first = false;
        break;
      }
      case JsonProgram::Step::pa_var: {  // as append_plain(): no value without the enrichment's part
        const auto* pa = ctx.enrichment;
        if (!pa) break;
        if (step.var == Var::pa_tier ? pa->tier < 0
                                     : step.var == Var::pa_risk_score ? pa->severity <= 0 : pa->detections.empty())
          break;
        [[fallthrough]];  // a value: the rule writes it (write_shape() leaves it to write_field())
      }
      case JsonProgram::Step::text_var:  // as write_shape(): the context's string, when it has one
        if (step.op == JsonProgram::Step::text_var) {
          if (const std::string* t = text_variable(step.var, ctx)) {
            if (!t->empty()) {
              out.json_string(prefix(step), *t);
              first = false;
            }
            break;
          }
        }
        [[fallthrough]];
      case JsonProgram::Step::list_var:  // as write_shape(): an empty list gives nothing (most events)
        if (step.op == JsonProgram::Step::list_var && list_variable(step.var, ctx).empty()) break;
        [[fallthrough]];
      case JsonProgram::Step::int_var:
      case JsonProgram::Step::address:
      case JsonProgram::Step::structured:
      case JsonProgram::Step::converted:
      case JsonProgram::Step::strings:
        if (const auto written = write_shape(step, prefix(step), rules, ctx, out)) {
          if (*written) first = false;
        } else if (write_field(step, text, first, rules, ctx, out)) {
          first = false;
        }
        break;
      case JsonProgram::Step::constant:
        out.put(prefix(step));
        first = false;
        break;
      case JsonProgram::Step::choice:
        if (const auto* chosen = choose(plan, step, ctx)) {
          out.put(prefix(step));
          out.put(std::string_view(text + chosen->text_at, chosen->text_size));
          first = false;
        }
        break;
      case JsonProgram::Step::open:
        levels[depth++] = Level{out.mark(), first};
        out.put(prefix(step));
        first = true;
        break;
      case JsonProgram::Step::close: {  // one level or more, innermost first
        std::size_t closed = 0;
        for (; closed < step.text_size && first; ++closed) {  // nothing inside: drop the key
          const Level& level = levels[--depth];
          out.truncate(level.mark);
          first = level.first;
        }
        if (closed < step.text_size) {  // a level with content: it and those around it are closed
          const std::size_t rest = step.text_size - closed;
          depth -= rest;
          out.put(std::string_view(text + step.text_at + closed, rest));
          first = false;
        }
        break;
      }
    }
  }
  out.put('}');
}

}  // namespace

void JsonProgram::SizeHint::changed(std::uint32_t now, std::uint32_t s) const {
  if (s > now) {
    bytes_.store(std::min(s, std::min(2 * now, kMax)), std::memory_order_relaxed);
    return;
  }
  // Counted per thread over every plan it writes with: a plain counter, no shared store.
  thread_local std::uint32_t smaller = 0;
  if (++smaller < kPatience) return;
  smaller = 0;
  bytes_.store(s + (now - s) / 2, std::memory_order_relaxed);
}

void write_json_document(const JsonProgram& plan, const std::vector<Rule>& rules, const EvalContext& ctx,
                         std::string& out) {
  if (plan.writer == JsonProgram::Writer::general) {
    StringOut general(out);
    write_steps(plan, rules, ctx, general);
    return;
  }
  CursorOut cursor(out, plan.size_hint.get());
  write_steps(plan, rules, ctx, cursor);
  plan.size_hint.saw(cursor.finish());
}

}  // namespace siem::mapping
