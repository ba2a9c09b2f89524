#include "sinks/kafka/kafka_sink.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <thread>

#include <sys/types.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace siem {

using Clock = std::chrono::steady_clock;

// ----------------------------------------------------------------------------------------- sink

KafkaSink::KafkaSink(KafkaSinkSettings settings) : settings_(std::move(settings)) {}

KafkaSink::~KafkaSink() { destroy_producer(/*purge=*/true); }

std::uint64_t KafkaSink::producer_generation() const {
  std::lock_guard lock(rk_mu_);
  return generation_;
}

bool KafkaSink::inject_fatal_error_for_testing(rd_kafka_resp_err_t err, const char* reason) {
  std::lock_guard lock(rk_mu_);
  if (rk_ == nullptr) return false;
  return rd_kafka_test_fatal_error(rk_, err, reason) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

void KafkaSink::on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  auto* slot = static_cast<Slot*>(msg->_private);
  (void)rk;
  if (self == nullptr || slot == nullptr || slot->done) return;
  slot->done = true;
  slot->err = msg->err;
  slot->partition = msg->partition;
  slot->offset = msg->offset;
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) slot->errstr = rd_kafka_err2str(msg->err);
  if (self->outstanding_ > 0) --self->outstanding_;
}

void KafkaSink::on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  const std::string& name = self != nullptr ? self->settings_.name : std::string();
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char cause[512] = {0};
    const auto orig = rd_kafka_fatal_error(rk, cause, sizeof cause);
    spdlog::error("sink {}: kafka producer fatal error {}: {}; the producer will be recreated and every message "
                  "not persisted sent again",
                  name, rd_kafka_err2name(orig), cause);
    if (self != nullptr) self->fatal_seen_ = true;
    return;
  }
  // Informational: librdkafka retries by itself (brokers down, transport errors...).
  spdlog::warn("sink {}: kafka: {} ({})", name, reason, rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)));
}

void KafkaSink::on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  const auto* self = static_cast<const KafkaSink*>(rd_kafka_opaque(rk));
  const std::string& name = self != nullptr ? self->settings_.name : std::string();
  const auto lvl = level <= 3 ? spdlog::level::err : level == 4 ? spdlog::level::warn
                 : level <= 6 ? spdlog::level::info : spdlog::level::debug;
  spdlog::log(lvl, "sink {}: librdkafka {}: {}", name, fac, buf);
}

void KafkaSink::create_producer() {
  std::string why;
  kafka::RdKafkaConf conf = kafka::make_conf(settings_.client.properties, why);
  if (!conf) throw SinkError(why);
  char err[512];
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaSink::on_delivery);
  rd_kafka_conf_set_error_cb(conf.get(), &KafkaSink::on_error);
  rd_kafka_conf_set_log_cb(conf.get(), &KafkaSink::on_log);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
  if (rk == nullptr) throw SinkError(fmt::format("cannot create the Kafka producer: {}", err));
  conf.release();  // owned by rk now
  {
    std::lock_guard lock(rk_mu_);
    rk_ = rk;
    ++generation_;
  }
  fatal_seen_ = false;
  spdlog::info("sink {}: kafka producer #{} for {} (topic {}, format {})", settings_.name, generation_,
               settings_.client.properties.get("bootstrap.servers") ? *settings_.client.properties.get("bootstrap.servers")
                                                                    : std::string("?"),
               settings_.topic.text(), to_string(settings_.format));
  spdlog::debug("sink {}: librdkafka properties: {}", settings_.name, settings_.client.properties.dump());
}

void KafkaSink::destroy_producer(bool purge) {
  if (rk_ == nullptr) return;
  if (purge) {
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    // Serve the purge reports so no slot is left pointing at a message librdkafka still owns.
    const auto until = Clock::now() + std::chrono::seconds(5);
    while (rd_kafka_outq_len(rk_) > 0 && Clock::now() < until) rd_kafka_poll(rk_, 50);
  }
  for (auto& [name, rkt] : topics_) rd_kafka_topic_destroy(rkt);
  topics_.clear();
  rd_kafka_t* rk = nullptr;
  {
    std::lock_guard lock(rk_mu_);
    std::swap(rk, rk_);
  }
  rd_kafka_destroy(rk);
  outstanding_ = 0;
}

