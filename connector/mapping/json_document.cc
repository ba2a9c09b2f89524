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

namespace {

bool is_index(std::string_view s) {
  return !s.empty() && s.size() <= 4 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The step a rule's member becomes: `field` (Rule::append_json / evaluate), or one of the shapes the
// writer handles itself when the rule is a single plain alternative without conditions.
void classify(const Rule& rule, JsonProgram::Step& step) {
  using Step = JsonProgram::Step;
  step.op = Step::field;
  step.path = rule.single_path;
  step.slot = rule.single_path ? rule.single_path->slot : -1;
  if (rule.single_path || rule.alternatives.size() != 1) return;
  const Expr& only = *rule.alternatives.front();
  if (!only.is_plain || !only.when.empty()) return;
  if (only.src == Expr::Src::virt) {
    switch (shape_of(only.var)) {
      case VarShape::text: step.op = Step::text_var; break;
      case VarShape::integer: step.op = Step::int_var; break;
      case VarShape::list: step.op = Step::list_var; break;
      case VarShape::other: return;
    }
    step.var = only.var;
    return;
  }
  if (only.src != Expr::Src::from || only.paths.size() != 1) return;
  step.op = Step::structured;
  switch (only.conversion) {
    case Conversion::json: step.shape = Step::Shape::json; break;
    case Conversion::elastic: step.shape = Step::Shape::elastic; break;
    case Conversion::snake: step.shape = Step::Shape::snake; break;
    case Conversion::ip: step.op = Step::address; break;
    default: step.op = Step::field; return;
  }
  step.path = &only.paths.front();
  step.slot = step.path->slot;
}

}  // namespace

JsonProgram::JsonProgram(const std::vector<Rule>& rules, const std::string& host, bool arrays,
                         Writer style)
    : writer(style) {
  const bool general = style == Writer::general;
  // The target tree: "a.b.c" is member c of object b of object a.
  struct Node {
    std::string key;
    std::vector<std::size_t> children;
    int rule = -1;
    bool constant = false;
    bool array = false;    // its children are array elements
    bool element = false;  // an element of its parent array: written without a key
    std::string text;      // constant: the whole member ("key":value)
  };
  std::vector<Node> nodes(1);  // nodes[0] is the root
  for (std::size_t r = 0; r < rules.size(); ++r) {
    std::size_t cur = 0;
    std::string_view t = rules[r].target;
    std::size_t start = 0;
    while (start <= t.size()) {
      auto dot = t.find('.', start);
      if (dot == std::string_view::npos) dot = t.size();
      const std::string seg(t.substr(start, dot - start));
      std::size_t next = SIZE_MAX;
      for (auto c : nodes[cur].children)
        if (nodes[c].key == seg) next = c;
      if (next == SIZE_MAX) {
        Node n{seg, {}, -1, false, false, false, {}};
        n.element = arrays && cur != 0 && is_index(seg);
        nodes.push_back(std::move(n));
        next = nodes.size() - 1;
        nodes[cur].children.push_back(next);
        if (nodes[next].element) nodes[cur].array = true;
      }
      cur = next;
      start = dot + 1;
    }
    nodes[cur].rule = static_cast<int>(r);
  }
  // An object with both index and name members ("a.0.x" and "a.y") stays an object: its index
  // members are keys ("0"), so the document is valid JSON whatever the targets say.
  for (auto& n : nodes) {
    if (!n.array) continue;
    if (std::all_of(n.children.begin(), n.children.end(), [&](std::size_t c) { return nodes[c].element; })) continue;
    n.array = false;
    for (auto c : n.children) nodes[c].element = false;
  }
  auto prefix = [](const Node& n) {
    std::string p;
    if (!n.element) {
      encoding::append_json_string(p, n.key);
      p += ':';
    }
    if (n.rule < 0) p += n.array ? '[' : '{';
    return p;
  };
  // Children are created after their parent: deciding from the last node back sees every
  // child's answer before its parent's.
  for (std::size_t i = nodes.size(); i-- > 1;) {
    auto& n = nodes[i];
    if (n.rule >= 0) {
      std::string value;
      if (!general && rules[static_cast<std::size_t>(n.rule)].constant_json(host, value)) {
        n.constant = true;
        n.text = prefix(n) + value;
      }
      continue;
    }
    n.constant = !n.children.empty() &&
                 std::all_of(n.children.begin(), n.children.end(), [&](std::size_t c) { return nodes[c].constant; });
    if (n.constant) {
      n.text = prefix(n);
      for (std::size_t k = 0; k < n.children.size(); ++k) {
        if (k > 0) n.text += ',';
        n.text += nodes[n.children[k]].text;
      }
      n.text += n.array ? ']' : '}';
    }
  }
  auto add_text = [this](Step& step, std::string_view body) {
    step.text_at = static_cast<std::uint32_t>(text.size());
    text += ',';
    text += body;
    step.text_size = static_cast<std::uint32_t>(text.size() - step.text_at);
  };
  // A rule whose alternatives are all constants (under conditions: one without any is folded
  // above) becomes a choice step: each constant's JSON encoded once here, not per event.
  auto add_choice = [&](const Rule& rule, Step& step) {
    if (!rule.direct || rule.alternatives.empty()) return false;
    for (const auto& a : rule.alternatives)
      if (!a->is_plain || a->src != Expr::Src::value) return false;
    step.op = Step::choice;
    step.choice_at = static_cast<std::uint32_t>(choices.size());
    for (const auto& a : rule.alternatives) {
      if (a->constant.empty()) continue;  // append_plain(): nothing, the next alternative decides
      Choice c;
      c.expr = a.get();
      c.text_at = static_cast<std::uint32_t>(text.size());
      append_value_json(text, a->constant);
      c.text_size = static_cast<std::uint32_t>(text.size() - c.text_at);
      choices.push_back(c);
    }
    step.choice_count = static_cast<std::uint32_t>(choices.size() - step.choice_at);
    return true;
  };
  // Pre-order emission; consecutive constant members become one step.
  auto emit = [&](auto& self, std::size_t index, std::size_t depth) -> void {
    max_depth = std::max(max_depth, depth);
    std::string run;
    auto flush = [&] {
      if (run.empty()) return;
      Step step;
      step.op = Step::constant;
      add_text(step, run);
      steps.push_back(step);
      run.clear();
    };
    for (auto c : nodes[index].children) {
      const auto& child = nodes[c];
      if (child.constant) {
        if (!run.empty()) run += ',';
        run += child.text;
        continue;
      }
      flush();
      Step step;
      add_text(step, prefix(child));
      if (child.rule >= 0) {
        step.rule = static_cast<std::uint32_t>(child.rule);
        if (general) step.op = Step::general;
        else if (!add_choice(rules[step.rule], step)) classify(rules[step.rule], step);
        steps.push_back(step);
      } else {
        step.op = Step::open;
        steps.push_back(step);
        self(self, c, depth + 1);
        // Objects and arrays that end together are one step: their closing bytes, innermost first.
        const char closer = child.array ? ']' : '}';
        if (steps.back().op == Step::close && steps.back().text_at + steps.back().text_size == text.size()) {
          text += closer;
          ++steps.back().text_size;
        } else {
          Step end;
          end.op = Step::close;
          end.text_at = static_cast<std::uint32_t>(text.size());
          end.text_size = 1;
          text += closer;
          steps.push_back(end);
        }
      }
    }
    flush();
  };
  emit(emit, 0, 0);
}

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
                                                  const EvalContext& ctx, Out& out) {
  using Shape = JsonProgram::Step::Shape;
  switch (step.op) {
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
      case JsonProgram::Step::text_var:
      case JsonProgram::Step::int_var:
      case JsonProgram::Step::list_var:
      case JsonProgram::Step::address:
      case JsonProgram::Step::structured:
        if (const auto written = write_shape(step, prefix(step), ctx, out)) {
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
