// Errors that cross from C++ into JavaScript. The addon is built with C++ exceptions off
// (NAPI_DISABLE_CPP_EXCEPTIONS): a failing call sets a pending JavaScript exception and returns
// undefined, so nothing C++ ever unwinds through V8 or libuv.
#pragma once

#include <napi.h>

#include <string>

namespace ipvsd {

// Makes `Error('<syscall> <CODE>: <strerror>[ (<detail>)]')` with `errno` (positive, as in
// <errno.h>), `code` ('ENOENT', the name Node's own errors use) and `syscall`, and throws it.
void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& detail = "");

// The same error as a value, for code that reports rather than throws (libuv callbacks). Plain
// N-API calls only: it never throws, never aborts, and returns nullptr if the environment can no
// longer make objects (a worker being terminated).
napi_value CreateErrnoError(napi_env env, int err, const char* syscall,
                            const std::string& detail = "");

// Throws a TypeError with a `code` of 'ERR_INVALID_ARG_TYPE' for a bad argument.
void ThrowArgError(Napi::Env env, const std::string& message);

}  // namespace ipvsd
