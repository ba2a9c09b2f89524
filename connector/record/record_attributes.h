// The keys of the record attributes (RecordAttributes, connector/core/record_attributes.h) in use: the contract
// between the sources that set them and the processors that read them. Core never reads them.
#pragma once

#include <cstdint>

namespace siem::attr {

// Set by graph_pim on roster snapshot records (value 1) unless `roster_events: true`: the mapping
// processor runs the record through enrichment so the roster learns from it, then consumes it
// (acknowledged, sent to no sink).
inline constexpr std::uint16_t state_only = 1;

// Set by graph_pim on the last record of a complete roster snapshot (all pages): the enrichment then
// ends the holds of that kind the snapshot no longer lists, unless an event granted them after
// `snapshot_read_ms` (when the snapshot's first page was requested, epoch ms).
inline constexpr std::uint16_t snapshot_end = 2;
enum SnapshotEnd : std::int64_t { snapshot_assignments = 1, snapshot_eligibilities = 2 };
inline constexpr std::uint16_t snapshot_read_ms = 3;

}  // namespace siem::attr
