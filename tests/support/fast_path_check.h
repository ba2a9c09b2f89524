// The mapping engine writes most values through fast paths that skip building a Value:
// Rule::append_json (the ECS writer), Rule::append_text and Rule::string_view (CEF header fields
// and extensions) and Rule::integer_constant (the base severity). Each must give exactly what the general path,
// Rule::evaluate(), gives. check_fast_paths() runs both for every rule of one kind's mapping on
// one record, writes the kind's ECS and OCSF documents both with the writer's shortcuts and in its
// general form (JsonProgram::Writer::general), and the CEF encoder's whole line against
// write_cef_general() (every value through evaluate()), and reports each disagreement. Used by the
// unit tests and the mapping-override fuzzer (which explores rule shapes operators may write),
// compiled into each (no library: the fuzzer build has no test support library).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "connector/mapping/mapping_rules.h"

namespace siem::testing {

struct FastPathReport {
  std::size_t compared = 0;              // fast-path results compared with evaluate()
  std::vector<std::string> disagreements;  // one line each: rule, kind, both results
};

// `json` must be a JSON object. `with_enrichment`: the context carries detections, roles, a tier,
// a tenant and an engine tag (else all of them are empty), so both shapes of $pa.* / $tags are seen.
void check_fast_paths(const mapping::MappingSet& set, const mapping::KindMapping& m, const std::string& json,
                      bool with_enrichment, FastPathReport& report);

}  // namespace siem::testing
