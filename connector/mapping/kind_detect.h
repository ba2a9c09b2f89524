// Recognises the kind of an Entra ID / Azure record from its shape (see docs/mapping.md).
#pragma once

#include <simdjson.h>

#include "connector/core/event.h"

namespace siem {

SourceKind detect_kind(simdjson::dom::element record);

}  // namespace siem
