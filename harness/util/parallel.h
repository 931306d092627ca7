// Work spread over threads. In both, the first exception any piece threw is rethrown after all
// have finished, so none is abandoned half-way.
#pragma once

#include <algorithm>
#include <atomic>
#include <exception>
#include <semaphore>
#include <thread>
#include <vector>

namespace loadmatrix {

// work(0) ... work(count - 1), each on a thread of its own, at most `jobs` at once: for a few
// long pieces that mostly wait (each env's worker in its sandbox).
template <typename Work> void for_each_on_own_thread(size_t count, size_t jobs, Work work) {
  std::counting_semaphore<64> slots(static_cast<std::ptrdiff_t>(std::clamp<size_t>(jobs, 1, 64)));
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(count);
  for (size_t i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      slots.acquire();
      try {
        work(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
      slots.release();
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (auto& error : errors) {
    if (error) {
      std::rethrow_exception(error);
    }
  }
}

// work(0) ... work(count - 1) on a pool of `jobs` threads (0: one per core) that take the next
// index as they finish: for many short pieces, like the static pass over thousands of files.
// Each index is written by exactly one thread, so results placed by index need no lock.
template <typename Work> void for_each_index(size_t count, size_t jobs, Work work) {
  if (jobs == 0) {
    jobs = std::max(1u, std::thread::hardware_concurrency());
  }
  jobs = std::min(jobs, count);
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(jobs);
  auto drain = [&](size_t worker) {
    try {
      for (size_t i = next++; i < count; i = next++) {
        work(i);
      }
    } catch (...) {
      errors[worker] = std::current_exception();
      next = count; // the others stop at their next piece
    }
  };
  std::vector<std::thread> threads;
  for (size_t worker = 1; worker < jobs; ++worker) {
    threads.emplace_back(drain, worker);
  }
  if (jobs > 0) {
    drain(0); // this thread works too
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (auto& error : errors) {
    if (error) {
      std::rethrow_exception(error);
    }
  }
}

} // namespace loadmatrix
