// The JSON document writer shared by the ECS and OCSF encoders (json_document.h).
#include "connector/mapping/json_document.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <memory>

#include "connector/record/encoding.h"
#include "connector/record/json_access.h"

namespace siem::mapping {

namespace {

bool is_index(std::string_view s) {
  return !s.empty() && s.size() <= 4 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

JsonProgram::JsonProgram(const std::vector<Rule>& rules, const std::string& host, bool arrays) {
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
      if (rules[static_cast<std::size_t>(n.rule)].constant_json(host, value)) {
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
        const auto& rule = rules[static_cast<std::size_t>(child.rule)];
        step.op = Step::field;
        step.rule = static_cast<std::uint32_t>(child.rule);
        step.path = rule.single_path;
        step.slot = rule.single_path ? rule.single_path->slot : -1;
        steps.push_back(step);
      } else {
        step.op = Step::open;
        steps.push_back(step);
        self(self, c, depth + 1);
        Step end;
        end.op = child.array ? Step::close_array : Step::close;
        steps.push_back(end);
      }
    }
    flush();
  };
  emit(emit, 0, 0);
}

namespace {

// One member from a rule: "key":value after a comma unless it is its object's first; nothing when
// the rule has no value. true: written. `plan_text`: the plan's text; the member's prefix is taken from
// it only once there is a value (most members of a plan are absent from a given record).
bool write_field(const JsonProgram::Step& step, const char* plan_text, bool first, const std::vector<Rule>& rules,
                 const EvalContext& ctx, std::string& out) {
  const auto prefix_of = [&] { return std::string_view(plan_text + step.text_at + first, step.text_size - first); };
  if (const json::Path* p = step.path) {  // {from: path}: most members
    const auto e = step.slot >= 0 && ctx.cache ? ctx.cache->find(step.slot, *p, ctx.record) : p->first(ctx.record);
    if (!e) return false;
    if (e->is_string()) {
      const std::string_view text = e->get_string().value_unsafe();
      if (text.empty()) return false;
      encoding::append_json_string(out, prefix_of(), text);
      return true;
    }
  }
  const std::size_t mark = out.size();
  out += prefix_of();
  const auto& rule = rules[step.rule];
  if (rule.direct) {
    if (const auto written = rule.append_json(ctx, out)) {
      if (!*written) out.resize(mark);
      return *written;
    }
  }
  Value v = rule.evaluate(ctx);
  if (v.empty()) {
    out.resize(mark);
    return false;
  }
  append_value_json(out, v);
  return true;
}

}  // namespace

void write_json_document(const JsonProgram& plan, const std::vector<Rule>& rules, const EvalContext& ctx,
                         std::string& out) {
  out.reserve(2048);
  out += '{';
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
      case JsonProgram::Step::constant:
        out += prefix(step);
        first = false;
        break;
      case JsonProgram::Step::open:
        levels[depth++] = Level{out.size(), first};
        out += prefix(step);
        first = true;
        break;
      case JsonProgram::Step::close:
      case JsonProgram::Step::close_array: {
        const Level& level = levels[--depth];
        if (first) {  // nothing inside: drop the key
          out.resize(level.mark);
          first = level.first;
        } else {
          out += step.op == JsonProgram::Step::close ? '}' : ']';
          first = false;
        }
        break;
      }
    }
  }
  out += '}';
}

}  // namespace siem::mapping
