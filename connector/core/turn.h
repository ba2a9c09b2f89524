// A turn that goes round in sequence order: the processing workers' chunks take their ordered and
// hand-off parts one after the other, chunk 0, 1, 2 ... (pipeline_workers.cc). wait(seq) returns
// once pass(seq - 1) ran (at once for seq 0); pass(seq) lets seq + 1 go.
//
// The wait is short in steady state (the part of a chunk the other worker runs in its turn, a few
// microseconds), so a waiter first spins on the turn (a CPU-friendly pause loop, no syscall, no
// yield), then sleeps on a futex. pass() makes the wake-up system call only when someone sleeps.
// How long it spins adapts, up to `spin`: a spin that got the turn doubles the next spin, one that
// did not halves it (down to `spin` / 16). A spin fails when the turn's holder is not running (a
// sink runner or another process took its CPU): spinning on then only takes CPU from the threads
// that would let the holder run, so after failures the waiters sleep almost at once, and after
// successes they spin long enough to skip the futex sleep and wake-up. C++20's atomic wait is not
// used: libstdc++'s yields the CPU (sched_yield) before it sleeps, a context switch per turn when
// other threads are runnable, and for 64-bit atomics it sleeps on a proxy word shared through a
// global table.
//
// The turn is compared in its low 32 bits: a chunk waits only for chunks handed out before it and
// not yet handed off, at most four per worker (a few hundred), so the comparison is unambiguous.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace siem {

class alignas(64) Turn {
 public:
  explicit Turn(std::chrono::nanoseconds spin = std::chrono::microseconds(50)) { set_spin(spin); }
  Turn(const Turn&) = delete;
  Turn& operator=(const Turn&) = delete;

  // How wait() got the turn: it was ready, it came while spinning, or the waiter slept.
  enum class Waited : std::uint8_t { ready, spun, slept };
  Waited wait(std::uint64_t seq);
  void pass(std::uint64_t seq);
  // Before any wait(): 0 sleeps at once (more waiters than CPUs: spinning would take the CPU from
  // the thread holding the turn).
  void set_spin(std::chrono::nanoseconds spin) {
    spin_ = spin;
    budget_.store(spin.count(), std::memory_order_relaxed);
  }
  // The spin the next wait() starts with (it adapts: see above).
  std::chrono::nanoseconds spin_budget() const {
    return std::chrono::nanoseconds(budget_.load(std::memory_order_relaxed));
  }
  // The spin after one of `spin` that got the turn or not, when the most is `most`.
  static std::chrono::nanoseconds next_spin(std::chrono::nanoseconds spin, std::chrono::nanoseconds most,
                                            bool got_it);

 private:
  void adapt(bool got_it);

  std::atomic<std::uint32_t> now_{0};       // the low 32 bits of the sequence number whose turn it is
  std::atomic<std::uint32_t> sleepers_{0};  // waiters in (or about to enter) the futex wait
  std::atomic<std::int64_t> budget_{0};     // ns the next waiter spins (written by waiters only)
  std::chrono::nanoseconds spin_{0};        // the most a waiter spins
};

}  // namespace siem
