// The pipeline's processing workers (pipeline_workers.cc) with test doubles and two sources: whatever the number of
// workers, a phased processor's ordered() and the later processors see the records one at a time in
// input order, the sinks receive the events in input order, every record is acknowledged (the
// checkpoint moves to the last batch), save_state() and a processor's live change (quiesced()) run
// with nothing in flight, and the slots made before such a change are made again.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "connector/config/config_node.h"
#include "connector/core/cpu_budget.h"
#include "connector/core/pipeline.h"
#include "tests/support/collecting_sink.h"
#include "connector/state/state_store.h"
#include "tests/support/wait.h"

namespace siem {
namespace {

namespace fs = std::filesystem;

// `total` records "<prefix><i>" in batches of varied sizes (1, 7, 64, 333, ...), then caught up.
class BatchesSource : public Source {
 public:
  BatchesSource(std::string prefix, int total) : prefix_(std::move(prefix)), total_(total) {}
  void start(const std::optional<std::string>&) override {}
  SourceBatch poll(std::stop_token) override {
    static constexpr int kSizes[] = {1, 7, 64, 333, 2, 31, 33, 100};
    SourceBatch b;
    if (next_ < total_) {
      const int n = std::min(kSizes[batch_++ % 8], total_ - next_);
      for (int i = 0; i < n; ++i, ++next_) {
        RawRecord r;
        r.json = fmt::format("{}{}", prefix_, next_);
        r.origin = fmt::format("line {}", next_ + 1);
        if (next_ % 97 == 13) r.read_error = "unreadable";  // dead-lettered before any processor
        b.records.push_back(std::move(r));
      }
      b.checkpoint = fmt::format("token-{}", batch_);
    }
    b.caught_up = next_ >= total_;
    return b;
  }
  std::string last_token() const { return fmt::format("token-{}", batch_); }

