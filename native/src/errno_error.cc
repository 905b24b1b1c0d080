#include "errno_error.h"

#include <string.h>
#include <uv.h>

namespace ipvsd {

void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& detail) {
  // libuv's error codes are the negated errno values on Linux, and uv_err_name() is what Node uses
  // for `code`, so these errors look like Node's own system errors (except `errno` is positive, as
  // in the project's NetlinkError).
  const char* name = uv_err_name(-err);
  std::string message = std::string(syscall) + " " + name + ": " + strerror(err);
  if (!detail.empty()) message += " (" + detail + ")";

  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, name));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.ThrowAsJavaScriptException();
}

void ThrowArgError(Napi::Env env, const std::string& message) {
  Napi::Error error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  error.ThrowAsJavaScriptException();
}

}  // namespace ipvsd
