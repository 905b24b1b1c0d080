// Listening sockets whose accepting can be paused without losing the backlog. Node has no way to
// stop accepting: past server.maxConnections it accepts and closes, and closing the listener
// resets every connection waiting in its backlog. So the socket is made here and kept open; Node
// listens on a dup (server.listen({fd})), and closing that Node server only closes the dup: the
// kernel keeps queueing connections on the socket until Node listens on a new dup
// (src/sys/capped-listener.ts).
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "errno_error.h"
#include "listen_fd.h"

namespace ipvsd {
namespace {

int ListenUnix(const std::string& path, int backlog, int* err) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    *err = ENAMETOOLONG;
    return -1;
  }
  path.copy(addr.sun_path, path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *err = errno;
    return -1;
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) < 0 || listen(fd, backlog) < 0) {
    *err = errno;
    close(fd);
    return -1;
  }
  return fd;
}

// `address` is numeric (IPv4, or IPv6 with an optional %scope): the caller resolves names.
int ListenTcp(const std::string& address, int port, int backlog, int* err, std::string* detail) {
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int gai = getaddrinfo(address.c_str(), service.c_str(), &hints, &found);
  if (gai != 0 || found == nullptr) {
    *err = EINVAL;
    *detail = std::string("not a numeric address: ") + gai_strerror(gai);
    return -1;
  }
  const int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *err = errno;
    freeaddrinfo(found);
    return -1;
  }
  // As libuv does for Node's own TCP listeners: a restart can bind while old connections linger.
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  const bool ok = bind(fd, found->ai_addr, found->ai_addrlen) == 0 && listen(fd, backlog) == 0;
  *err = errno;
  freeaddrinfo(found);
  if (!ok) {
    close(fd);
    return -1;
  }
  return fd;
}

Napi::Value ListenSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsNumber()) {
    ThrowArgError(env, "listenSocket({path} | {address, port}, backlog: number)");
    return env.Undefined();
  }
  const Napi::Object spec = info[0].As<Napi::Object>();
  const int backlog = info[1].As<Napi::Number>().Int32Value();
  int err = 0;
  std::string detail;
  int fd;
  if (spec.Get("path").IsString()) {
    detail = spec.Get("path").As<Napi::String>().Utf8Value();
    fd = ListenUnix(detail, backlog, &err);
  } else if (spec.Get("address").IsString() && spec.Get("port").IsNumber()) {
    const std::string address = spec.Get("address").As<Napi::String>().Utf8Value();
    const int port = spec.Get("port").As<Napi::Number>().Int32Value();
    if (port < 0 || port > 65535) {
      ThrowArgError(env, "listenSocket: port out of range");
      return env.Undefined();
    }
    fd = ListenTcp(address, port, backlog, &err, &detail);
    if (detail.empty()) detail = address + " port " + std::to_string(port);
  } else {
    ThrowArgError(env, "listenSocket({path} | {address, port}, backlog: number)");
    return env.Undefined();
  }
  if (fd < 0) {
    ThrowErrno(env, err, "listen", detail);
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

Napi::Value DupFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowArgError(env, "dupFd(fd: number)");
    return env.Undefined();
  }
  const int fd = fcntl(info[0].As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) {
    ThrowErrno(env, errno, "fcntl");
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowArgError(env, "closeFd(fd: number)");
    return env.Undefined();
  }
  close(info[0].As<Napi::Number>().Int32Value());
  return env.Undefined();
}

}  // namespace

void RegisterListenFd(Napi::Env env, Napi::Object exports) {
  exports.Set("listenSocket", Napi::Function::New(env, ListenSocket, "listenSocket"));
  exports.Set("dupFd", Napi::Function::New(env, DupFd, "dupFd"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
}

}  // namespace ipvsd