 private:
  std::string prefix_;
  int total_;
  int next_ = 0;
  int batch_ = 0;
};

using test::CollectingSink;
using test::Received;

std::uint64_t fnv(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Phased: prepare() hashes the record (and works a little, so workers overlap); ordered() folds
// the hash into a running state per source (which therefore depends on every earlier record of
// the source, in order) and dead-letters every 50th of a source; finish() writes the "encoding". `swap_after`: asks for a live change
// after that many records; the change bumps `generation`, which the slots must carry.
class RunningHashProcessor : public Processor {
 public:
  std::atomic<int> in_flight{0};       // between prepare() and the end of ordered()/finish()
  std::atomic<int> ordered_inside{0};  // ordered() calls running right now
  std::atomic<bool> overlap{false};
  std::atomic<bool> unsafe_save{false};
  std::atomic<bool> stale_slot{false};
  std::atomic<int> saves{0};
  std::atomic<std::uint64_t> generation{0};
  int swap_after = -1;
  std::atomic<int> ordered_calls{0};  // changed in ordered() only; read by wants_quiesce()
  std::map<std::uint32_t, std::pair<std::uint64_t, int>> per_source;  // ordered() only: state, calls

  std::string_view name() const override { return "hash"; }
  bool phased() const override { return true; }
  struct HashSlot : Slot {
    std::uint64_t h = 0;
    std::uint64_t generation = 0;
  };
  std::unique_ptr<Slot> make_slot() override {
    auto s = std::make_unique<HashSlot>();
    s->generation = generation.load();
    return s;
  }
  Verdict process(const RawRecord&, const ProcessContext&, MappedEvent&, std::string&) override {
    ADD_FAILURE() << "a phased processor is called through its phases";
    return Verdict::dead_letter;
  }
  Verdict prepare(Slot& slot, const RawRecord& rec, const ProcessContext&, MappedEvent&, std::string&) override {
    ++in_flight;
    auto& s = static_cast<HashSlot&>(slot);
    if (s.generation != generation.load()) stale_slot = true;
    std::uint64_t h = fnv(rec.json);
    for (int i = 0; i < 20000; ++i) h = h * 6364136223846793005ull + 1442695040888963407ull;
    s.h = h;
    return Verdict::deliver;
  }
  Verdict ordered(Slot& slot, const RawRecord& rec, const ProcessContext& ctx, MappedEvent& ev, std::string& reason,
                  Verdict prepared) override {
    if (ordered_inside.fetch_add(1) != 0) overlap = true;
    auto& [state, calls] = per_source[ctx.source];
    state = state * 31 + static_cast<HashSlot&>(slot).h;
    ++ordered_calls;
    ev.set_id(fmt::format("{}@{:x}/g{}", rec.json, state, generation.load()));
    Verdict v = prepared;
    if (v == Verdict::deliver && ++calls % 50 == 0) {
      reason = "every 50th";
      v = Verdict::dead_letter;
    }
    if (v != Verdict::deliver) --in_flight;
    ordered_inside.fetch_sub(1);
    return v;
  }
  void finish(Slot&, const RawRecord& rec, const ProcessContext&, MappedEvent& ev) override {
    ev.raw = "encoded:" + std::string(ev.id());
    // Tags for the per-tag counts: every event "t.all", and "t.mod<record number % 3>".
    ev.set_tags({"t.all", fmt::format("t.mod{}", std::stol(std::string(rec.json).substr(1)) % 3)});
    --in_flight;
  }
  void save_state() override {
    if (in_flight.load() != 0) unsafe_save = true;
    ++saves;
  }
  bool wants_quiesce() const override { return swap_after >= 0 && ordered_calls >= swap_after && generation.load() == 0; }
  void quiesced() override {
    if (in_flight.load() != 0) unsafe_save = true;
    ++generation;
  }
};

// Not phased, after the first: sees the records in input order (the ids' order is checked by the
// sink), consumes every 10th like a dedupe table would.
class OrderedDropProcessor : public Processor {
 public:
  std::string_view name() const override { return "drop"; }
  std::string_view consumed_label() const override { return "dropped"; }
  Verdict process(const RawRecord&, const ProcessContext& ctx, MappedEvent&, std::string&) override {
    return ++seen_[ctx.source] % 10 == 0 ? Verdict::consumed : Verdict::deliver;
  }

 private:
  std::map<std::uint32_t, int> seen_;
};

struct Outcome {
  std::vector<std::string> events;  // in the sink's order (the two sources interleaved)
  std::string dead_letters;
  std::optional<std::string> checkpoint, checkpoint_b;
  std::string expected_checkpoint, expected_checkpoint_b;
  bool overlap = false, unsafe_save = false, stale_slot = false;
  int saves = 0;
  std::uint64_t generation = 0;
  std::map<std::string, double> tagged;  // siem_detection_events_tagged_total by tag, after run()
  bool tag_count_went_down = false;      // between two scrapes while run() ran
  int scrapes = 0;
};

// The samples of siem_detection_events_tagged_total, by tag.
std::map<std::string, double> tagged_counts(const Pipeline& p) {
  Exposition x(false);
  p.write_metrics(x);
  std::map<std::string, double> out;
  std::istringstream in(x.finish());
  const std::string prefix = "siem_detection_events_tagged_total{tag=\"";
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(prefix, 0) != 0) continue;
    const auto end = l.find('"', prefix.size());
    out[l.substr(prefix.size(), end - prefix.size())] = std::stod(l.substr(l.find("} ") + 2));
  }
  return out;
}

Outcome run_with(std::size_t workers, int records, std::chrono::milliseconds save_interval, int swap_after = -1) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("siem-workers-{}-{}", ::getpid(), workers);
  fs::remove_all(dir);
  Outcome out;
  Received received;
  {
    StateStore state(dir / "state");
    DeadLetterWriter dead(dir / "dead.ndjson");
    auto source = std::make_unique<BatchesSource>("a", records);
    auto source_b = std::make_unique<BatchesSource>("b", records / 2);
    auto* src = source.get();
    auto* src_b = source_b.get();
    std::vector<SourceSlot> sources;
    sources.push_back(SourceSlot{"a", std::move(source)});
    sources.push_back(SourceSlot{"b", std::move(source_b)});
    std::vector<SinkSlot> sinks;
    SinkSlot sink;
    sink.name = "out";
    sink.sink = std::make_unique<CollectingSink>(received, [](const MappedEvent& e) { return std::string(e.id()) + "|" + std::string(e.raw); });
    sink.format = OutputFormat::raw;
    sinks.push_back(std::move(sink));
    auto hash = std::make_unique<RunningHashProcessor>();
    hash->swap_after = swap_after;
    auto* h = hash.get();
    std::vector<std::unique_ptr<Processor>> chain;
    chain.push_back(std::move(hash));
    chain.push_back(std::make_unique<OrderedDropProcessor>());
    PipelineOptions o;
    o.once = true;
    o.workers = workers;
    o.drain_timeout = std::chrono::seconds(60);
    o.state_save_interval = save_interval;  // 0: a save (with the workers quiesced) before every chunk
    Pipeline p(o, std::move(sources), std::move(sinks), std::move(chain), state, dead);
    // Scrapes the tag counts while the workers count: at least once (even if run() returned
    // before this thread was first scheduled), then every millisecond or so until run() returned
    // (the wait is pacing, not a condition asserted on: a spinning scraper would take a CPU from
    // the workers), at most 20 000 scrapes.
    std::atomic<bool> ran{false};
    std::thread scraper([&] {
      std::map<std::string, double> last;
      do {
        for (const auto& [tag, n] : tagged_counts(p)) {
          if (n < last[tag]) out.tag_count_went_down = true;
          last[tag] = n;
        }
        ++out.scrapes;
      } while (!test::wait_until([&] { return ran.load(); }, std::chrono::milliseconds(1), std::chrono::milliseconds(1)) &&
               out.scrapes < 20'000);
    });
    EXPECT_EQ(p.run(std::stop_token{}), kExitDeadLettered);
    ran = true;
    scraper.join();
    out.tagged = tagged_counts(p);
    out.checkpoint = state.get(StateStore::checkpoint_key("a"));
    out.expected_checkpoint = src->last_token();
    out.checkpoint_b = state.get(StateStore::checkpoint_key("b"));
    out.expected_checkpoint_b = src_b->last_token();
    out.overlap = h->overlap;
    out.unsafe_save = h->unsafe_save;
    out.stale_slot = h->stale_slot;
    out.saves = h->saves;
    out.generation = h->generation;
  }
  out.events = received.events;
  std::ifstream in(dir / "dead.ndjson");
  std::stringstream ss;
  ss << in.rdbuf();
  out.dead_letters = ss.str();
  fs::remove_all(dir);
  return out;
}

// The lines of one source ("a" or "b"): the events whose record starts with it, or the dead
// letters naming it (without their time stamp; the rest is the record and its reason).
std::vector<std::string> of_source(const std::vector<std::string>& events, char source) {
  std::vector<std::string> out;
  for (const auto& e : events)
    if (!e.empty() && e[0] == source) out.push_back(e);
  return out;
}
std::vector<std::string> letters_of(const std::string& letters, char source) {
  std::vector<std::string> out;
  std::istringstream in(letters);
  for (std::string l; std::getline(in, l);) {
    if (l.find(fmt::format("\"source\":\"{}\"", source)) == std::string::npos) continue;
    const auto t = l.find("\"time\":\"");
    if (t != std::string::npos) l.erase(t, l.find('"', t + 8) + 1 - t);
    out.push_back(l);
  }
  return out;
}

// The record numbers of a source's events ("a17@..." is record 17 of source "a") rise strictly:
// the sink received them in input order.
// The per-tag counts are exact whatever the number of workers (each worker counts in its own
// shard, summed on scrape): "t.all" is every event the sink received (not the consumed or
// dead-lettered ones), "t.mod<k>" those whose record number is k modulo 3; and scrapes while the
// workers counted never saw a count go down.
void expect_exact_tag_counts(const Outcome& o, std::size_t workers) {
  std::map<std::string, double> want;
  for (const auto& e : o.events) {
    want["t.all"] += 1;
    want[fmt::format("t.mod{}", std::stol(e.substr(1, e.find('@') - 1)) % 3)] += 1;
  }
  EXPECT_EQ(o.tagged, want) << workers << " workers";
  EXPECT_FALSE(o.tag_count_went_down) << workers << " workers";
  EXPECT_GT(o.scrapes, 0);
}

bool in_input_order(const std::vector<std::string>& events) {
  long last = -1;
  for (const auto& e : events) {
    const long n = std::stol(e.substr(1, e.find('@') - 1));
    if (n <= last) return false;
    last = n;
  }
  return true;
}

TEST(PipelineWorkers, OutputsOrderAndStateAreTheSameWithOneTwoAndFourWorkers) {
  constexpr int kRecords = 3000;
  const Outcome one = run_with(1, kRecords, std::chrono::minutes(10));
  ASSERT_EQ(one.checkpoint, std::optional<std::string>(one.expected_checkpoint));
  ASSERT_EQ(one.checkpoint_b, std::optional<std::string>(one.expected_checkpoint_b));
  ASSERT_FALSE(of_source(one.events, 'a').empty());
  EXPECT_EQ(of_source(one.events, 'a').front().rfind("a0@", 0), 0u);
  EXPECT_TRUE(in_input_order(of_source(one.events, 'a')));
  EXPECT_TRUE(in_input_order(of_source(one.events, 'b')));
  ASSERT_FALSE(letters_of(one.dead_letters, 'b').empty());
  expect_exact_tag_counts(one, 1);
  // The two sources interleave as their threads queued them; each source's own events and dead
  // letters are the same, in the same order, whatever the number of workers.
  for (const std::size_t workers : {2, 4}) {
    const Outcome many = run_with(workers, kRecords, std::chrono::minutes(10));
    for (const char source : {'a', 'b'}) {
      EXPECT_EQ(of_source(many.events, source), of_source(one.events, source))
          << workers << " workers, source " << source << ": the sink received other events, or in another order";
      EXPECT_EQ(letters_of(many.dead_letters, source), letters_of(one.dead_letters, source)) << workers << " workers";
    }
    EXPECT_EQ(many.events.size(), one.events.size());
    EXPECT_EQ(many.checkpoint, std::optional<std::string>(many.expected_checkpoint))
        << workers << " workers: every record is acknowledged, the checkpoint is the last batch's";
    EXPECT_EQ(many.checkpoint_b, std::optional<std::string>(many.expected_checkpoint_b));
    EXPECT_FALSE(many.overlap) << "ordered() ran for two records at once";
    EXPECT_EQ(many.saves, 1) << "at shutdown";
    expect_exact_tag_counts(many, workers);
  }
}

TEST(PipelineWorkers, StateIsSavedWithNothingInFlight) {
  const Outcome o = run_with(4, 3000, std::chrono::milliseconds(0));
  EXPECT_FALSE(o.unsafe_save) << "save_state() ran with records in flight";
  EXPECT_GE(o.saves, 10);
  EXPECT_EQ(o.checkpoint, std::optional<std::string>(o.expected_checkpoint));
  EXPECT_EQ(o.checkpoint_b, std::optional<std::string>(o.expected_checkpoint_b));
}

TEST(PipelineWorkers, ALiveChangeRunsWithNothingInFlightAndSlotsAreMadeAgain) {
  const Outcome o = run_with(4, 2000, std::chrono::minutes(10), 700);
  EXPECT_EQ(o.generation, 1u);
  EXPECT_FALSE(o.unsafe_save) << "quiesced() ran with records in flight";
  EXPECT_FALSE(o.stale_slot) << "a slot made before the change was used after it";
  // Every event before the change carries generation 0, every one after it 1: one switch point.
  std::size_t switches = 0;
  for (std::size_t i = 1; i < o.events.size(); ++i)
    if (o.events[i - 1].find("/g0") != std::string::npos && o.events[i].find("/g1") != std::string::npos) ++switches;
  EXPECT_EQ(switches, 1u);
  EXPECT_NE(o.events.back().find("/g1"), std::string::npos);
}

// Takes the events of records before `hold_from` ("a<index>"); refuses (retry) the first event of a
// record at or after it and every one after it, so those are not acknowledged before the drain
// gives up on them (after 2 s, some 200 refusals at 20 ms backoff with full jitter). It gives in
// after 500 refusals (~5 s), so that a pipeline that acknowledged them early ends (and fails the
// test) rather than waiting on it for ever.
class HoldingSink : public Sink {
 public:
  HoldingSink(int hold_from, std::atomic<int>& first_held) : hold_from_(hold_from), first_held_(first_held) {}
  void start() override {}
  SendResult send(std::span<const EventPtr> batch) override {
    if (++refusals_ > 500) return SendResult::success();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const std::string_view id = batch[i]->id();  // "a<index>@..."
      const int index = std::stoi(std::string(id.substr(1, id.find('@') - 1)));
      if (index < hold_from_) continue;
      int none = -1;
      first_held_.compare_exchange_strong(none, index);
      return SendResult::retry_from(i, "held");
    }
    return SendResult::success();
  }

