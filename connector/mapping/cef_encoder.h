// The CEF encoder (cef_encoder.cc).
#pragma once

#include <memory>

#include "connector/mapping/encoder.h"

namespace siem::mapping {

std::unique_ptr<Encoder> make_cef_encoder();

}  // namespace siem::mapping
