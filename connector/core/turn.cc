#include "connector/core/turn.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

namespace siem {

namespace {

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) {
  // Returns at once when `word` no longer holds `expected`; spurious returns are fine (the caller
  // checks again).
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr,
            nullptr, 0);
}

void futex_wake_all(std::atomic<std::uint32_t>& word) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr,
            0);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

static_assert(std::atomic<std::uint32_t>::is_always_lock_free && sizeof(std::atomic<std::uint32_t>) == 4,
              "the futex word is a plain 32-bit integer");

std::chrono::nanoseconds Turn::next_spin(std::chrono::nanoseconds spin, std::chrono::nanoseconds most, bool got_it) {
  const auto least = most / 16;
  return got_it ? std::min(most, std::max(spin * 2, least)) : std::max(least, spin / 2);
}

void Turn::adapt(bool got_it) {
  // Racy on purpose: waiters of different turns may update it at once; any of their values is fine.
  const std::int64_t now = budget_.load(std::memory_order_relaxed);
  const std::int64_t next = next_spin(std::chrono::nanoseconds(now), spin_, got_it).count();
  if (next != now) budget_.store(next, std::memory_order_relaxed);
}

Turn::Waited Turn::wait(std::uint64_t seq) {
  const auto want = static_cast<std::uint32_t>(seq);
  if (now_.load(std::memory_order_acquire) == want) return Waited::ready;
  if (const std::int64_t budget = budget_.load(std::memory_order_relaxed); budget > 0) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(budget);
    for (unsigned i = 1;; ++i) {
      cpu_relax();
      if (now_.load(std::memory_order_acquire) == want) {
        adapt(true);
        return Waited::spun;
      }
      if (i % 64 == 0 && std::chrono::steady_clock::now() >= until) break;
    }
    adapt(false);
  }
  // Sleeping: announce it first, then look again. pass() stores the turn before it reads
  // sleepers_ (both sequentially consistent), so either it sees this sleeper and wakes it, or this
  // load sees the new turn; and a pass() between the load and the futex call changes the word,
  // which the kernel compares before sleeping.
  while (true) {
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    const std::uint32_t now = now_.load(std::memory_order_seq_cst);
    if (now != want) futex_wait(now_, now);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    if (now_.load(std::memory_order_acquire) == want) return Waited::slept;
  }
}

void Turn::pass(std::uint64_t seq) {
  now_.store(static_cast<std::uint32_t>(seq + 1), std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake_all(now_);
}

}  // namespace siem