 private:
  int hold_from_;
  std::atomic<int>& first_held_;
  int refusals_ = 0;
};

// The checkpoint a HoldingSink allows: the last batch of BatchesSource whose records all come
// before the first refused one (the records consumed or dead-lettered are acknowledged without it).
std::string checkpoint_before(int first_held) {
  static constexpr int kSizes[] = {1, 7, 64, 333, 2, 31, 33, 100};
  int batches = 0;
  for (int end = 0; end + kSizes[batches % 8] <= first_held;) end += kSizes[batches++ % 8];
  return fmt::format("token-{}", batches);
}

// With a sink that stops acknowledging at one record, the checkpoint stops exactly before it,
// whatever the number of workers: acknowledgements are not early (an event handed off but not
// delivered does not count) nor lost (every record before it counts, the dropped and
// dead-lettered ones too).
TEST(PipelineWorkers, TheCheckpointStopsExactlyBeforeTheFirstEventTheSinkDidNotTake) {
  for (const std::size_t workers : {1, 2, 4}) {
    const fs::path dir = fs::temp_directory_path() / fmt::format("siem-workers-held-{}-{}", ::getpid(), workers);
    fs::remove_all(dir);
    std::atomic<int> first_held{-1};
    std::optional<std::string> checkpoint;
    {
      StateStore state(dir / "state");
      DeadLetterWriter dead(dir / "dead.ndjson");
      std::vector<SourceSlot> sources;
      sources.push_back(SourceSlot{"a", std::make_unique<BatchesSource>("a", 3000)});
      std::vector<SinkSlot> sinks;
      SinkSlot sink;
      sink.name = "held";
      sink.sink = std::make_unique<HoldingSink>(1500, first_held);
      sink.format = OutputFormat::raw;
      sink.options.initial_backoff = std::chrono::milliseconds(20);
      sink.options.max_backoff = std::chrono::milliseconds(20);
      sinks.push_back(std::move(sink));
      std::vector<std::unique_ptr<Processor>> chain;
      chain.push_back(std::make_unique<RunningHashProcessor>());
      chain.push_back(std::make_unique<OrderedDropProcessor>());
      PipelineOptions o;
      o.once = true;
      o.workers = workers;
      o.drain_timeout = std::chrono::seconds(2);
      Pipeline p(o, std::move(sources), std::move(sinks), std::move(chain), state, dead);
      EXPECT_EQ(p.run(std::stop_token{}), kExitUndelivered);
      checkpoint = state.get(StateStore::checkpoint_key("a"));
    }
    fs::remove_all(dir);
    ASSERT_GE(first_held.load(), 1500) << workers << " workers";
    EXPECT_EQ(checkpoint, std::optional<std::string>(checkpoint_before(first_held.load())))
        << workers << " workers; the first record not taken: " << first_held.load();
  }
}

