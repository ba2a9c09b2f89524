#include "connector/sources/eventhub_kafka/eventhub_kafka_source.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "connector/core/record_reader.h"

namespace siem {

namespace {

using Clock = std::chrono::steady_clock;
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, decltype(&rd_kafka_topic_partition_list_destroy)>;

PartitionList make_list(int size) {
  return PartitionList(rd_kafka_topic_partition_list_new(size), rd_kafka_topic_partition_list_destroy);
}

std::int64_t lookup(const KafkaOffsets& o, const std::string& topic, std::int32_t partition) {
  return lookup_offset(o, topic, partition);
}

bool permanent_consumer_error(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__FATAL:
      return true;
    default: return false;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------- checkpoints

std::int64_t lookup_offset(const KafkaOffsets& o, const std::string& topic, std::int32_t partition) {
  auto t = o.find(topic);
  if (t == o.end()) return RD_KAFKA_OFFSET_INVALID;
  auto p = t->second.find(partition);
  return p == t->second.end() ? RD_KAFKA_OFFSET_INVALID : p->second;
}

std::string encode_kafka_offsets(const KafkaOffsets& offsets) {
  nlohmann::json j = nlohmann::json::object();
  nlohmann::json& topics = j["offsets"] = nlohmann::json::object();
  for (const auto& [topic, parts] : offsets) {
    nlohmann::json& t = topics[topic] = nlohmann::json::object();
    for (const auto& [p, off] : parts) t[std::to_string(p)] = off;
  }
  return j.dump();
}

KafkaOffsets decode_kafka_offsets(const std::string& token) {
  KafkaOffsets out;
  try {
    const auto j = nlohmann::json::parse(token);
    for (const auto& [topic, parts] : j.at("offsets").items()) {
      auto& t = out[topic];
      for (const auto& [p, off] : parts.items()) t[static_cast<std::int32_t>(std::stol(p))] = off.get<std::int64_t>();
    }
  } catch (const std::exception& e) {
    throw SourceError(fmt::format("malformed kafka checkpoint (expected {{\"offsets\":{{topic:{{partition:offset}}}}}}): {}",
                                  e.what()));
  }
  return out;
}

// ------------------------------------------------------------------------------------- options

const config::Section& eventhub_kafka_keys() {
  using config::Type;
  static const config::Section s{"eventhub_kafka", "sources[] with type: eventhub_kafka", {&kafka::client_keys()}, {
      {"topic", Type::string, "required (or the hub of the connection string)", "*pinned.* the event hub, e.g. `insights-logs-auditlogs`"},
      {"group_id", Type::string, "required", "*pinned.* Kafka consumer group; offsets are committed only after every sink has acknowledged"},
      {"initial_offset", Type::choice, "earliest", "where a group with no committed offset starts", {"earliest", "latest"}},
      {"poll_interval", Type::duration, "1s", "longest a poll waits for a batch to fill"},
      {"max_batch_records", Type::integer, "1000", "most records per poll"},
      {"kind", Type::string, "detected per record", "forces the record kind, e.g. `eventhub_audit`"},
  }};
  return s;
}

KafkaPrefetch prefetch_defaults(std::size_t queue_bytes) {
  constexpr std::size_t mib = 1u << 20;
  KafkaPrefetch p;
  p.queued_kbytes = std::clamp<std::size_t>(queue_bytes / 4, mib, std::size_t{2'097'151} << 10) >> 10;
  p.fetch_max_bytes = std::clamp<std::size_t>(queue_bytes / 8, mib, std::size_t{2'147'483'135});
  p.partition_fetch_bytes = p.fetch_max_bytes / 4;
  return p;
}

namespace {

std::optional<std::size_t> integer_property(const kafka::ClientProperties& props, std::string_view key) {
  const std::string* v = props.get(key);
  std::size_t n = 0;
  if (v == nullptr) return std::nullopt;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size()) return std::nullopt;  // librdkafka reports it
  return n;
}

// Sets the prefetch bounds the user did not set, consistent with what they did set: librdkafka
// refuses a fetch.max.bytes below message.max.bytes, or above receive.message.max.bytes - 512.
void bound_prefetch(kafka::ClientConfig& client, std::size_t queue_bytes) {
  const KafkaPrefetch p = prefetch_defaults(queue_bytes);
  auto& props = client.properties;
  const auto user = [&](const char* key) { return client.user_keys.count(key) > 0; };
  if (!user("queued.max.messages.kbytes")) props.set("queued.max.messages.kbytes", std::to_string(p.queued_kbytes));
  if (!user("max.partition.fetch.bytes") && !user("fetch.message.max.bytes"))
    props.set("max.partition.fetch.bytes", std::to_string(p.partition_fetch_bytes));
  if (!user("fetch.max.bytes")) {
    std::size_t fetch = p.fetch_max_bytes;
    // A queue bound the user set bounds the fetch too (librdkafka's own clamp, which applies only
    // when fetch.max.bytes is not set).
    if (auto kb = user("queued.max.messages.kbytes") ? integer_property(props, "queued.max.messages.kbytes") : std::nullopt)
      fetch = std::min(fetch, *kb * 1024);
    fetch = std::max<std::size_t>(fetch, integer_property(props, "message.max.bytes").value_or(1'000'000));  // librdkafka's default
    if (auto recv = integer_property(props, "receive.message.max.bytes"); recv && *recv > 512)
      fetch = std::min(fetch, *recv - 512);
    props.set("fetch.max.bytes", std::to_string(fetch));
  }
}

}  // namespace

EventHubKafkaOptions read_eventhub_kafka_options(const ConfigNode& cfg, const std::string& name, std::size_t queue_bytes) {
  EventHubKafkaOptions o;
  o.name = name;
  o.group_id = cfg.string("group_id");
  if (o.group_id.empty())
    cfg.error("missing required key 'group_id' (the Kafka consumer group; one per connector deployment, shared by "
              "its replicas)");
  const std::string initial = cfg.choice("initial_offset", {"earliest", "latest"}, "earliest");
  o.poll_interval = cfg.duration("poll_interval", o.poll_interval);
  o.max_batch_records = static_cast<std::size_t>(cfg.integer("max_batch_records", 1000, 1, 1'000'000));
  if (auto kind = cfg.optional_string("kind")) {
    if (auto k = source_kind_from_string(*kind)) o.kind_hint = *k;
    else cfg.error_at("kind", fmt::format("unknown record kind '{}'", *kind));
  }

  kafka::ClientProperties defaults;
  defaults.set("client.id", "siem-connector");
  defaults.set("group.id", o.group_id);
  defaults.set("enable.auto.commit", "false");
  defaults.set("enable.auto.offset.store", "false");
  defaults.set("auto.offset.reset", initial);
  defaults.set("allow.auto.create.topics", "false");
  o.client = kafka::read_client_config(cfg, defaults);
  bound_prefetch(o.client, queue_bytes);
  // Needed to tell when every assigned partition is read to its end (`run --once`).
  o.client.properties.set("enable.partition.eof", "true");
  if (const auto* v = o.client.properties.get("enable.auto.commit"); v && *v != "false")
    cfg.error_at("properties", "'enable.auto.commit' must stay false: offsets are committed only after every sink "
                               "acknowledged the records");
  if (o.client.user_keys.count("group.id"))
    cfg.error_at("properties", "set the consumer group with 'group_id', not properties.group.id");

  o.topic = cfg.string("topic");
  if (o.topic.empty() && !o.client.entity_path.empty()) o.topic = o.client.entity_path;
  if (o.topic.empty()) cfg.error("missing required key 'topic' (the event hub name, e.g. insights-logs-auditlogs)");
  kafka::check_properties_offline(cfg, o.client);
  return o;
}

// -------------------------------------------------------------------------------------- source

EventHubKafkaSource::EventHubKafkaSource(EventHubKafkaOptions options) : options_(std::move(options)) {}

EventHubKafkaSource::~EventHubKafkaSource() {
  if (rk_ != nullptr) close_consumer();
}

void EventHubKafkaSource::close_consumer() {
  // Leaves the group (the revoke callback commits what was acknowledged) and frees the client.
  // The close runs on librdkafka's threads; its rebalance events come back on `events`, served
  // here, for at most close_timeout.
  bool closed = false;
  rd_kafka_queue_t* events = rd_kafka_queue_new(rk_);
  if (rd_kafka_error_t* e = rd_kafka_consumer_close_queue(rk_, events)) {
    spdlog::warn("source {}: cannot leave group '{}': {}", options_.name, options_.group_id, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  } else {
    const auto deadline = Clock::now() + options_.close_timeout;
    while (!(closed = rd_kafka_consumer_closed(rk_) != 0) && Clock::now() < deadline) {
      rd_kafka_event_t* ev = rd_kafka_queue_poll(events, 100);
      if (ev == nullptr) continue;
      if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
        on_rebalance(rk_, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev), this);
      rd_kafka_event_destroy(ev);
    }
    if (!closed)
      spdlog::warn("source {}: leaving group '{}' did not finish within {} ms; its coordinator reassigns the "
                   "partitions after session.timeout.ms",
                   options_.name, options_.group_id, options_.close_timeout.count());
  }
  rd_kafka_queue_destroy(events);
  if (commit_queue_ != nullptr) rd_kafka_queue_destroy(commit_queue_);
  commit_queue_ = nullptr;
  rd_kafka_destroy_flags(rk_, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  rk_ = nullptr;
}

void EventHubKafkaSource::on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  const auto* self = static_cast<const EventHubKafkaSource*>(rd_kafka_opaque(rk));
  const auto lvl = level <= 3 ? spdlog::level::err : level == 4 ? spdlog::level::warn
                 : level <= 6 ? spdlog::level::info : spdlog::level::debug;
  spdlog::log(lvl, "source {}: librdkafka {}: {}", self ? self->options_.name : std::string(), fac, buf);
}

void EventHubKafkaSource::on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<EventHubKafkaSource*>(opaque);
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char cause[512] = {0};
    rd_kafka_fatal_error(rk, cause, sizeof cause);
    std::lock_guard lock(self->mu_);
    self->fatal_ = fmt::format("kafka consumer fatal error: {}", cause);
    return;
  }
  if (code == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
    std::lock_guard lock(self->mu_);
    self->fatal_ = fmt::format("authentication failed: {}", reason);
    return;
  }
  spdlog::warn("source {}: kafka: {} ({})", self->options_.name, reason, rd_kafka_err2name(code));
}

void EventHubKafkaSource::on_commit_result(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                           rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  (void)rk;
  (void)offsets;
  auto* self = static_cast<EventHubKafkaSource*>(opaque);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
    spdlog::warn("source {}: committing offsets to group '{}' failed: {} (the local checkpoint still holds them; "
                 "records may be read again after a rebalance)",
                 self->options_.name, self->options_.group_id, rd_kafka_err2str(err));
}

void EventHubKafkaSource::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                                       void* opaque) {
  auto* self = static_cast<EventHubKafkaSource*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->handle_assign(parts);
  } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    self->handle_revoke(parts);
  } else {
    spdlog::error("source {}: rebalance error: {}", self->options_.name, rd_kafka_err2str(err));
    if (self->cooperative_) rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
    else rd_kafka_assign(rk, nullptr);
  }
}

