// EventHubKafkaSource::check_resume_offset(): what the source says when a partition's next message
// is not at the offset it expected: after an assignment (the offset it was assigned at) and on
// every later message (the one after the last): offset out of range, retention passed while the
// consumer was stopped or held back, or a recreated hub.
#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/sources/eventhub_kafka/eventhub_kafka_source.h"

namespace siem {

OffsetJump classify_offset_jump(std::int64_t expected, std::int64_t offset, std::int64_t low) {
  if (expected < 0 || offset == expected) return OffsetJump::none;
  if (offset < expected) return OffsetJump::rewound;
  if (low < 0) return OffsetJump::unknown;
  // The offsets are still there and held no records (compaction, transaction markers).
  return low <= expected ? OffsetJump::no_records : OffsetJump::lost;
}

void EventHubKafkaSource::set_run_once() { once_ = true; }

void EventHubKafkaSource::check_resume_offset(const std::string& topic, std::int32_t partition, std::int64_t offset) {
  std::int64_t expected = RD_KAFKA_OFFSET_INVALID;
  {
    std::lock_guard lock(mu_);
    if (auto it = resume_at_.find({topic, partition}); it != resume_at_.end()) {
      expected = it->second;  // the first message since the assignment
      resume_at_.erase(it);
    } else {
      expected = lookup_offset(positions_, topic, partition);  // the one after the last message
    }
  }
  if (expected < 0 || offset == expected) return;  // the common case: no watermark lookup
  std::int64_t low = RD_KAFKA_OFFSET_INVALID, high = RD_KAFKA_OFFSET_INVALID;
  rd_kafka_resp_err_t qerr = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (offset > expected) {
    // The cached log start offset is known only when a fetch response carried it (Fetch v5+) or
    // statistics are on; otherwise ask the partition's leader, within a bound.
    rd_kafka_get_watermark_offsets(rk_, topic.c_str(), partition, &low, &high);
    if (low < 0)
      qerr = rd_kafka_query_watermark_offsets(rk_, topic.c_str(), partition, &low, &high,
                                              static_cast<int>(std::min<std::int64_t>(options_.commit_timeout.count(), 5'000)));
    if (qerr != RD_KAFKA_RESP_ERR_NO_ERROR) low = RD_KAFKA_OFFSET_INVALID;
  }
  const std::string* reset = options_.client.properties.get("auto.offset.reset");
  const std::string initial = reset != nullptr ? *reset : std::string("earliest");
  switch (classify_offset_jump(expected, offset, low)) {
    case OffsetJump::none: return;
    case OffsetJump::rewound:
      spdlog::warn("source {}: {}[{}]: offset {} is past the partition's end (was the event hub or topic recreated?); "
                   "resumed at offset {} (initial_offset: {}): those messages are read again",
                   options_.name, topic, partition, expected, offset, initial);
      return;
    case OffsetJump::no_records:
      spdlog::debug("source {}: {}[{}]: offsets {}..{} held no message", options_.name, topic, partition, expected,
                    offset - 1);
      return;
    case OffsetJump::lost:
      never_read_ += static_cast<std::uint64_t>(offset - expected);
      spdlog::error("source {}: {}[{}]: offset {} is no longer on the broker (its retention removed the messages "
                    "before they were read: offset out of range); resumed at offset {} (initial_offset: {}): {} "
                    "message(s) at offsets {}..{} were never read",
                    options_.name, topic, partition, expected, offset, initial, offset - expected, expected, offset - 1);
      return;
    case OffsetJump::unknown:
      never_read_ += static_cast<std::uint64_t>(offset - expected);
      spdlog::error("source {}: {}[{}]: expected offset {}, resumed at offset {} (initial_offset: {}); the partition's "
                    "log start offset could not be read ({}), so whether offsets {}..{} held messages is unknown: up to "
                    "{} message(s) may never have been read",
                    options_.name, topic, partition, expected, offset, initial, rd_kafka_err2str(qerr), expected,
                    offset - 1, offset - expected);
      return;
  }
}

}  // namespace siem
