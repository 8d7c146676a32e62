#pragma once
// Errors as values: input from users, files and the network is expected to be
// bad, so functions that read it return Result<T> with a message a human can
// act on. Broken invariants are asserts; store failures throw StoreFailure.

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace core::util {

struct Error {
  std::string message;

  // Prefixes context ("genesis.toml: ") to the message and returns *this.
  Error& context(const std::string& prefix) {
    message = prefix + message;
    return *this;
  }
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(std::string message) { return tl::unexpected<Error>(Error{std::move(message)}); }

}  // namespace core::util