void EventHubKafkaSource::handle_assign(rd_kafka_topic_partition_list_t* parts) {
  // Start each partition at the larger of: the group's committed offset, the checkpoint the
  // pipeline persisted locally, and what this member already handed to the pipeline.
  PartitionList committed(rd_kafka_topic_partition_list_copy(parts), rd_kafka_topic_partition_list_destroy);
  const auto cerr = rd_kafka_committed(rk_, committed.get(), static_cast<int>(options_.commit_timeout.count()));
  if (cerr != RD_KAFKA_RESP_ERR_NO_ERROR)
    spdlog::warn("source {}: cannot read committed offsets of group '{}': {}; using the local checkpoint",
                 options_.name, options_.group_id, rd_kafka_err2str(cerr));
  std::string summary;
  {
    std::lock_guard lock(mu_);
    for (int i = 0; i < parts->cnt; ++i) {
      auto& p = parts->elems[i];
      std::int64_t start = RD_KAFKA_OFFSET_INVALID;
      if (cerr == RD_KAFKA_RESP_ERR_NO_ERROR && committed->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
          committed->elems[i].offset >= 0)
        start = committed->elems[i].offset;
      assigned_at_[{p.topic, p.partition}] = start;  // the group's offset: commits from here on only move it forward
      start = std::max({start, lookup(persisted_, p.topic, p.partition), lookup(acked_, p.topic, p.partition),
                        lookup(positions_, p.topic, p.partition)});
      p.offset = start >= 0 ? start : RD_KAFKA_OFFSET_INVALID;  // INVALID: auto.offset.reset applies
      assigned_.emplace(p.topic, p.partition);
      at_eof_.erase({p.topic, p.partition});
      resume_at_[{p.topic, p.partition}] = start;  // INVALID: wherever the reset lands is expected
      summary += fmt::format("{}{}[{}]@{}", summary.empty() ? "" : ", ", p.topic, p.partition,
                             start >= 0 ? std::to_string(start) : std::string("reset"));
    }
    assigned_once_ = true;
  }
  spdlog::info("source {}: assigned {}", options_.name, summary.empty() ? std::string("no partitions") : summary);
  if (cooperative_) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk_, parts)) {
      std::lock_guard lock(mu_);
      fatal_ = fmt::format("cannot assign partitions: {}", rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
  } else {
    rd_kafka_assign(rk_, parts);
  }
}