rd_kafka_topic_t* KafkaSink::topic_handle(const std::string& topic) {
  if (auto it = topics_.find(topic); it != topics_.end()) return it->second;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
  if (rkt == nullptr)
    throw SinkError(fmt::format("cannot use topic '{}': {}", topic, rd_kafka_err2str(rd_kafka_last_error())));
  topics_.emplace(topic, rkt);
  return rkt;
}

KafkaSink::TopicState KafkaSink::check_topic(const std::string& topic, std::string& detail) {
  const rd_kafka_metadata_t* md = nullptr;
  const auto err = rd_kafka_metadata(rk_, 0, topic_handle(topic), &md,
                                     static_cast<int>(settings_.metadata_timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    detail = rd_kafka_err2str(err);
    return TopicState::unknown;
  }
  std::unique_ptr<const rd_kafka_metadata_t, decltype(&rd_kafka_metadata_destroy)> guard(md, rd_kafka_metadata_destroy);
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (topic != t.topic) continue;
    detail = rd_kafka_err2str(t.err);
    switch (t.err) {
      case RD_KAFKA_RESP_ERR_NO_ERROR: return t.partition_cnt > 0 ? TopicState::exists : TopicState::missing;
      case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION: return TopicState::missing;
      case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED: return TopicState::unauthorized;
      default: return TopicState::unknown;  // leader not available etc.: librdkafka waits
    }
  }
  detail = "not in the metadata response";
  return TopicState::missing;
}

std::string KafkaSink::missing_topic_message(const std::string& topic, TopicState state, const std::string& detail) const {
  const std::string* brokers = settings_.client.properties.get("bootstrap.servers");
  if (state == TopicState::unauthorized)
    return fmt::format("kafka topic '{}' on {}: not authorised to produce ({}); grant Write on the topic or fix 'topic'",
                       topic, brokers ? *brokers : std::string("?"), detail);
  return fmt::format("kafka topic '{}' does not exist on {} ({}); create it or fix 'topic' (topics are never "
                     "auto-created unless properties.allow.auto.create.topics is true)",
                     topic, brokers ? *brokers : std::string("?"), detail);
}

void KafkaSink::start() {
  if (rk_ == nullptr) create_producer();
  verified_topics_.clear();
  if (!settings_.topic.is_static()) return;  // templated topics are checked on first use
  std::string detail;
  const auto& topic = settings_.topic.text();
  const TopicState state = check_topic(topic, detail);
  switch (state) {
    case TopicState::exists: verified_topics_.insert(topic); break;
    case TopicState::missing:
    case TopicState::unauthorized: throw SinkError(missing_topic_message(topic, state, detail));
    case TopicState::unknown:
      // Brokers unreachable right now: not a configuration error. librdkafka keeps trying; the
      // topic is checked again on the first send.
      spdlog::warn("sink {}: cannot check kafka topic '{}' yet: {}", settings_.name, topic, detail);
      break;
  }
}

