// EventHubKafkaSource::check_resume_offset(): what the source says when a partition resumes away
// from the offset it was assigned at (offset out of range: retention passed, or a recreated hub).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/sources/eventhub_kafka/eventhub_kafka_source.h"

namespace siem {

void EventHubKafkaSource::check_resume_offset(const std::string& topic, std::int32_t partition, std::int64_t offset) {
  std::int64_t start = 0;
  {
    std::lock_guard lock(mu_);
    auto it = resume_at_.find({topic, partition});
    if (it == resume_at_.end()) return;
    start = it->second;
    resume_at_.erase(it);
  }
  if (offset == start) return;
  const std::string* reset = options_.client.properties.get("auto.offset.reset");
  const std::string initial = reset != nullptr ? *reset : std::string("earliest");
  if (offset < start) {
    spdlog::warn("source {}: {}[{}]: offset {} is past the partition's end (was the event hub or topic recreated?); "
                 "resumed at offset {} (initial_offset: {}): those messages are read again",
                 options_.name, topic, partition, start, offset, initial);
    return;
  }
  std::int64_t low = RD_KAFKA_OFFSET_INVALID, high = RD_KAFKA_OFFSET_INVALID;
  rd_kafka_get_watermark_offsets(rk_, topic.c_str(), partition, &low, &high);
  if (low >= 0 && low <= start) {  // the offsets are still there and hold no records (compaction, transaction markers)
    spdlog::debug("source {}: {}[{}]: offsets {}..{} held no message", options_.name, topic, partition, start, offset - 1);
    return;
  }
  spdlog::error("source {}: {}[{}]: offset {} is no longer on the broker (its retention removed the messages before "
                "they were read: offset out of range); resumed at offset {} (initial_offset: {}): {} message(s) at "
                "offsets {}..{} were never read",
                options_.name, topic, partition, start, offset, initial, offset - start, start, offset - 1);
}

}  // namespace siem