void EventHubKafkaSource::handle_revoke(rd_kafka_topic_partition_list_t* parts) {
  // Commit what the sinks acknowledged for the partitions we give up, so the next owner starts
  // there (records in flight here are read again by it: at-least-once).
  KafkaOffsets give_up;
  {
    std::lock_guard lock(mu_);
    for (int i = 0; i < parts->cnt; ++i) {
      const auto& p = parts->elems[i];
      const auto off = committable_locked(p.topic, p.partition, lookup(acked_, p.topic, p.partition));
      if (off >= 0) give_up[p.topic][p.partition] = off;
      assigned_.erase({p.topic, p.partition});
      assigned_at_.erase({p.topic, p.partition});
      at_eof_.erase({p.topic, p.partition});
      resume_at_.erase({p.topic, p.partition});
    }
  }
  if (!rd_kafka_assignment_lost(rk_) && !give_up.empty()) commit(give_up, /*sync=*/true);
  spdlog::info("source {}: {} partition(s) revoked", options_.name, parts->cnt);
  if (cooperative_) rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk_, parts));
  else rd_kafka_assign(rk_, nullptr);
}

void EventHubKafkaSource::commit(const KafkaOffsets& offsets, bool sync) {
  auto list = make_list(4);
  for (const auto& [topic, parts] : offsets)
    for (const auto& [p, off] : parts) rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = off;
  if (list->cnt == 0) return;
  const auto err = sync ? commit_and_wait(list.get()) : rd_kafka_commit(rk_, list.get(), 1);
  if (err == RD_KAFKA_RESP_ERR__TIMED_OUT)
    spdlog::warn("source {}: group '{}' did not confirm an offset commit within {} ms (the local checkpoint still "
                 "holds the offsets; records may be read again after a rebalance)",
                 options_.name, options_.group_id, options_.commit_timeout.count());
  else if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
    spdlog::warn("source {}: committing offsets to group '{}' failed: {}", options_.name, options_.group_id,
                 rd_kafka_err2str(err));
}

