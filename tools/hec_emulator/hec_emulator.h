// HecEmulator: a faithful Splunk HTTP Event Collector for tests and the quickstart, mounted on the
// project's loopback HTTP(S) server (tools/emulator/server). It enforces the HEC contract of
// docs formats.md §3:
//   POST /services/collector/event, /services/collector, /services/collector/event/1.0
//        concatenated JSON envelopes; `event` required and not blank (codes 12/13), `time` a number
//        or numeric string, `fields` flat (code 15), optional allowed indexes (code 7); a bad object
//        N answers 400 {"text":"Invalid data format","code":6,"invalid-event-number":N} (or the
//        object's own code) and keeps the objects before N; Content-Encoding: gzip; bodies above
//        max_content_length get 413.
//   POST /services/collector/raw   one event per non-empty line (sourcetype/index/host/source from
//        the query).
//   POST /services/collector/ack   {"acks":[...]} -> {"acks":{"id":bool}} per channel.
//   GET  /services/collector/health[/1.0]  200 code 17, or 503 code 18-20 when made unhealthy.
//   Auth: `Authorization: Splunk <token>` (or Basic with the token as password): missing -> 401/2,
//        wrong scheme -> 401/3, unknown -> 403/4, disabled -> 403/1, `?token=` -> 400/16.
//   Channel (`X-Splunk-Request-Channel` or `?channel=`) required when acks are on: 400/10 missing,
//        400/11 not a GUID; the ack endpoint with acks off -> 400/14.
// Received events are kept in memory (events(), wait_for_events()); faults are injected through
// the methods below or, for the binary, the admin endpoint (/admin/...) described in
// docs/sinks.md.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/emulator/server/http_server.h"
#include "tools/hec_emulator/hec_protocol.h"

namespace siem::hec {

struct HecOptions {
  std::vector<std::string> tokens{"00000000-0000-0000-0000-00000000cafe"};
  std::vector<std::string> disabled_tokens;     // known but disabled (code 1)
  bool ack_enabled = false;                     // useACK on the token(s)
  std::size_t max_content_length = 838860800;   // bytes of request body (as sent) -> 413 above
  std::vector<std::string> allowed_indexes;     // empty: any index
  bool admin_api = false;                       // mount /admin/* (the binary turns it on)
};

// One event as stored by the emulator.
struct ReceivedEvent {
  nlohmann::json envelope;        // the full envelope (raw endpoint: built from the query + line)
  std::string channel;            // empty without a channel
  std::optional<std::uint64_t> ack_id;  // ackId of the request that carried it (acks on, success)
  std::size_t request_number = 0; // 1-based count of data requests that reached the store
};

// Summary of one data request (event/raw endpoints), for tests on batching and retries.
struct RequestRecord {
  std::string path;
  int status = 0;
  int code = -1;          // HEC code answered (-1: none, e.g. dropped)
  std::size_t events_stored = 0;
  std::size_t body_bytes = 0;   // as received (compressed when gzip)
  bool gzip = false;
  std::string channel;
};

class HecEmulator {
 public:
  // Registers its routes on `server` (before or after server.start()). The server must outlive it.
  HecEmulator(HecOptions options, httpd::HttpServer& server);
  HecEmulator(const HecEmulator&) = delete;
  HecEmulator& operator=(const HecEmulator&) = delete;

  // --- store -------------------------------------------------------------------------------------
  std::vector<ReceivedEvent> events() const;
  std::size_t event_count() const;
  std::vector<RequestRecord> requests() const;
  // Waits (bounded) until at least `n` events are stored; returns whether they are.
  bool wait_for_events(std::size_t n, std::chrono::milliseconds timeout) const;
  // Forgets events, requests, ack state and faults.
  void reset();

  // --- fault injection ---------------------------------------------------------------------------
  // After `after` more data requests were served, the next `n` get 503 {"text":"Server is busy",
  // "code":9} and store nothing (`after` > 0: busy in the middle of a batch cut into requests).
  void fail_busy(int n, int after = 0);
  // The next `n` data requests are dropped (connection closed) without storing anything.
  void drop_connections(int n);
  // The next `n` data requests are stored, then the connection is closed before the response
  // (a lost response: the client must resend, making duplicates).
  void drop_after_store(int n);
  // Acks become true only `delay` after the request and after `polls` polls for that id.
  void set_slow_acks(std::chrono::milliseconds delay, int polls);
  // Acks are never granted while `lost` (an indexer that lost the data).
  void set_acks_lost(bool lost);
  // Forgets every ackId issued so far, as Splunk does when a channel idles out (ackIdleCleanup,
  // maxIdleTime): a later query for one of them answers false.
  void expire_acks();
  // 17 = healthy; 18, 19, 20 = unhealthy (health endpoint answers 503 with that code and data
  // requests get 503 code 9 while the code is 18 or 20).
  void set_health(int code);

  std::size_t ack_polls() const;
  // Requests (data POSTs, ack polls, health checks) read in full and held by the server before
  // their answer now (a slow fault, set_slow_acks): the client is inside them.
  std::size_t requests_held() const;

  // JSON body for a HEC code (text as Splunk writes it); the HTTP status for it.
  static std::string reply_body(int code);
  static int http_status(int code);

 private:
  struct AckState {
    std::chrono::steady_clock::time_point issued;
    int polls = 0;
    bool reported_true = false;
  };

  httpd::Response handle_data(const httpd::Request& req, bool raw);
  httpd::Response handle_ack(const httpd::Request& req);
  httpd::Response handle_health(const httpd::Request& req);
  httpd::Response handle_admin(const httpd::Request& req);
  // Returns an error response when authentication fails.
  std::optional<httpd::Response> authenticate(const httpd::Request& req) const;
  httpd::Response reply(const httpd::Request& req, int code, std::size_t stored, bool gzip,
                        const std::string& channel, nlohmann::json extra = {});

  HecOptions options_;
  const httpd::HttpServer& server_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<ReceivedEvent> events_;
  std::vector<RequestRecord> requests_;
  std::map<std::string, std::uint64_t> next_ack_;                       // channel -> next id
  std::map<std::string, std::map<std::uint64_t, AckState>> acks_;      // channel -> id -> state
  std::size_t data_requests_ = 0;
  std::size_t ack_polls_ = 0;
  int busy_ = 0;
  int busy_after_ = 0;  // data requests still served before busy_ applies
  int drop_ = 0;
  int drop_after_store_ = 0;
  std::chrono::milliseconds ack_delay_{0};
  int ack_min_polls_ = 0;
  bool acks_lost_ = false;
  int health_ = 17;
};

}  // namespace siem::hec
