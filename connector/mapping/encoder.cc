// The output formats' encoders, in output order.
#include "connector/mapping/encoder.h"

#include <stdexcept>

#include "connector/mapping/cef_encoder.h"
#include "connector/mapping/ecs_encoder.h"
#include "connector/mapping/ocsf_encoder.h"

namespace siem::mapping {

std::vector<std::unique_ptr<Encoder>> make_encoders(const MappingSet& set, const std::string& host) {
  std::vector<std::unique_ptr<Encoder>> encoders;
  encoders.push_back(make_ecs_encoder(set, host));
  encoders.push_back(make_cef_encoder(set, host));
  encoders.push_back(make_ocsf_encoder(set, host));
  return encoders;
}

std::string& encoded_output(MappedEvent& event, OutputFormat format) {
  switch (format) {
    case OutputFormat::ecs: return event.ecs;
    case OutputFormat::cef: return event.cef;
    case OutputFormat::ocsf: return event.ocsf;
    case OutputFormat::raw: break;
  }
  // The raw text is the record's own (MappedEvent::raw, a RecordText), never encoded.
  throw std::invalid_argument("encoded_output: raw is not an encoded format");
}

}  // namespace siem::mapping
