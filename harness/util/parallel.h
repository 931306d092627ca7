// Runs one piece of work per env on its own thread, at most `jobs` at once. The first
// exception any of them threw is rethrown after all have finished, so none is abandoned
// half-way.
#pragma once

#include <algorithm>
#include <exception>
#include <semaphore>
#include <thread>
#include <vector>

namespace loadmatrix {

template <typename Work> void for_each_env(size_t count, size_t jobs, Work work) {
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

} // namespace loadmatrix
