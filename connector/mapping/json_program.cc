// The JSON document writer's plan (json_document.h): the target tree of a kind's rules compiled once
// into a flat list of steps, each rule's member classified into the shape the writer handles
// (json_document.cc runs the steps for every event).
#include "connector/mapping/json_document.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "connector/mapping/expression.h"
#include "connector/record/encoding.h"

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
  if (rule.single_path) return;
  // Alternatives that each copy the first non-empty string of record paths as it is, or through an
  // ip conversion ({from: [a, b]}, [a, b], source.ip over two paths): the writer's loop.
  const auto record_strings = [](const ExprPtr& e) {
    return e->is_plain && e->src == Expr::Src::from && e->when.empty() && !e->paths.empty() &&
           (e->conversion == Conversion::none || is_ip(e->conversion));
  };
  if (!rule.alternatives.empty() && std::all_of(rule.alternatives.begin(), rule.alternatives.end(), record_strings) &&
      (rule.alternatives.size() > 1 || rule.alternatives.front()->paths.size() > 1)) {
    step.op = Step::strings;
    return;
  }
  if (rule.alternatives.size() != 1) return;
  const Expr& only = *rule.alternatives.front();
  if (!only.when.empty()) return;
  if (!only.is_plain) {
    // {from: one path, type: T} that append_direct() writes through the conversion's fast
    // implementation (no map, default or list limit; a multiply only with int: Expr::direct()).
    if (rule.direct && only.direct() && only.src == Expr::Src::from && !only.has_lookup && only.paths.size() == 1 &&
        conversion_row(only.conversion).fast) {
      step.op = Step::converted;
      step.expr = &only;
      step.path = &only.paths.front();
      step.slot = step.path->slot;
    }
    return;
  }
  if (only.src == Expr::Src::virt) {
    switch (shape_of(only.var)) {
      case VarShape::text: step.op = Step::text_var; break;
      case VarShape::integer: step.op = Step::int_var; break;
      case VarShape::list: step.op = Step::list_var; break;
      case VarShape::other:
        if (only.var != Var::pa_tier && only.var != Var::pa_risk_score && only.var != Var::pa_detections) return;
        step.op = Step::pa_var;
        break;
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

}  // namespace siem::mapping
