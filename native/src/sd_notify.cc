// sdNotify(socketPath, message): one datagram to systemd's notification socket ($NOTIFY_SOCKET),
// as sd_notify(3) sends it. Native because Node cannot send on an AF_UNIX SOCK_DGRAM socket.
//
// The socket is opened, used and closed within the call: a notification is rare (start, reload,
// stop, a watchdog ping every few seconds) and holding no descriptor means none leaks into the
// health-check and notify scripts ipvsd spawns (SOCK_CLOEXEC guards the short window anyway).
// SOCK_NONBLOCK: if systemd's receive queue is full the call fails with EAGAIN instead of
// stalling the event loop — a stalled loop would also stop the watchdog pings.
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "errno_error.h"
#include "sd_notify.h"

namespace ipvsd {
namespace {

// Fills `addr` from $NOTIFY_SOCKET's syntax: an absolute path, or '@name' for a name in the
// abstract namespace (the leading '@' becomes a NUL byte, and the name is not NUL-terminated).
// Returns the address length, or 0 with `*err` set.
socklen_t FillAddress(const std::string& path, sockaddr_un* addr, int* err) {
  *addr = {};
  addr->sun_family = AF_UNIX;
  const bool abstract = !path.empty() && path[0] == '@';
  if (!abstract && (path.empty() || path[0] != '/')) {
    // systemd also knows 'vsock:' addresses (VMs); a director never runs under those.
    *err = EAFNOSUPPORT;
    return 0;
  }
  // A path needs room for its terminating NUL; an abstract name uses every byte it is given.
  const size_t room = sizeof(addr->sun_path) - (abstract ? 0 : 1);
  if (path.size() > room || (abstract && path.size() < 2)) {
    *err = EINVAL;
    return 0;
  }
  path.copy(addr->sun_path, path.size());
  if (abstract) addr->sun_path[0] = '\0';
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
}

Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    ThrowArgError(env, "sdNotify(socketPath: string, message: string)");
    return env.Undefined();
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const std::string message = info[1].As<Napi::String>().Utf8Value();

  sockaddr_un addr;
  int err = 0;
  const socklen_t addr_len = FillAddress(path, &addr, &err);
  if (addr_len == 0) {
    ThrowErrno(env, err, "sd_notify", "NOTIFY_SOCKET=" + path);
    return env.Undefined();
  }

  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    ThrowErrno(env, errno, "socket");
    return env.Undefined();
  }
  ssize_t sent;
  do {
    sent = sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                  reinterpret_cast<const sockaddr*>(&addr), addr_len);
  } while (sent < 0 && errno == EINTR);
  const int send_errno = errno;
  close(fd);
  if (sent < 0) {
    ThrowErrno(env, send_errno, "sendto", path);
    return env.Undefined();
  }
  // A datagram is sent whole or not at all, so a short count cannot happen.
  return env.Undefined();
}

}  // namespace

void RegisterSdNotify(Napi::Env env, Napi::Object exports) {
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify, "sdNotify"));
}

}  // namespace ipvsd
