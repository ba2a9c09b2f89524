// The ECS encoder (ecs_encoder.cc).
#pragma once

#include <memory>
#include <string>

#include "connector/mapping/encoder.h"

namespace siem::mapping {

std::unique_ptr<Encoder> make_ecs_encoder(const MappingSet& set, const std::string& host);

}  // namespace siem::mapping
