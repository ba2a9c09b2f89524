// The CEF encoder (cef_encoder.cc).
#pragma once

#include <memory>
#include <string>

#include "connector/mapping/encoder.h"

namespace siem::mapping {

// Built from the rule set whose kinds it encodes; `host`: the value of $host, encoded once where a
// rule's value is that constant.
std::unique_ptr<Encoder> make_cef_encoder(const MappingSet& set, const std::string& host);

// The event's CEF line by the general path: every header field and extension value through
// Rule::evaluate(), nothing prepared in advance. The encoder must give the same bytes (and takes
// this path for a mapping it was not built with).
void write_cef_general(const KindMapping& m, const EvalContext& ctx, std::string& out);

}  // namespace siem::mapping
