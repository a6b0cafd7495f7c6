// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace citybrain {

/// abseil-style error codes; the CLI maps InvalidArgument/NotFound to exit code 2.
enum class ErrorCode {
    kInvalidArgument,
    kNotFound,
    kFailedPrecondition,
    kConflict,
    kResourceExhausted,
    kUnavailable,
    kInternal
};

const char* ErrorCodeName(ErrorCode code);

/// An expected failure: what went wrong (`message`) and where (a file, JSON path or id).
struct Error {
    ErrorCode code = ErrorCode::kInternal;
    std::string message;
    std::string where;

    /// "where: message", or just the message when there is no location.
    std::string ToString() const { return where.empty() ? message : where + ": " + message; }
};

inline Error InvalidArgument(std::string where, std::string message) {
    return Error{ErrorCode::kInvalidArgument, std::move(message), std::move(where)};
}
inline Error NotFound(std::string where, std::string message) {
    return Error{ErrorCode::kNotFound, std::move(message), std::move(where)};
}

/// Result<T>: a value or an Error, shaped like std::expected (C++23) which gcc 12 lacks in C++20.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : data_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
    Result(Error error) : data_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    bool ok() const { return std::holds_alternative<T>(data_); }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<T>(data_); }
    const T& value() const& { return std::get<T>(data_); }
    T&& value() && { return std::get<T>(std::move(data_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<Error>(data_); }

private:
    std::variant<T, Error> data_;
};

/// Result<void> equivalent.
class [[nodiscard]] Status {
public:
    Status() = default;
    Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)
    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return error_; }

private:
    Error error_;
    bool ok_ = true;
};

}  // namespace citybrain

/// Bugs, never user input (DuckDB D_ASSERT): on in dev and CI builds.
#ifdef CB_ENABLE_ASSERT
#define CB_ASSERT(cond, why)                                                                              \
    do {                                                                                                  \
        if (!(cond)) {                                                                                    \
            std::fprintf(stderr, "assertion failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, why); \
            std::abort();                                                                                 \
        }                                                                                                 \
    } while (0)
#else
#define CB_ASSERT(cond, why) ((void)0)
#endif

#define CB_CONCAT_INNER(a, b) a##b
#define CB_CONCAT(a, b) CB_CONCAT_INNER(a, b)

/// Propagates a failed Status.
#define CB_TRY(expr)                                             \
    do {                                                         \
        const auto& cb_try_status_ = (expr);                     \
        if (!cb_try_status_.ok()) return cb_try_status_.error(); \
    } while (0)

/// `CB_TRY_ASSIGN(auto x, Compute());` declares x from a Result or returns its error.
// `tmp` and `decl` are a name and a declaration: they cannot take parentheses.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define CB_TRY_ASSIGN(decl, expr) CB_TRY_ASSIGN_IMPL(CB_CONCAT(cb_try_result_, __LINE__), decl, expr)
#define CB_TRY_ASSIGN_IMPL(tmp, decl, expr) \
    auto tmp = (expr);                      \
    if (!tmp.ok()) return tmp.error();      \
    decl = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