rd_kafka_resp_err_t EventHubKafkaSource::commit_and_wait(const rd_kafka_topic_partition_list_t* list) {
  std::lock_guard lock(commit_mu_);
  const std::uintptr_t id = ++commit_seq_;
  if (const auto err = rd_kafka_commit_queue(rk_, list, commit_queue_, nullptr, reinterpret_cast<void*>(id));
      err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return err;
  const auto deadline = Clock::now() + options_.commit_timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return RD_KAFKA_RESP_ERR__TIMED_OUT;
    rd_kafka_event_t* ev = rd_kafka_queue_poll(commit_queue_, static_cast<int>(left));
    if (ev == nullptr) continue;
    const bool mine = rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT &&
                      reinterpret_cast<std::uintptr_t>(rd_kafka_event_opaque(ev)) == id;
    const auto err = rd_kafka_event_error(ev);
    rd_kafka_event_destroy(ev);
    if (mine) return err;  // anything else is the late result of an abandoned commit
  }
}

void EventHubKafkaSource::start(const std::optional<std::string>& checkpoint) {
  if (checkpoint) persisted_ = decode_kafka_offsets(*checkpoint);
  if (rk_ != nullptr) return;
  std::string why;
  kafka::RdKafkaConf conf = kafka::make_conf(options_.client.properties, why);
  if (!conf) throw SourceError(why);
  char err[512];
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &EventHubKafkaSource::on_rebalance);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), &EventHubKafkaSource::on_commit_result);
  rd_kafka_conf_set_error_cb(conf.get(), &EventHubKafkaSource::on_error);
  rd_kafka_conf_set_log_cb(conf.get(), &EventHubKafkaSource::on_log);
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err);
  if (rk_ == nullptr) throw SourceError(fmt::format("cannot create the Kafka consumer: {}", err));
  conf.release();
  rd_kafka_poll_set_consumer(rk_);
  commit_queue_ = rd_kafka_queue_new(rk_);
  cooperative_ = std::string_view(rd_kafka_rebalance_protocol(rk_)) == "COOPERATIVE";

  auto topics = make_list(1);
  rd_kafka_topic_partition_list_add(topics.get(), options_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (const auto e = rd_kafka_subscribe(rk_, topics.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw SourceError(fmt::format("cannot subscribe to topic '{}': {}", options_.topic, rd_kafka_err2str(e)));
  const auto* brokers = options_.client.properties.get("bootstrap.servers");
  spdlog::info("source {}: consuming topic '{}' as group '{}' from {}", options_.name, options_.topic,
               options_.group_id, brokers ? *brokers : std::string("?"));
  spdlog::debug("source {}: librdkafka properties: {}", options_.name, options_.client.properties.dump());
}

std::int64_t EventHubKafkaSource::committable_locked(const std::string& topic, std::int32_t partition,
                                                     std::int64_t acked) const {
  if (acked < 0 || assigned_.count({topic, partition}) == 0) return RD_KAFKA_OFFSET_INVALID;
  const auto at = assigned_at_.find({topic, partition});
  return at != assigned_at_.end() && acked <= at->second ? RD_KAFKA_OFFSET_INVALID : acked;
}

bool EventHubKafkaSource::caught_up_locked() const {
  if (!assigned_once_) return false;
  return std::all_of(assigned_.begin(), assigned_.end(), [&](const auto& tp) { return at_eof_.count(tp) > 0; });
}

SourceBatch EventHubKafkaSource::poll(std::stop_token stop) {
  SourceBatch batch;
  if (rk_ == nullptr) throw SourceError("poll() before start()");
  const auto deadline = Clock::now() + options_.poll_interval;
  bool consumed = false;
  while (!stop.stop_requested() && batch.records.size() < options_.max_batch_records) {
    {
      std::lock_guard lock(mu_);
      if (!fatal_.empty()) throw SourceError(fatal_);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk_, static_cast<int>(std::min<std::int64_t>(left, 100)));
    if (msg == nullptr) {
      std::lock_guard lock(mu_);
      if (caught_up_locked()) break;
      continue;
    }
    std::unique_ptr<rd_kafka_message_t, decltype(&rd_kafka_message_destroy)> guard(msg, rd_kafka_message_destroy);
    const std::string topic = msg->rkt != nullptr ? rd_kafka_topic_name(msg->rkt) : options_.topic;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      std::lock_guard lock(mu_);
      at_eof_.emplace(topic, msg->partition);
      if (caught_up_locked()) break;
      continue;
    }
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const std::string what = rd_kafka_message_errstr(msg);
      if (permanent_consumer_error(msg->err))
        throw SourceError(fmt::format("topic '{}' (group '{}'): {} ({})", topic, options_.group_id, what,
                                      rd_kafka_err2name(msg->err)));
      spdlog::warn("source {}: kafka: {} ({})", options_.name, what, rd_kafka_err2name(msg->err));
      continue;
    }
    {
      std::lock_guard lock(mu_);
      at_eof_.erase({topic, msg->partition});
    }
    check_resume_offset(topic, msg->partition, msg->offset);
    consumed = true;
    positions_[topic][msg->partition] = msg->offset + 1;
    const std::string_view body(static_cast<const char*>(msg->payload), msg->payload != nullptr ? msg->len : 0);
    if (body.empty()) continue;
    const std::string where = fmt::format("kafka:{}/{}@{}", topic, msg->partition, msg->offset);
    RecordReader::split(
        body,
        [&](const RecordSlice& r) {
          RawRecord rec;
          rec.json = std::string(r.json);
          rec.origin = r.index == kNoElement ? fmt::format("{}:{}", where, r.line)
                                             : fmt::format("{}:{}#{}", where, r.line, r.index);
          rec.kind_hint = options_.kind_hint;
          batch.records.push_back(std::move(rec));
        },
        [&](const ReadError& e) {
          RawRecord rec;
          rec.json = std::string(e.text);
          rec.origin = e.index == kNoElement ? fmt::format("{}:{}", where, e.line)
                                             : fmt::format("{}:{}#{}", where, e.line, e.index);
          rec.kind_hint = options_.kind_hint;
          rec.read_error = e.reason;
          batch.records.push_back(std::move(rec));
        });
  }
  if (consumed) batch.checkpoint = encode_kafka_offsets(positions_);
  std::lock_guard lock(mu_);
  batch.caught_up = caught_up_locked();
  if (once_ && never_read_ > 0 && batch.caught_up) {
    // Like a graph stream the service refused: the rest is read and delivered first.
    if (batch.records.empty() && !batch.checkpoint)
      throw SourceError(fmt::format("topic '{}' (group '{}'): {} message(s) were removed by the hub's retention before "
                                    "they were read (logged above)",
                                    options_.topic, options_.group_id, never_read_));
    batch.caught_up = false;  // the next poll, with nothing left, fails the source
  }
  return batch;
}

