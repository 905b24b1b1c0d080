#include "errno_error.h"

#include <string.h>
#include <uv.h>

namespace ipvsd {

namespace {

// libuv's error codes are the negated errno values on Linux, and uv_err_name() is what Node uses
// for `code`, so these errors look like Node's own system errors (except `errno` is positive, as
// in the project's NetlinkError).
std::string ErrnoMessage(int err, const char* syscall, const std::string& detail) {
  std::string message = std::string(syscall) + " " + uv_err_name(-err) + ": " + strerror(err);
  if (!detail.empty()) message += " (" + detail + ")";
  return message;
}

}  // namespace

void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& detail) {
  const char* name = uv_err_name(-err);
  Napi::Error error = Napi::Error::New(env, ErrnoMessage(err, syscall, detail));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, name));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.ThrowAsJavaScriptException();
}

napi_value CreateErrnoError(napi_env env, int err, const char* syscall, const std::string& detail) {
  const std::string message = ErrnoMessage(err, syscall, detail);
  napi_value text = nullptr;
  napi_value error = nullptr;
  napi_value errno_value = nullptr;
  napi_value code = nullptr;
  napi_value syscall_value = nullptr;
  if (napi_create_string_utf8(env, message.data(), message.size(), &text) != napi_ok ||
      napi_create_error(env, nullptr, text, &error) != napi_ok ||
      napi_create_int32(env, err, &errno_value) != napi_ok ||
      napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) != napi_ok ||
      napi_set_named_property(env, error, "errno", errno_value) != napi_ok ||
      napi_set_named_property(env, error, "code", code) != napi_ok ||
      napi_set_named_property(env, error, "syscall", syscall_value) != napi_ok) {
    bool pending = false;
    napi_value ignored;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_get_and_clear_last_exception(env, &ignored);
    }
    return nullptr;
  }
  return error;
}

void ThrowArgError(Napi::Env env, const std::string& message) {
  Napi::Error error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  error.ThrowAsJavaScriptException();
}

}  // namespace ipvsd
