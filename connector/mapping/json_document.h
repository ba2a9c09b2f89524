// A JSON document written from dotted targets ("a.b.c" -> {"a":{"b":{"c":...}}}) and their rules:
// the writer shared by the ECS and OCSF encoders. The target tree is compiled once per kind into a
// flat program of steps; writing an event is one pass over it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "connector/mapping/mapping_rules.h"

namespace siem::mapping {

enum class Var : std::uint8_t;  // expression.h

// The document of one source kind as a flat list of steps, run in order: the target tree walked
// once when the mappings load (pre-order), so writing an event is one pass over a contiguous array
// with no recursion. A realistic mix rotates through the kinds, and a compact plan per kind is what
// stays in the CPU's cache from one event of a kind to the next.
struct JsonProgram {
  struct Step {
    enum Op : std::uint8_t {
      field,        // a rule's member: "key":value, dropped when the rule has no value
      constant,     // a run of members that never depend on the record, encoded once
      open,         // "key":{ (or "key":[ / an array element's {) -- dropped with its close when empty
      close,        // } or ] of one level, or of several that end together: their bytes in `text`
      // Shapes of a single-alternative rule without conditions, written here rather than through
      // Rule::append_json (the same bytes, fewer calls; a case they do not cover goes to `field`):
      text_var,     // $time, $now, $id, $tenant, $host: the context's string (shape_of(), expression.h)
      int_var,      // $severity, $time_ms
      list_var,     // $tags, $pa.tags, $pa.roles, $pa.role_ids
      address,      // {from: one path, type: ip}: a record string that is an address
      structured,   // {from: one path, type: json / elastic / snake}: the record's object or array
      general,      // a rule's member from Rule::evaluate() alone (JsonProgram::Writer::general)
      choice,       // constants under conditions: the first whose conditions hold, encoded in advance
      converted,    // {from: one path, type: T} with a fast conversion (`expr`): written through it
      pa_var,       // $pa.tier, $pa.risk_score, $pa.detections: absent answered here, else the rule
      strings,      // alternatives of record paths, each a string as it is or an address: the first
    };
    // structured: which shape.
    enum class Shape : std::uint8_t { json, elastic, snake };
    Op op = field;
    Shape shape = Shape::json;
    Var var{};  // text_var, int_var, list_var: which variable
    std::int32_t slot = -1;              // field with a single record path: its PathCache slot
    std::uint32_t text_at = 0, text_size = 0;  // in `text`, starting with the separating comma
    std::uint32_t rule = 0;              // field (and the others' fallback): index in the rules
    const json::Path* path = nullptr;    // field: Rule::single_path; address, structured: its path
    std::uint32_t choice_at = 0, choice_count = 0;  // choice: its alternatives in `choices`
    const Expr* expr = nullptr;          // converted: the rule's one alternative
  };
  std::vector<Step> steps;
  // A choice step's alternatives, in the rule's order: the conditions of `expr` and the JSON text
  // of its constant in `text` (alternatives whose constant is empty give nothing and are left out).
  struct Choice {
    const Expr* expr = nullptr;
    std::uint32_t text_at = 0, text_size = 0;
  };
  std::vector<Choice> choices;
  // Every key prefix and constant run, each stored once with its leading comma (",\"key\":");
  // the first member of an object skips that comma.
  std::string text;
  std::size_t max_depth = 0;

  // shortcuts: what the encoders use. general: every member from Rule::evaluate() and no constant
  // folded in advance -- the reference the tests compare the shortcuts' documents with.
  enum class Writer : std::uint8_t { shortcuts, general };
  Writer writer = Writer::shortcuts;

  // How much room the shortcuts' writer makes for a document of this program before it starts
  // writing (through a cursor, without a capacity check per member), between kMin and kMax bytes.
  // Shared by the threads that write with the plan, so it is stored only on a large change, never
  // per document in the steady state: it rises to a larger document (by at most twice its figure
  // per document: one huge record raises it only that far, a larger document grows its buffer as
  // it goes), and falls halfway towards a document at least 1/8 smaller once a writing thread has
  // seen kPatience such documents. It has a cache line of its own: the stores do not evict the
  // plan's steps and text that every writer reads. A hint, read and stored without ordering.
  class alignas(64) SizeHint {
   public:
    static constexpr std::uint32_t kMin = 512, kMax = 16 * 1024, kStart = 2048, kPatience = 16;
    SizeHint() = default;
    SizeHint(const SizeHint& other) : bytes_(other.get()) {}
    SizeHint& operator=(const SizeHint& other) {
      bytes_.store(other.get(), std::memory_order_relaxed);
      return *this;
    }
    std::uint32_t get() const { return bytes_.load(std::memory_order_relaxed); }
    // A document of `size` bytes was written.
    void saw(std::size_t size) const {
      const std::uint32_t now = get();
      const std::uint32_t s = static_cast<std::uint32_t>(std::clamp<std::size_t>(size, kMin, kMax));
      if (s > now || now - s >= now / 8) changed(now, s);
    }

   private:
    void changed(std::uint32_t now, std::uint32_t s) const;  // json_document.cc
    mutable std::atomic<std::uint32_t> bytes_{kStart};
  };
  SizeHint size_hint;

  // `arrays`: a target segment of digits ("enrichments.0.name") is an element of an array, written
  // in the order the indexes first appear; otherwise every segment is an object key (ECS).
  JsonProgram(const std::vector<Rule>& rules, const std::string& host, bool arrays,
              Writer style = Writer::shortcuts);
};

// Writes the document of `plan` (compiled from `rules`) for one record into `out`.
void write_json_document(const JsonProgram& plan, const std::vector<Rule>& rules, const EvalContext& ctx,
                         std::string& out);

}  // namespace siem::mapping
