// The OCSF encoder (ocsf_encoder.cc).
#pragma once

#include <memory>
#include <string>

#include "connector/mapping/encoder.h"

namespace siem::mapping {

// The OCSF schema version the shipped `ocsf:` rules write (metadata.version) and are validated
// against (tests/data/ocsf-schema).
inline constexpr const char* kOcsfSchemaVersion = "1.3.0";

std::unique_ptr<Encoder> make_ocsf_encoder(const MappingSet& set, const std::string& host);

}  // namespace siem::mapping
