// A turn that goes round in sequence order: the processing workers' chunks take their ordered and
// hand-off parts one after the other, chunk 0, 1, 2 ... (pipeline_workers.cc). wait(seq) returns
// once pass(seq - 1) ran (at once for seq 0); pass(seq) lets seq + 1 go.
//
// The wait is short in steady state (the part of a chunk the other worker runs in its turn, a few
// microseconds), so a waiter first spins on the turn for up to `spin` (a CPU-friendly pause loop,
// no syscall, no yield), then sleeps on a futex. pass() makes the wake-up system call only when
// someone sleeps. C++20's atomic wait is not used: libstdc++'s yields the CPU (sched_yield) before
// it sleeps, a context switch per turn when other threads are runnable, and for 64-bit atomics it
// sleeps on a proxy word shared through a global table.
//
// The turn is compared in its low 32 bits: a chunk waits only for chunks handed out before it and
// not yet handed off, at most two per worker (a few hundred), so the comparison is unambiguous.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace siem {

class alignas(64) Turn {
 public:
  explicit Turn(std::chrono::nanoseconds spin = std::chrono::microseconds(50)) : spin_(spin) {}
  Turn(const Turn&) = delete;
  Turn& operator=(const Turn&) = delete;

  // How wait() got the turn: it was ready, it came while spinning, or the waiter slept.
  enum class Waited : std::uint8_t { ready, spun, slept };
  Waited wait(std::uint64_t seq);
  void pass(std::uint64_t seq);
  // Before any wait(): 0 sleeps at once (more waiters than CPUs: spinning would take the CPU from
  // the thread holding the turn).
  void set_spin(std::chrono::nanoseconds spin) { spin_ = spin; }

 private:
  std::atomic<std::uint32_t> now_{0};       // the low 32 bits of the sequence number whose turn it is
  std::atomic<std::uint32_t> sleepers_{0};  // waiters in (or about to enter) the futex wait
  std::chrono::nanoseconds spin_;
};

}  // namespace siem
