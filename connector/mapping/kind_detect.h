// Recognises the kind of an Entra ID / Azure record from its shape (see docs/mapping.md).
#pragma once

#include <simdjson.h>

#include "connector/core/event.h"

namespace siem {

namespace json {
class Fields;
}

SourceKind detect_kind(simdjson::dom::element record);
// The same on the record's index (json::Fields of the record object), which the caller can reuse.
SourceKind detect_kind(const json::Fields& record);
// The same, and whether the record has the fields of two kinds (or fields contradicting its
// category): then the kind is `unknown` and `ambiguous` is set, so the caller can tag it.
SourceKind detect_kind(const json::Fields& record, bool& ambiguous);

}  // namespace siem