SendResult KafkaSink::send(std::span<const EventPtr> batch) {
  if (batch.empty()) return SendResult::success();
  if (interrupted_) return SendResult::retry_from(0, "interrupted (drain deadline)");
  if (rk_ == nullptr) {
    try {
      create_producer();
    } catch (const SinkError& e) {
      return SendResult::fatal_error(e.what());
    }
  }
  const std::size_t n = batch.size();
  const auto deadline = Clock::now() + settings_.message_timeout + settings_.report_margin;

  // Resolve topics; check each new one exists (a missing topic is a configuration error).
  std::vector<rd_kafka_topic_t*> rkts(n, nullptr);
  {
    std::string last_name;
    rd_kafka_topic_t* last = nullptr;
    for (std::size_t i = 0; i < n; ++i) {
      if (interrupted_) return SendResult::retry_from(0, "interrupted (drain deadline)");  // no metadata wait
      std::string topic = settings_.topic.resolve(*batch[i]);
      if (last != nullptr && topic == last_name) {
        rkts[i] = last;
        continue;
      }
      if (!verified_topics_.contains(topic)) {
        std::string detail;
        const auto state = check_topic(topic, detail);
        if (state == TopicState::missing || state == TopicState::unauthorized) {
          SendResult r = SendResult::fatal_error(missing_topic_message(topic, state, detail));
          r.completed = 0;
          return r;
        }
        if (state == TopicState::exists) verified_topics_.insert(topic);
      }
      try {
        last = topic_handle(topic);
      } catch (const SinkError& e) {
        return SendResult::fatal_error(e.what());
      }
      last_name = std::move(topic);
      rkts[i] = last;
    }
  }

  // Produce every message; each carries its slot as the per-message opaque.
  slots_.assign(n, Slot{});
  outstanding_ = 0;
  bool stop_producing = false;
  for (std::size_t i = 0; i < n && !stop_producing && !interrupted_; ++i) {  // nothing more after an interrupt
    const MappedEvent& ev = *batch[i];
    const std::string_view payload = ev.payload(settings_.format);
    const std::string key = kafka_message_key(ev);
    while (true) {
      rd_kafka_headers_t* hdrs = rd_kafka_headers_new(8);
      for (const auto& [hk, hv] : kafka_message_headers(ev, settings_.format))
        rd_kafka_header_add(hdrs, hk.data(), static_cast<ssize_t>(hk.size()), hv.data(), static_cast<ssize_t>(hv.size()));
      // rd_kafka_produceva: the RD_KAFKA_V_* macros of rd_kafka_producev() use C-style casts.
      rd_kafka_vu_t vu[7];
      vu[0].vtype = RD_KAFKA_VTYPE_RKT;
      vu[0].u.rkt = rkts[i];
      vu[1].vtype = RD_KAFKA_VTYPE_PARTITION;
      vu[1].u.i32 = RD_KAFKA_PARTITION_UA;
      vu[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
      vu[2].u.i = RD_KAFKA_MSG_F_COPY;
      vu[3].vtype = RD_KAFKA_VTYPE_VALUE;
      vu[3].u.mem.ptr = const_cast<char*>(payload.data());
      vu[3].u.mem.size = payload.size();
      vu[4].vtype = RD_KAFKA_VTYPE_KEY;
      vu[4].u.mem.ptr = key.empty() ? nullptr : const_cast<char*>(key.data());
      vu[4].u.mem.size = key.size();
      vu[5].vtype = RD_KAFKA_VTYPE_HEADERS;
      vu[5].u.headers = hdrs;
      vu[6].vtype = RD_KAFKA_VTYPE_OPAQUE;
      vu[6].u.ptr = &slots_[i];
      rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
      if (rd_kafka_error_t* e = rd_kafka_produceva(rk_, vu, 7)) {
        err = rd_kafka_error_code(e);
        rd_kafka_error_destroy(e);
      }
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++outstanding_;
        break;
      }
      rd_kafka_headers_destroy(hdrs);  // not taken over on failure
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && Clock::now() < deadline && !interrupted_) {
        rd_kafka_poll(rk_, 50);  // serve delivery reports to make room
        continue;
      }
      slots_[i].done = true;
      slots_[i].err = err;
      slots_[i].errstr = err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE
                             ? fmt::format("{} bytes exceed message.max.bytes", payload.size() + key.size())
                             : std::string(rd_kafka_err2str(err));
      if (classify_delivery_error(err) == DeliveryClass::fatal || classify_delivery_error(err) == DeliveryClass::config)
        stop_producing = true;  // the rest would fail the same way
      break;
    }
  }

  // Wait for every delivery report. flush() sends lingering messages at once and serves reports.
  // An interrupt (drain deadline) stops the wait: what has no report yet is purged with the
  // producer below and stays unacknowledged.
  while (outstanding_ > 0 && Clock::now() < deadline && !interrupted_) {
    rd_kafka_flush(rk_, 200);
    if (outstanding_ > 0) rd_kafka_poll(rk_, 0);
  }
  char fatal_buf[512] = {0};
  const auto fatal_err = rd_kafka_fatal_error(rk_, fatal_buf, sizeof fatal_buf);
  const bool fatal = fatal_seen_ || fatal_err != RD_KAFKA_RESP_ERR_NO_ERROR;
  const bool timed_out = outstanding_ > 0;

  // Classify. `completed` = the leading run of persisted or rejected messages.
  SendResult result;
  std::size_t first_failed = n;
  std::string first_error, config_error;
  for (std::size_t i = 0; i < n; ++i) {
    const Slot& s = slots_[i];
    const DeliveryClass cls = s.done ? classify_delivery_error(s.err) : DeliveryClass::retriable;
    if (cls == DeliveryClass::persisted) continue;
    if (cls == DeliveryClass::rejected) {
      result.rejected.push_back({i, fmt::format("kafka rejected the message for topic '{}': {} ({})",
                                                rd_kafka_topic_name(rkts[i]), s.errstr, rd_kafka_err2name(s.err))});
      continue;
    }
    if (first_failed == n) {
      first_failed = i;
      first_error = s.done ? fmt::format("{} ({})", s.errstr, rd_kafka_err2name(s.err))
                           : std::string(interrupted_ ? "interrupted (drain deadline) before its delivery report"
                                                      : "no delivery report before the delivery timeout");
    }
    if (cls == DeliveryClass::config && config_error.empty()) {
      const std::string topic = rd_kafka_topic_name(rkts[i]);
      verified_topics_.erase(topic);
      config_error = missing_topic_message(
          topic, s.err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ? TopicState::unauthorized : TopicState::missing,
          s.errstr);
    }
  }

  if (timed_out || fatal) {
    // Replace the producer: nothing it still holds can be trusted (and no report may reach a slot
    // after this call returns).
    destroy_producer(/*purge=*/true);
    if (fatal)
      first_error = fmt::format("idempotent producer fatal error {}: {}; producer recreated, resending from event {}",
                                rd_kafka_err2name(fatal_err), fatal_buf[0] ? fatal_buf : "(no detail)", first_failed);
  }
  slots_.clear();

  if (first_failed == n) {
    result.status = SendStatus::ok;
    return result;
  }
  result.completed = first_failed;
  if (!config_error.empty() && !fatal) {
    result.status = SendStatus::fatal;
    result.error = std::move(config_error);
    return result;
  }
  result.status = SendStatus::retry;
  result.error = fmt::format("{} of {} message(s) not persisted: {}", n - first_failed - result.rejected.size(), n, first_error);
  return result;
}

void KafkaSink::interrupt() noexcept { interrupted_ = true; }

std::size_t KafkaSink::queued_for_testing() const {
  std::lock_guard lock(rk_mu_);
  return rk_ != nullptr ? static_cast<std::size_t>(std::max(0, rd_kafka_outq_len(rk_))) : 0;
}

void KafkaSink::stop() {
  if (rk_ == nullptr) return;
  const auto err = rd_kafka_flush(rk_, interrupted_ ? 0 : 10'000);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    spdlog::warn("sink {}: {} message(s) still queued at shutdown", settings_.name, rd_kafka_outq_len(rk_));
  destroy_producer(/*purge=*/true);
}

void register_kafka_sink(PluginRegistry& registry) {
  registry.add_sink("kafka", "idempotent Kafka producer (librdkafka, acks=all), also the Event Hubs Kafka endpoint",
                    [](const ConfigNode& cfg, const PluginContext& ctx) {
                      KafkaSinkSettings settings = read_kafka_sink_settings(cfg, ctx.name, ctx.format);
                      SinkInstance inst;
                      inst.sink = std::make_unique<KafkaSink>(std::move(settings));
                      return inst;
                    }, &kafka_sink_keys());
}

}  // namespace siem
