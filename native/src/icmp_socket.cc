// IcmpSocket: one raw ICMP (IPv4) or ICMPv6 socket that sends echo requests and receives echo
// replies, for the ping health check (keepalived's PING_CHECK). Node has no ICMP at all; keepalived
// uses an unprivileged "ping socket" (SOCK_DGRAM, IPPROTO_ICMP), which needs the daemon's group in
// net.ipv4.ping_group_range and so has keepalived rewrite that sysctl. A raw socket needs only
// CAP_NET_RAW, which the daemon has (it already opens raw VRRP sockets), and changes nothing on the
// host. JavaScript builds the echo requests and matches the replies (src/check/ping.ts); this file
// only moves bytes.
//
// Why each option:
// - ICMP_FILTER / ICMP6_FILTER: pass echo replies only, or with `unreachable: true` destination
//   unreachable messages only (the UDP check's ICMP errors, see src/check/udp.ts). A raw ICMP
//   socket otherwise gets a copy of every ICMP message the host receives; the filter drops the rest
//   in the kernel.
// - bind() to `source` when given: the echo's source address (the check's bind_ip).
// - The IPv4 header that raw IPv4 sockets hand over is cut off here; ICMPv6 never has one. The
//   kernel fills in the ICMPv6 checksum (RFC 3542 §3.1); the IPv4 one is JavaScript's.
//
// Lifetime and callbacks work as in vrrp_socket.cc (a PollHandle freed by uv_close()'s callback, an
// async cleanup hook for environment teardown, MakeCallback, exceptions from onPacket handed to
// onError, nothing thrown from a libuv callback). At most kMaxPacketsPerWakeup replies are read per
// wakeup, each at most kReceiveBufferSize bytes (a longer one is truncated: an echo check sends
// 8 + 128 bytes and needs no more back).
#include "icmp_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "errno_error.h"

namespace ipvsd {
namespace {

constexpr int kMaxPacketsPerWakeup = 64;
// IPv4 header (at most 60) + ICMP header + keepalived's 128-byte echo payload, or an ICMP error's
// quoted IP and UDP headers, with room to spare.
constexpr size_t kReceiveBufferSize = 512;

class IcmpSocket;

struct PollHandle {
  uv_poll_t poll;
  IcmpSocket* owner = nullptr;
  napi_async_cleanup_hook_handle cleanup_hook = nullptr;
  bool closing = false;
};

void OnPollClosed(uv_handle_t* handle) {
  auto* p = static_cast<PollHandle*>(handle->data);
  if (p->cleanup_hook != nullptr) napi_remove_async_cleanup_hook(p->cleanup_hook);
  delete p;
}

void BeginClose(PollHandle* p) {
  if (p->closing) return;
  p->closing = true;
  uv_poll_stop(&p->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&p->poll), OnPollClosed);
}

class IcmpSocket : public Napi::ObjectWrap<IcmpSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "IcmpSocket",
                       {
                           InstanceMethod<&IcmpSocket::Send>("send"),
                           InstanceMethod<&IcmpSocket::Close>("close"),
                       });
  }

  explicit IcmpSocket(const Napi::CallbackInfo& info);
  ~IcmpSocket() override { Release(); }

  void Release();

 private:
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  bool Open(Napi::Env env, const std::string& source, bool unreachable);
  void Receive();
  void Deliver(const uint8_t* data, size_t size, const char* source);
  void ReportErrno(int err, const char* syscall);
  bool Call(napi_ref callback, size_t argc, const napi_value* argv, napi_value* exception);
  void CallOnError(napi_value error);
  void ClearPendingException(napi_value* exception);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnEnvTeardown(napi_async_cleanup_hook_handle handle, void* arg);

  napi_env env_;
  int family_ = 0;
  int fd_ = -1;
  PollHandle* poll_ = nullptr;
  bool self_referenced_ = false;
  Napi::FunctionReference on_packet_;
  Napi::FunctionReference on_error_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  std::vector<uint8_t> buffer_;
};

IcmpSocket::IcmpSocket(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<IcmpSocket>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  const char* usage =
      "new IcmpSocket({ family: 4 | 6, source?: string, unreachable?: boolean }, onPacket: function, "
      "onError: function)";
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsFunction() || !info[2].IsFunction()) {
    ThrowArgError(env, usage);
    return;
  }
  Napi::Object options = info[0].As<Napi::Object>();
  Napi::Value family = options.Get("family");
  Napi::Value source = options.Get("source");
  Napi::Value unreachable = options.Get("unreachable");
  if (!family.IsNumber() || (!source.IsUndefined() && !source.IsNull() && !source.IsString()) ||
      (!unreachable.IsUndefined() && !unreachable.IsBoolean())) {
    ThrowArgError(env, usage);
    return;
  }
  const double f = family.As<Napi::Number>().DoubleValue();
  if (f != 4 && f != 6) {
    ThrowArgError(env, usage);
    return;
  }
  family_ = f == 4 ? AF_INET : AF_INET6;
  const std::string from = source.IsString() ? source.As<Napi::String>().Utf8Value() : "";
  if (!Open(env, from, unreachable.IsBoolean() && unreachable.As<Napi::Boolean>().Value())) return;
  on_packet_ = Napi::Persistent(info[1].As<Napi::Function>());
  on_error_ = Napi::Persistent(info[2].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "ipvsd:IcmpSocket");
  buffer_.resize(kReceiveBufferSize);
  Ref();
  self_referenced_ = true;
}

