// The ECS encoder: one JSON document per event, written from a flat per-kind program of steps
// (EcsProgram) compiled once from the kind's `ecs` rules.
#include "connector/mapping/ecs_encoder.h"

#include <cstdint>
#include <iterator>
#include <map>
#include <memory>

#include "connector/record/encoding.h"
#include "connector/record/json_access.h"

namespace siem::mapping {

namespace {

// The ECS document of one source kind as a flat list of steps, run in order: the target tree
// walked once when the mappings load (pre-order), so writing an event is one pass over a
// contiguous array with no recursion. A realistic mix rotates through the kinds, and a compact
// plan per kind is what stays in the CPU's cache from one event of a kind to the next.
struct EcsProgram {
  struct Step {
    enum Op : std::uint8_t {
      field,     // a rule's member: "key":value, dropped when the rule has no value
      constant,  // a run of members that never depend on the record, encoded once
      open,      // "key":{ -- dropped with its close when nothing inside was written
      close,
    };
    Op op = field;
    std::int32_t slot = -1;              // field with a single record path: its PathCache slot
    std::uint32_t text_at = 0, text_size = 0;  // in `text`, starting with the separating comma
    std::uint32_t rule = 0;              // field: index in KindMapping::ecs
    const json::Path* path = nullptr;    // field: Rule::single_path
  };
  std::vector<Step> steps;
  // Every key prefix and constant run, each stored once with its leading comma (",\"key\":");
  // the first member of an object skips that comma.
  std::string text;
  std::size_t max_depth = 0;

  EcsProgram(const std::vector<Rule>& rules, const std::string& host) {
    // The target tree: "a.b.c" is member c of object b of object a.
    struct Node {
      std::string key;
      std::vector<std::size_t> children;
      int rule = -1;
      bool constant = false;
      std::string text;  // constant: the whole member ("key":value)
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
          nodes.push_back(Node{seg, {}, -1, false, {}});
          next = nodes.size() - 1;
          nodes[cur].children.push_back(next);
        }
        cur = next;
        start = dot + 1;
      }
      nodes[cur].rule = static_cast<int>(r);
    }
    auto prefix = [](const Node& n) {
      std::string p;
      encoding::append_json_string(p, n.key);
      p += ':';
      if (n.rule < 0) p += '{';
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
        n.text += '}';
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
          end.op = Step::close;
          steps.push_back(end);
        }
      }
      flush();
    };
    emit(emit, 0, 0);
  }
};

// One ECS member from a rule: "key":value after a comma unless it is its object's first;
// nothing when the rule has no value. true: written.
bool write_field(const EcsProgram::Step& step, std::string_view prefix, const KindMapping& m,
                 const EvalContext& ctx, std::string& out) {
  if (const json::Path* p = step.path) {  // {from: path}: most members
    const auto e = step.slot >= 0 && ctx.cache ? ctx.cache->find(step.slot, *p, ctx.record) : p->first(ctx.record);
    if (!e) return false;
    if (e->is_string()) {
      const std::string_view text = e->get_string().value_unsafe();
      if (text.empty()) return false;
      out += prefix;
      encoding::append_json_string(out, text);
      return true;
    }
  }
  const std::size_t mark = out.size();
  out += prefix;
  const auto& rule = m.ecs[step.rule];
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

void write_ecs(const EcsProgram& plan, const KindMapping& m, const EvalContext& ctx, std::string& out) {
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
  auto prefix = [&](const EcsProgram::Step& step) {
    return std::string_view(text + step.text_at + first, step.text_size - first);
  };
  for (const auto& step : plan.steps) {
    switch (step.op) {
      case EcsProgram::Step::field:
        if (write_field(step, prefix(step), m, ctx, out)) first = false;
        break;
      case EcsProgram::Step::constant:
        out += prefix(step);
        first = false;
        break;
      case EcsProgram::Step::open:
        levels[depth++] = Level{out.size(), first};
        out += prefix(step);
        first = true;
        break;
      case EcsProgram::Step::close: {
        const Level& level = levels[--depth];
        if (first) {  // nothing inside: drop the key
          out.resize(level.mark);
          first = level.first;
        } else {
          out += '}';
          first = false;
        }
        break;
      }
    }
  }
  out += '}';
}

class EcsEncoder final : public Encoder {
 public:
  EcsEncoder(const MappingSet& set, const std::string& host) {
    plans_.emplace(SourceKind::unknown, EcsProgram(set.for_kind(SourceKind::unknown).ecs, host));
    for (auto k : all_source_kinds()) plans_.emplace(k, EcsProgram(set.for_kind(k).ecs, host));
  }
  std::string_view name() const override { return "ecs"; }
  OutputFormat format() const override { return OutputFormat::ecs; }
  void encode(const MappedRecord& record, std::string& out) const override {
    write_ecs(plans_.at(record.rules.kind), record.rules, record.ctx, out);
  }

 private:
  std::map<SourceKind, EcsProgram> plans_;
};

}  // namespace

std::unique_ptr<Encoder> make_ecs_encoder(const MappingSet& set, const std::string& host) {
  return std::make_unique<EcsEncoder>(set, host);
}

}  // namespace siem::mapping
