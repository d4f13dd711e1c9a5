// Error values shared by every module: an error prints as
// `module.error_name: detail`, e.g. `storage.checksum_mismatch: wal.log@4096`.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace lg {

/// An error raised by one module: which module, which named condition, and a
/// human-readable detail that names the offending input.
class error {
public:
  error() = default;

  error(std::string module, std::string name, std::string detail)
    : module_(std::move(module)),
      name_(std::move(name)),
      detail_(std::move(detail)) {
  }

  /// Returns true when this value holds an error.
  explicit operator bool() const noexcept {
    return !name_.empty();
  }

  const std::string& module() const noexcept {
    return module_;
  }

  const std::string& name() const noexcept {
    return name_;
  }

  const std::string& detail() const noexcept {
    return detail_;
  }

  /// Renders the error as `module.name: detail`.
  std::string to_string() const {
    return module_ + "." + name_ + ": " + detail_;
  }

private:
  std::string module_;
  std::string name_;
  std::string detail_;
};

/// Either a value or an error.
template <class T>
class result {
public:
  result(T value) : data_(std::move(value)) {
  }

  result(error err) : data_(std::move(err)) {
  }

  bool ok() const noexcept {
    return data_.index() == 0;
  }

  explicit operator bool() const noexcept {
    return ok();
  }

  T& value() {
    return std::get<0>(data_);
  }

  const T& value() const {
    return std::get<0>(data_);
  }

  T& operator*() {
    return value();
  }

  T* operator->() {
    return &value();
  }

  const T& operator*() const {
    return value();
  }

  const T* operator->() const {
    return &value();
  }

  const error& err() const {
    return std::get<1>(data_);
  }

private:
  std::variant<T, error> data_;
};

/// Declares `make_error(errc, detail)` for a module's error enum. The enum
/// must provide `to_string(errc)` in the same namespace.
#define LG_MODULE_ERRORS(module_name, enum_type)                               \
  inline ::lg::error make_error(enum_type code, std::string detail) {          \
    return ::lg::error(module_name, to_string(code), std::move(detail));       \
  }

} // namespace lg
