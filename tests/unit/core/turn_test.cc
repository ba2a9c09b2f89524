// The processing workers' turn (core/turn.h): threads holding sequence numbers 0, 1, 2 ... run their
// turns one at a time in sequence order, whether a waiter got the turn spinning or slept for it,
// and a sleeping waiter is woken by pass().
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "connector/core/turn.h"
#include "tests/support/wait.h"

namespace siem {
namespace {

using namespace std::chrono_literals;

// What the threads of a test share, on the heap: a thread left waiting by a broken turn is
// detached when the test gives up on it, and must not outlive what it reads.
struct Shared {
  explicit Shared(std::chrono::nanoseconds spin) : turn(spin) {}
  Turn turn;
  std::vector<int> order;  // written only inside a turn
  std::atomic<int> overlap{0}, inside{0}, finished{0};
};

// Joins the threads once they all finished (bounded); gives up on them (detached, the test failed)
// otherwise.
void join_or_give_up(std::vector<std::thread>& ts, const std::shared_ptr<Shared>& sh, int threads) {
  const bool done = test::wait_until([&] { return sh->finished.load() == threads; }, 60s);
  EXPECT_TRUE(done) << "a waiter was never woken";
  for (auto& t : ts) done ? t.join() : t.detach();
}

// `threads` threads take the sequence numbers round robin (thread t: t, t + threads, ...) and
// append theirs to a vector only the turn protects; the vector must come out 0, 1, 2 ...
void turns_in_order(std::chrono::nanoseconds spin, int threads, int per_thread) {
  auto sh = std::make_shared<Shared>(spin);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([sh, t, threads, per_thread] {
      for (int i = 0; i < per_thread; ++i) {
        const auto seq = static_cast<std::uint64_t>(i * threads + t);
        sh->turn.wait(seq);
        if (sh->inside.fetch_add(1) != 0) ++sh->overlap;
        sh->order.push_back(static_cast<int>(seq));
        sh->inside.fetch_sub(1);
        sh->turn.pass(seq);
      }
      ++sh->finished;
    });
  }
  join_or_give_up(ts, sh, threads);
  if (sh->finished.load() != threads) return;
  EXPECT_EQ(sh->overlap.load(), 0) << "two turns at once";
  ASSERT_EQ(sh->order.size(), static_cast<std::size_t>(threads * per_thread));
  for (std::size_t i = 0; i < sh->order.size(); ++i)
    ASSERT_EQ(sh->order[i], static_cast<int>(i)) << "turn " << i << " out of order";
}

TEST(Turn, TurnsRunOneAtATimeInSequenceOrderWhenWaitersSleep) { turns_in_order(0ns, 4, 2000); }

TEST(Turn, TurnsRunOneAtATimeInSequenceOrderWhenWaitersSpinFirst) { turns_in_order(50us, 2, 5000); }

TEST(Turn, ASleepingWaiterIsWokenByPass) {
  auto sh = std::make_shared<Shared>(0ns);  // no spinning: a waiter for a later turn sleeps at once
  std::vector<std::thread> ts;
  ts.emplace_back([sh] {
    sh->order.push_back(static_cast<int>(sh->turn.wait(1)));
    ++sh->finished;
  });
  // Whether the waiter is asleep yet or not, it must not get turn 1 before turn 0 passed.
  EXPECT_FALSE(test::wait_until([&] { return sh->finished.load() > 0; }, 50ms));
  sh->turn.pass(0);
  join_or_give_up(ts, sh, 1);
  if (sh->finished.load() != 1) return;
  ASSERT_EQ(sh->order.size(), 1u);
  EXPECT_NE(sh->order[0], static_cast<int>(Turn::Waited::spun)) << "no spinning was asked for";
}

TEST(Turn, AReadyTurnIsTakenWithoutWaiting) {
  Turn turn;
  EXPECT_EQ(turn.wait(0), Turn::Waited::ready);
  turn.pass(0);
  EXPECT_EQ(turn.wait(1), Turn::Waited::ready);
}

// A waiter whose spin ends before the turn comes halves the next spin (the holder is not running:
// spinning only takes its CPU), down to a sixteenth of the most.
TEST(Turn, ASpinThatDidNotGetTheTurnHalvesTheNextDownToASixteenth) {
  auto sh = std::make_shared<Shared>(64us);
  EXPECT_EQ(sh->turn.spin_budget(), 64us);
  for (std::uint64_t seq = 1; seq <= 6; ++seq) {
    const auto before = sh->turn.spin_budget();
    std::vector<std::thread> ts;
    ts.emplace_back([sh, seq] {
      sh->turn.wait(seq);
      ++sh->finished;
    });
    // The turn is passed only once the waiter gave up spinning (its budget changed) or, at the
    // floor, where it no longer changes, once it sleeps.
    EXPECT_TRUE(test::wait_until([&] { return sh->turn.spin_budget() < before || before == 4us; }, 10s));
    if (before == 4us) std::this_thread::sleep_for(20ms);
    sh->turn.pass(seq - 1);
    join_or_give_up(ts, sh, static_cast<int>(seq));
    if (sh->finished.load() != static_cast<int>(seq)) return;
  }
  EXPECT_EQ(sh->turn.spin_budget(), 4us);
}

TEST(Turn, TheSpinDoublesAfterASpinThatGotTheTurnAndHalvesAfterOneThatDidNot) {
  EXPECT_EQ(Turn::next_spin(8us, 64us, true), 16us);
  EXPECT_EQ(Turn::next_spin(48us, 64us, true), 64us);  // never more than the most
  EXPECT_EQ(Turn::next_spin(64us, 64us, true), 64us);
  EXPECT_EQ(Turn::next_spin(0us, 64us, true), 4us);    // from nothing, a sixteenth
  EXPECT_EQ(Turn::next_spin(64us, 64us, false), 32us);
  EXPECT_EQ(Turn::next_spin(6us, 64us, false), 4us);   // never less than a sixteenth
  EXPECT_EQ(Turn::next_spin(0us, 0us, false), 0us);    // no spinning asked for: none
  EXPECT_EQ(Turn::next_spin(0us, 0us, true), 0us);
}

}  // namespace
}  // namespace siem
