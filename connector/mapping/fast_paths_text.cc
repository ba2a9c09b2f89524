// Rule::append_text, the CEF encoder's form of the writers' shortcuts (fast_paths_forms.h), in a
// file of its own so that the JSON form in fast_paths.cc is compiled as before.
#include "connector/mapping/fast_paths_forms.h"

namespace siem::mapping {

std::optional<bool> Rule::append_text(const EvalContext& ctx, std::string& out) const {
  StringOut to(out);
  return fast_paths_detail::append_in_form<Form::text>(alternatives, ctx, to);
}

}  // namespace siem::mapping