// `pipeline.workers`, its older name `mapping_workers`, and the default.
TEST(PipelineWorkers, ConfigKeys) {
  auto read = [](const std::string& yaml, std::string* errors = nullptr) {
    Diagnostics diags;
    auto doc = ConfigDocument::load_string(yaml, "cfg.yaml", diags);
    const auto o = PipelineOptions::from_config(doc->root().child("pipeline"));
    if (errors) *errors = diags.has_errors() ? diags.format() : std::string();
    else EXPECT_FALSE(diags.has_errors()) << diags.format();
    return o.workers;
  };
  EXPECT_EQ(read("pipeline:\n  workers: 3\n"), 3u);
  EXPECT_EQ(read("pipeline:\n  mapping_workers: 2\n"), 2u);
  EXPECT_EQ(read("pipeline:\n  workers: 4\n  mapping_workers: 4\n"), 4u);
  EXPECT_EQ(read("pipeline:\n  queue_events: 10\n"), PipelineOptions::default_workers());
  EXPECT_EQ(read("{}"), PipelineOptions::default_workers());
  // The usable CPUs less one, at least 1.
  EXPECT_EQ(PipelineOptions::default_workers(), usable_cpus() > 1 ? std::min<std::size_t>(usable_cpus() - 1, 64) : 1u);
  std::string errors;
  read("pipeline:\n  workers: 3\n  mapping_workers: 2\n", &errors);
  EXPECT_NE(errors.find("cfg.yaml:3"), std::string::npos) << errors;
  EXPECT_NE(errors.find("older name of workers"), std::string::npos) << errors;
  read("pipeline:\n  workers: 65\n", &errors);
  EXPECT_NE(errors.find("cfg.yaml:2"), std::string::npos) << errors;
  read("pipeline:\n  workers: 0\n", &errors);
  EXPECT_NE(errors.find("cfg.yaml:2"), std::string::npos) << errors;
}

// The number of workers a Pipeline runs (and of tag-count shards it makes): `workers` within
// [1, kMaxWorkers], whatever the options say.
TEST(PipelineWorkers, WorkerCountIsClampedToOneToMax) {
  PipelineOptions o;
  for (const std::size_t asked : {std::size_t{0}, std::size_t{1}, std::size_t{2}, PipelineOptions::kMaxWorkers,
                                  PipelineOptions::kMaxWorkers + 1, std::size_t{100000}}) {
    o.workers = asked;
    EXPECT_EQ(o.worker_count(), std::clamp<std::size_t>(asked, 1, PipelineOptions::kMaxWorkers)) << asked;
  }
}

}  // namespace
}  // namespace siem
