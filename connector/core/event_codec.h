// The record a disk buffer keeps for one event: what a sink reads from a MappedEvent, with the
// payload of that sink's format only (and the original record, for the dead-letter file).
// Decoding treats the bytes as hostile: every length is checked against what is left.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "connector/core/event.h"

namespace siem {

std::string encode_buffered_event(const MappedEvent& event, OutputFormat format);
// nullopt when the bytes are not a well-formed record of this format version (also when its
// texts and tags add up to more than an event holds: 4 GiB). Never throws on the bytes' account.
std::optional<MappedEvent> decode_buffered_event(std::string_view data, OutputFormat format);

}  // namespace siem