void EventHubKafkaSource::on_committed(const std::string& checkpoint) {
  KafkaOffsets offsets;
  try {
    offsets = decode_kafka_offsets(checkpoint);
  } catch (const SourceError& e) {
    spdlog::error("source {}: {}", options_.name, e.what());
    return;
  }
  KafkaOffsets mine;
  {
    std::lock_guard lock(mu_);
    for (const auto& [topic, parts] : offsets) {
      for (const auto& [p, off] : parts) {
        auto& a = acked_[topic][p];
        a = std::max(a, off);
        // Only partitions this member owns (another member may be ahead on the others), and only
        // past where this ownership started (a late acknowledgement of an earlier one is behind).
        if (committable_locked(topic, p, off) >= 0) mine[topic][p] = off;
      }
    }
    // While polling, the commit is queued under the same lock as the ownership check: a revoke
    // (handle_revoke, on the poll thread) takes this lock before it gives a partition up, so a
    // commit decided for an owned partition is queued before the revoke's own commit and its
    // unassign, never after (when the next owner may already have committed further). Queuing
    // (rd_kafka_commit with async) only puts an op on the group's queue: it neither waits for the
    // broker nor serves a callback, so the rebalance callback is never held up by it.
    if (rk_ != nullptr && !mine.empty() && !stopped_.load()) {
      commit(mine, /*sync=*/false);
      return;
    }
  }
  // After stop() nothing polls for the asynchronous result any more, and no rebalance callback is
  // served until the consumer closes (after the last on_committed()): commit synchronously, outside
  // the lock (a synchronous commit waits for the group, which may wait for a rebalance to finish).
  if (rk_ != nullptr && !mine.empty()) commit(mine, /*sync=*/true);
}

