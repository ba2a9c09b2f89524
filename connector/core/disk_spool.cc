// The two halves of a sink with a disk buffer (SinkRunner with `buffer: {type: disk}`):
//   spool():          intake queue -> DiskBuffer::append (fsynced) -> acknowledge to the AckTracker,
//                     so the source checkpoints move while the sink is slow or down;
//   send_from_disk(): DiskBuffer::read -> the sink (retry, dead-letter as in memory mode) ->
//                     DiskBuffer::commit once the whole batch is done.
#include <spdlog/spdlog.h>

#include "connector/core/event_codec.h"
#include "connector/core/sink_runner.h"

namespace siem {

void SinkRunner::spool() {
  RepeatedErrorLog log(options_.repeat_log_interval);
  int attempt = 0;
  std::vector<std::string> records;
  while (!aborted_) {
    auto batch = queue_.pop_batch(options_.batch_max_events, options_.batch_max_bytes, options_.batch_timeout);
    if (batch.empty()) break;  // closed and drained
    records.clear();
    for (const auto& ev : batch) records.push_back(encode_buffered_event(*ev, format_));
    std::size_t done = 0;
    while (done < batch.size() && !aborted_) {
      AppendResult r;
      try {
        r = disk_->append(std::span<const std::string>(records).subspan(done));
        attempt = 0;
      } catch (const std::exception& e) {
        // Not acknowledged: the checkpoint holds, the sources stop once the intake is full.
        log.report(fmt::format("sink {}: {}", name_, e.what()), "; retrying the disk buffer");
        if (!sleep_for(next_backoff(attempt++))) break;
        continue;
      }
      std::vector<AckHandle> handles;
      for (std::size_t i = done; i < done + r.handled; ++i) handles.push_back(batch[i]->ack);
      acks_.ack(handles);
      done += r.handled;
      if (r.handled == 0) break;  // interrupted
    }
  }
  spool_done_ = true;
}

void SinkRunner::send_from_disk() {
  while (!aborted_) {
    auto records = disk_->read(options_.batch_max_events, options_.batch_max_bytes, options_.batch_timeout);
    if (records.empty()) {
      if (spool_done_ && disk_->pending() == 0) break;  // closed and everything delivered
      continue;
    }
    std::vector<EventPtr> batch;
    batch.reserve(records.size());
    for (const auto& rec : records) {
      auto ev = decode_buffered_event(rec.data, format_);
      if (!ev) {
        ++counters_.failed;
        spdlog::error("sink {}: a record of its disk buffer {} does not decode as an event; skipped", name_,
                      disk_->dir().string());
        continue;
      }
      batch.push_back(std::make_shared<const MappedEvent>(std::move(*ev)));
    }
    if (!deliver(std::move(batch), /*track_acks=*/false)) break;  // aborted: stays in the buffer
    disk_->commit(records.back().end);
  }
}

}  // namespace siem