bool IcmpSocket::Open(Napi::Env env, const std::string& source, bool unreachable) {
  const bool v4 = family_ == AF_INET;
  const int protocol = v4 ? static_cast<int>(IPPROTO_ICMP) : static_cast<int>(IPPROTO_ICMPV6);
  fd_ = socket(family_, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd_ < 0) {
    ThrowErrno(env, errno, "socket", v4 ? "AF_INET SOCK_RAW IPPROTO_ICMP" : "AF_INET6 SOCK_RAW IPPROTO_ICMPV6");
    return false;
  }
  int rc;
  if (v4) {
    icmp_filter filter = {};
    filter.data = ~(1U << (unreachable ? ICMP_DEST_UNREACH : ICMP_ECHOREPLY));  // set bits block
    rc = setsockopt(fd_, SOL_RAW, ICMP_FILTER, &filter, sizeof(filter));
  } else {
    icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(unreachable ? ICMP6_DST_UNREACH : ICMP6_ECHO_REPLY, &filter);
    rc = setsockopt(fd_, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter));
  }
  if (rc != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    ThrowErrno(env, err, "setsockopt", v4 ? "ICMP_FILTER" : "ICMP6_FILTER");
    return false;
  }
  if (!source.empty()) {
    sockaddr_storage addr = {};
    socklen_t size;
    int ok;
    if (v4) {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      a->sin_family = AF_INET;
      ok = inet_pton(AF_INET, source.c_str(), &a->sin_addr);
      size = sizeof(sockaddr_in);
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      a->sin6_family = AF_INET6;
      ok = inet_pton(AF_INET6, source.c_str(), &a->sin6_addr);
      size = sizeof(sockaddr_in6);
    }
    if (ok != 1) {
      ::close(fd_);
      fd_ = -1;
      ThrowArgError(env, "IcmpSocket: source " + source + " is not an address of the family");
      return false;
    }
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), size) != 0) {
      const int err = errno;
      ::close(fd_);
      fd_ = -1;
      ThrowErrno(env, err, "bind", source);
      return false;
    }
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    ::close(fd_);
    fd_ = -1;
    ThrowErrno(env, EINVAL, "napi_get_uv_event_loop");
    return false;
  }
  poll_ = new PollHandle;
  rc = uv_poll_init(loop, &poll_->poll, fd_);
  if (rc != 0) {
    delete poll_;
    poll_ = nullptr;
    ::close(fd_);
    fd_ = -1;
    ThrowErrno(env, -rc, "uv_poll_init");
    return false;
  }
  poll_->poll.data = poll_;
  poll_->owner = this;
  if (napi_add_async_cleanup_hook(env, OnEnvTeardown, poll_, &poll_->cleanup_hook) != napi_ok) {
    poll_->cleanup_hook = nullptr;
  }
  rc = uv_poll_start(&poll_->poll, UV_READABLE, OnPoll);
  if (rc != 0) {
    Release();
    ThrowErrno(env, -rc, "uv_poll_start");
    return false;
  }
  return true;
}

void IcmpSocket::Release() {
  if (poll_ != nullptr) {
    PollHandle* p = poll_;
    poll_ = nullptr;
    p->owner = nullptr;
    BeginClose(p);
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void IcmpSocket::OnEnvTeardown(napi_async_cleanup_hook_handle, void* arg) {
  auto* p = static_cast<PollHandle*>(arg);
  if (p->owner != nullptr) {
    p->owner->Release();
  } else {
    BeginClose(p);
  }
}

Napi::Value IcmpSocket::Close(const Napi::CallbackInfo& info) {
  Release();
  std::vector<uint8_t>().swap(buffer_);
  on_packet_.Reset();
  on_error_.Reset();
  if (self_referenced_) {
    self_referenced_ = false;
    Unref();
  }
  return info.Env().Undefined();
}

// send(message: Uint8Array, destination: string): the ICMP message (header included) to
// `destination`. Throws NativeErrnoError (EHOSTUNREACH, ENETUNREACH, EBADF once closed).
Napi::Value IcmpSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "send(message: Uint8Array, destination: string)";
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsString()) {
    ThrowArgError(env, usage);
    return env.Undefined();
  }
  Napi::TypedArray typed = info[0].As<Napi::TypedArray>();
  if (typed.TypedArrayType() != napi_uint8_array) {
    ThrowArgError(env, usage);
    return env.Undefined();
  }
  Napi::Uint8Array message = info[0].As<Napi::Uint8Array>();
  const std::string destination = info[1].As<Napi::String>().Utf8Value();
  if (fd_ < 0) {
    ThrowErrno(env, EBADF, "sendto", "the ICMP socket is closed");
    return env.Undefined();
  }
  sockaddr_storage to = {};
  socklen_t size;
  int ok;
  if (family_ == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&to);
    a->sin_family = AF_INET;
    ok = inet_pton(AF_INET, destination.c_str(), &a->sin_addr);
    size = sizeof(sockaddr_in);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&to);
    a->sin6_family = AF_INET6;
    ok = inet_pton(AF_INET6, destination.c_str(), &a->sin6_addr);
    size = sizeof(sockaddr_in6);
  }
  if (ok != 1) {
    ThrowArgError(env, "send(): destination " + destination + " is not an address of the family");
    return env.Undefined();
  }
  ssize_t sent;
  do {
    sent = sendto(fd_, message.Data(), message.ByteLength(), MSG_DONTWAIT | MSG_NOSIGNAL,
                  reinterpret_cast<sockaddr*>(&to), size);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) ThrowErrno(env, errno, "sendto", destination);
  return env.Undefined();
}

