// `type: splunk_hec` — Splunk HTTP Event Collector sink (formats.md §3). Each send() turns the batch
// into JSON envelopes (time, host, source, sourcetype, index, fields, event), cuts it into requests
// of at most max_batch_bytes (before gzip), POSTs them to /services/collector/event with
// `Authorization: Splunk <token>` and a per-sink channel, and, with `ack: true`, returns ok only
// after /services/collector/ack reports every ackId as indexed. Response codes map to the R/F/D
// classes of the spec: retry, fatal (bad token, missing channel...), or dead-letter the offending
// object (code 6 invalid-event-number N: objects before N kept, N rejected, the rest resent).
// 413 splits the request in halves.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "connector/config/config_node.h"
#include "connector/core/registry.h"
#include "connector/core/sink.h"
#include "connector/http/http_client.h"

namespace siem {

struct HecSinkSettings {
  std::string name;                 // configured sink name (errors and logs)
  std::string url;                  // event endpoint, e.g. https://splunk:8088/services/collector/event
  std::string base_url;             // scheme://host:port[/prefix] before /services/collector
  Secret token;
  std::string index;                // empty: the token's default index
  std::string sourcetype;           // forces one sourcetype for every event when set
  std::map<SourceKind, std::string> sourcetypes;  // per record kind (raw format), see default_sourcetype()
  std::string host;                 // envelope host (default: the machine name)
  std::string source;               // envelope source (default: "siem-connector:<source name>")
  std::vector<std::pair<std::string, std::string>> fields;  // static indexed fields
  OutputFormat format = OutputFormat::ecs;
  bool gzip = true;
  int gzip_level = 4;
  bool ack = false;
  std::string channel;              // fixed channel GUID; empty: a random one per sink
  std::chrono::milliseconds ack_timeout{600'000};
  std::chrono::milliseconds ack_poll_interval{1'000};
  std::size_t max_batch_bytes = 900'000;
  http::ClientOptions http;
};

// Reads and validates the sink's keys (never touches the network); the format is ctx.format.
// The table of the keys it reads (besides the common sink keys).
const config::Section& splunk_hec_keys();
HecSinkSettings read_hec_sink_settings(const ConfigNode& cfg, const PluginContext& ctx);

// The sourcetype used for an event when `sourcetype` is not set (formats.md §3.6 design): raw Graph
// records azure:aad:audit / azure:aad:signin, Event Hubs records azure:monitor:aad /
// azure:monitor:activity, Activity Log REST mscs:azure:audit; ECS siem:ecs (KV_MODE=json); CEF cef.
std::string default_hec_sourcetype(OutputFormat format, SourceKind kind);

class SplunkHecSink final : public Sink {
 public:
  explicit SplunkHecSink(HecSinkSettings settings);
  ~SplunkHecSink() override;

  void start() override;
  SendResult send(std::span<const EventPtr> batch) override;
  void stop() override;
  void interrupt() noexcept override;

  const std::string& channel() const noexcept { return channel_; }
  // Appends one envelope (no trailing newline) for `ev`; exposed for tests and the benchmark.
  void append_envelope(std::string& out, const MappedEvent& ev) const;

 private:
  struct Reply;
  Reply post(const std::string& body);
  std::string new_channel() const;
  std::string describe_code(int http_status, int code, const std::string& text) const;

  HecSinkSettings s_;
  std::unique_ptr<http::Client> client_;
  std::string channel_;
  std::string auth_header_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> interrupted_{false};  // the drain deadline passed: no more requests or ack waits
  std::mutex wait_mu_;                    // with wait_cv_: the pause between ack polls, which stop() and
  std::condition_variable wait_cv_;       // interrupt() cut short
  void wake() noexcept;
};

void register_splunk_hec_sink(PluginRegistry& registry);

}  // namespace siem
