// What bounded child processes need beyond child_process (src/sys/child-process.ts): becoming a
// child subreaper, so that a script's descendant whose parent exits (a `setsid` double fork) is
// reparented to us instead of to init, where it could no longer be found and killed; and reaping
// such adopted processes, which libuv never waits for (it waits only for the pids it spawned).
#include <errno.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "errno_error.h"
#include "subreaper.h"

namespace ipvsd {
namespace {

Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) ThrowErrno(env, errno, "prctl");
  return env.Undefined();
}

// reapChild(pid): true once `pid` is no more our child (reaped now, or not ours: ECHILD), false
// while it still runs. Only for pids libuv did not spawn: reaping those would steal their exit.
Napi::Value ReapChild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowArgError(env, "reapChild(pid: number)");
    return env.Undefined();
  }
  const pid_t pid = info[0].As<Napi::Number>().Int32Value();
  if (pid <= 0) {
    ThrowArgError(env, "reapChild: pid must be positive");
    return env.Undefined();
  }
  int status;
  pid_t got;
  do {
    got = waitpid(pid, &status, WNOHANG | __WALL);
  } while (got < 0 && errno == EINTR);
  return Napi::Boolean::New(env, got == pid || (got < 0 && errno == ECHILD));
}

}  // namespace

void RegisterSubreaper(Napi::Env env, Napi::Object exports) {
  exports.Set("setChildSubreaper", Napi::Function::New(env, SetChildSubreaper, "setChildSubreaper"));
  exports.Set("reapChild", Napi::Function::New(env, ReapChild, "reapChild"));
}

}  // namespace ipvsd