void IcmpSocket::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* p = static_cast<PollHandle*>(handle->data);
  IcmpSocket* self = p->owner;
  if (self == nullptr) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(self->env_, &scope) != napi_ok) return;
  napi_value keep_alive;
  napi_get_reference_value(self->env_, static_cast<napi_ref>(*self), &keep_alive);
  if (status < 0) {
    if (self->poll_ != nullptr) uv_poll_stop(&self->poll_->poll);
    self->ReportErrno(-status, "uv_poll");
  } else if ((events & UV_READABLE) != 0) {
    self->Receive();
  }
  napi_close_handle_scope(self->env_, scope);
}

void IcmpSocket::Receive() {
  for (int i = 0; i < kMaxPacketsPerWakeup && fd_ >= 0; i++) {
    sockaddr_storage from = {};
    socklen_t from_size = sizeof(from);
    const ssize_t received = recvfrom(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT,
                                      reinterpret_cast<sockaddr*>(&from), &from_size);
    if (received < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      ReportErrno(errno, "recvfrom");
      return;
    }
    const uint8_t* data = buffer_.data();
    size_t size = static_cast<size_t>(received);
    char source[INET6_ADDRSTRLEN] = "";
    if (family_ == AF_INET) {
      // Raw IPv4 sockets deliver the IP header; what is malformed is dropped (JavaScript counts
      // what reaches it, and an unanswered echo fails at its deadline anyway).
      if (size < 20 || (data[0] >> 4) != 4) continue;
      const size_t header_length = static_cast<size_t>(data[0] & 0x0f) * 4;
      if (header_length < 20 || header_length > size) continue;
      inet_ntop(AF_INET, data + 12, source, sizeof(source));
      data += header_length;
      size -= header_length;
    } else {
      if (from.ss_family != AF_INET6) continue;
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&from)->sin6_addr, source,
                sizeof(source));
    }
    Deliver(data, size, source);
  }
}

void IcmpSocket::Deliver(const uint8_t* data, size_t size, const char* source) {
  if (on_packet_.IsEmpty()) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env_, &scope) != napi_ok) return;
  napi_value argv[2];
  void* copy = nullptr;
  napi_value exception = nullptr;
  if (napi_create_buffer_copy(env_, size, data, &copy, &argv[0]) == napi_ok &&
      napi_create_string_utf8(env_, source, NAPI_AUTO_LENGTH, &argv[1]) == napi_ok) {
    if (!Call(on_packet_, 2, argv, &exception) && exception != nullptr) CallOnError(exception);
  } else {
    ClearPendingException(&exception);
    if (exception != nullptr) CallOnError(exception);
  }
  napi_close_handle_scope(env_, scope);
}

void IcmpSocket::ReportErrno(int err, const char* syscall) {
  napi_value error = CreateErrnoError(env_, err, syscall, "ICMP socket");
  if (error != nullptr) CallOnError(error);
}

void IcmpSocket::CallOnError(napi_value error) {
  if (on_error_.IsEmpty()) return;
  napi_value exception = nullptr;
  Call(on_error_, 1, &error, &exception);
}

bool IcmpSocket::Call(napi_ref callback, size_t argc, const napi_value* argv,
                      napi_value* exception) {
  *exception = nullptr;
  napi_value function;
  napi_value receiver;
  if (!async_context_ || napi_get_reference_value(env_, callback, &function) != napi_ok ||
      function == nullptr ||
      napi_get_reference_value(env_, static_cast<napi_ref>(*this), &receiver) != napi_ok ||
      receiver == nullptr) {
    ClearPendingException(exception);
    return false;
  }
  napi_value result;
  const napi_status status =
      napi_make_callback(env_, *async_context_, receiver, function, argc, argv, &result);
  if (status == napi_ok) return true;
  ClearPendingException(exception);
  return false;
}

void IcmpSocket::ClearPendingException(napi_value* exception) {
  bool pending = false;
  if (napi_is_exception_pending(env_, &pending) == napi_ok && pending) {
    napi_get_and_clear_last_exception(env_, exception);
  }
}

}  // namespace

void RegisterIcmpSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("IcmpSocket", IcmpSocket::Define(env));
}

}  // namespace ipvsd