void EventHubKafkaSource::stop() {
  if (rk_ == nullptr || stopped_) return;
  KafkaOffsets mine;
  {
    std::lock_guard lock(mu_);
    for (const auto& [topic, p] : assigned_) {
      const auto off = committable_locked(topic, p, lookup(acked_, topic, p));
      if (off >= 0) mine[topic][p] = off;
    }
  }
  if (!mine.empty()) commit(mine, /*sync=*/true);
  // The pipeline may still persist a final checkpoint and call on_committed() after this (while
  // the sinks drain), so the consumer stays in the group, paused, and leaves it in the destructor.
  rd_kafka_topic_partition_list_t* parts = nullptr;
  if (rd_kafka_assignment(rk_, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts != nullptr) {
    rd_kafka_pause_partitions(rk_, parts);
    rd_kafka_topic_partition_list_destroy(parts);
  }
  stopped_ = true;
}

std::set<std::pair<std::string, std::int32_t>> EventHubKafkaSource::assignment() const {
  std::lock_guard lock(mu_);
  return assigned_;
}

void register_eventhub_kafka_source(PluginRegistry& registry) {
  registry.add_source("eventhub_kafka",
                      "Event Hubs Kafka endpoint (or any Kafka topic): consumer group, offsets committed after the "
                      "sinks acknowledged",
                      [](const ConfigNode& cfg, const PluginContext& ctx) -> std::unique_ptr<Source> {
                        return std::make_unique<EventHubKafkaSource>(
                            read_eventhub_kafka_options(cfg, ctx.name, ctx.queue_bytes));
                      }, &eventhub_kafka_keys());
}

}  // namespace siem
