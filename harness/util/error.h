// Two tiers of errors, as in ccache: an expected failure (a bad file, a failed spawn, a
// checkpoint that does not load) is a value, `Expected<T>`, that names the file, field or
// call; `FatalError` is thrown only for what ends the command and is caught once in main.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace loadmatrix {

struct Error {
  std::string message;
};

class FatalError : public std::runtime_error {
public:
  explicit FatalError(const std::string& message) : std::runtime_error(message) {}
  explicit FatalError(const Error& error) : std::runtime_error(error.message) {}
};

template <typename T> class Expected {
public:
  Expected(T value) : state_(std::move(value)) {}
  Expected(Error error) : state_(std::move(error)) {}

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return checked(); }
  const T& value() const& { return const_cast<Expected*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<Error>(state_); }

  // Turns an expected failure into the command-ending kind, for call sites where there is
  // nothing sensible left to do.
  T value_or_throw() && {
    if (!has_value()) {
      throw FatalError(error());
    }
    return std::move(std::get<T>(state_));
  }

private:
  T& checked() {
    if (!has_value()) {
      throw FatalError("internal: value() on an error: " + error().message);
    }
    return std::get<T>(state_);
  }

  std::variant<T, Error> state_;
};

// An operation that returns nothing but can fail: `Expected<void>` is success or an Error.
template <> class Expected<void> {
public:
  Expected() = default;
  Expected(Error error) : error_(std::move(error)) {}

  bool has_value() const { return !error_.has_value(); }
  explicit operator bool() const { return has_value(); }
  const Error& error() const { return *error_; }

  void value_or_throw() && {
    if (error_) {
      throw FatalError(*error_);
    }
  }

private:
  std::optional<Error> error_;
};

} // namespace loadmatrix
