// VrrpSocket: one raw IPPROTO_VRRP (112) socket on one interface, for IPv4 (VRRP v2/v3) or IPv6
// (v3), receiving through a libuv poll handle on Node's own event loop.
//
// Why each socket option:
// - SO_BINDTODEVICE: adverts are per link; without it the socket would see every interface's.
// - IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP on 224.0.0.18 / ff02::12 with the interface index: the
//   kernel drops multicast for groups nobody joined on that interface before raw delivery.
// - IP_MULTICAST_ALL / IPV6_MULTICAST_ALL off: only the group this socket joined, not groups
//   other sockets joined on the host.
// - TTL / hop limit 255 for multicast and unicast: RFC 5798 §5.1.1.3 (receivers drop anything
//   else, which proves the advert was not routed). Tests may lower it to see that drop happen.
// - Multicast loop off: our own adverts must not come back to us as if from a peer.
// - IP_PKTINFO + IP_RECVTTL, IPV6_RECVPKTINFO + IPV6_RECVHOPLIMIT: the receiving interface, the
//   destination and the hop limit. IPv4 raw sockets also hand over the IP header (TTL and
//   addresses are read from it); IPv6 raw sockets never do, so there cmsgs are the only source.
// - SO_TIMESTAMPNS: the kernel's receive time of each packet (CLOCK_REALTIME, stamped when the
//   driver handed it to the stack). The master-down timer runs from when an advert arrived, not
//   from when a busy event loop got round to reading it; without the stamp (kernel gave none) the
//   packet is delivered with an unknown time and JavaScript falls back to its own clock.
// - No IPV6_CHECKSUM: the VRRP checksum is ours to compute (the codec does it); with the option
//   set the kernel would overwrite it.
// - IP_TOS / IPV6_TCLASS 0xc0 (network control precedence), as routers send VRRP.
// - SO_RXQ_OVFL: every received packet carries the socket's count of packets the kernel dropped
//   because the receive queue was full (sk_drops, cumulative). A flood that outruns the event
//   loop shows there (the `drops` accessor, exported as a metric) instead of nowhere.
//
// Lifetime: the uv_poll_t lives in its own PollHandle, freed by uv_close()'s callback — which may
// run after the JavaScript object is gone. An async cleanup hook (napi_add_async_cleanup_hook)
// closes the handle if the environment is torn down with the socket open (a worker thread
// terminated) and holds the teardown until the close callback has run: without it the callback
// would run after the addon is unloaded, in code that is no longer mapped (a SIGSEGV, measured).
//
// Callbacks into JavaScript go through MakeCallback (so promise jobs and nextTicks run after
// them). A JavaScript exception from onPacket is caught here and handed to onError; one from
// onError is dropped. Nothing is thrown from a libuv callback, and nothing here ever aborts.
#include "vrrp_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "errno_error.h"

namespace ipvsd {
namespace {

// IANA protocol number for VRRP (RFC 5798 §5.1.1.4); glibc's <netinet/in.h> has no name for it.
constexpr int kIpprotoVrrp = 112;
// RFC 5798 §5.1.1.2 / §5.1.2.2: the VRRP multicast groups.
constexpr char kGroupV4[] = "224.0.0.18";
constexpr char kGroupV6[] = "ff02::12";
// IPTOS_PREC_INTERNETCONTROL from <netinet/ip.h>.
constexpr int kTosNetworkControl = 0xc0;
// A burst of adverts is drained in one wakeup, but never so many that the loop starves.
constexpr int kMaxPacketsPerWakeup = 64;
// Room for any IPv4 datagram, so nothing is ever truncated.
constexpr size_t kReceiveBufferSize = 65536;
// Room for every cmsg a receive can carry: pktinfo, TTL / hop limit, the timestamp and the drop
// count (with
// slack, because an unexpected extra cmsg must not truncate the ones we read: MSG_CTRUNC).
constexpr size_t kReceiveControlSize = CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int)) +
                                       CMSG_SPACE(sizeof(timespec)) + CMSG_SPACE(sizeof(uint32_t)) +
                                       128;
static_assert(kReceiveControlSize >= CMSG_SPACE(sizeof(in_pktinfo)) + CMSG_SPACE(sizeof(int)) +
                                         CMSG_SPACE(sizeof(timespec)),
              "control buffer too small for the IPv4 cmsgs");

class VrrpSocket;

// The poll handle and what its lifetime needs. `owner` is null once the socket has let go.
struct PollHandle {
  uv_poll_t poll;
  VrrpSocket* owner = nullptr;
  napi_async_cleanup_hook_handle cleanup_hook = nullptr;
  bool closing = false;
};

void OnPollClosed(uv_handle_t* handle) {
  auto* p = static_cast<PollHandle*>(handle->data);
  // Removing the hook tells a waiting environment teardown that this handle is done.
  if (p->cleanup_hook != nullptr) napi_remove_async_cleanup_hook(p->cleanup_hook);
  delete p;
}

void BeginClose(PollHandle* p) {
  if (p->closing) return;
  p->closing = true;
  uv_poll_stop(&p->poll);
  // uv_close() unregisters the descriptor from epoll at once, so the fd may be closed right
  // after; the handle's memory is freed in the close callback on a later loop turn.
  uv_close(reinterpret_cast<uv_handle_t*>(&p->poll), OnPollClosed);
}

class VrrpSocket : public Napi::ObjectWrap<VrrpSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "VrrpSocket",
                       {
                           InstanceMethod<&VrrpSocket::Send>("send"),
                           InstanceMethod<&VrrpSocket::ReceivePending>("receivePending"),
                           InstanceMethod<&VrrpSocket::Close>("close"),
                           InstanceAccessor<&VrrpSocket::GetIfindex>("ifindex"),
                           InstanceAccessor<&VrrpSocket::GetDrops>("drops"),
                       });
  }

  explicit VrrpSocket(const Napi::CallbackInfo& info);
  ~VrrpSocket() override { Release(); }

 private:
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  // Reads what the kernel has queued now and delivers it through onPacket before returning, as a
  // poll wakeup would. For a caller about to act on a timer (the master-down timer): libuv runs
  // expired timers before it polls, so an advert that arrived in time may still be unread.
  Napi::Value ReceivePending(const Napi::CallbackInfo& info);
  Napi::Value GetIfindex(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), ifindex_);
  }
  Napi::Value GetDrops(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(drops_));
  }
  // Keeps the SO_RXQ_OVFL count if `cmsg` is it (the counter only grows; a wrapped 32-bit
  // counter would read smaller, so the largest seen is kept).
  void ReadDrops(const cmsghdr* cmsg);

  // Opens and configures the socket and starts polling; on failure throws and leaves fd_ < 0.
  bool Open(Napi::Env env, const std::string& ifname, int hop_limit, const std::string& group);
  bool SetOption(Napi::Env env, int level, int name, const void* value, socklen_t size,
                 const char* what);
  // Stops polling and closes the descriptor; touches no JavaScript. Idempotent.
  void Release();
  static void OnEnvTeardown(napi_async_cleanup_hook_handle handle, void* arg);
  // The receive path runs in libuv callbacks, outside any JavaScript call. It uses plain N-API
  // calls and checks each status, because node-addon-api's wrappers abort on some failures that
  // happen legitimately here (an environment that is shutting down cannot run JavaScript).
  void Receive();
  bool DeliverV4(const uint8_t* data, size_t size, msghdr* msg);
  bool DeliverV6(const uint8_t* data, size_t size, msghdr* msg);
  // received_at_ms: the kernel's receive time (ms since the epoch, CLOCK_REALTIME), or a
  // negative value when the packet carried none.
  void Deliver(const uint8_t* payload, size_t size, const char* source, const char* destination,
               int ttl, unsigned ifindex, double received_at_ms);
  void ReportErrno(int err, const char* syscall);
  // Calls a callback; returns false if it threw (the exception is then in *exception, cleared)
  // or could not be called at all (*exception stays nullptr).
  bool Call(napi_ref callback, size_t argc, const napi_value* argv, napi_value* exception);
  void CallOnError(napi_value error);
  void ClearPendingException(napi_value* exception);

  static void OnPoll(uv_poll_t* handle, int status, int events);

  napi_env env_;
  int family_ = 0;
  int fd_ = -1;
  unsigned ifindex_ = 0;
  uint32_t drops_ = 0;
  std::string ifname_;
  PollHandle* poll_ = nullptr;
  bool self_referenced_ = false;
  Napi::FunctionReference on_packet_;
  Napi::FunctionReference on_error_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  std::vector<uint8_t> buffer_;
};

bool ReadInt(Napi::Object options, const char* key, int* out) {
  Napi::Value value = options.Get(key);
  if (!value.IsNumber()) return false;
  const double number = value.As<Napi::Number>().DoubleValue();
  // The range check first (it also refuses NaN): casting an out-of-range double is undefined.
  if (!(number >= -1024 && number <= 1024) || number != static_cast<int>(number)) return false;
  *out = static_cast<int>(number);
  return true;
}

VrrpSocket::VrrpSocket(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<VrrpSocket>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  const char* usage =
      "new VrrpSocket({ family: 4 | 6, ifname: string, hopLimit: 1..255, group?: string }, "
      "onPacket: function, onError: function)";
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsFunction() || !info[2].IsFunction()) {
    ThrowArgError(env, usage);
    return;
  }
  Napi::Object options = info[0].As<Napi::Object>();
  int family = 0;
  int hop_limit = 0;
  Napi::Value ifname_value = options.Get("ifname");
  if (!ReadInt(options, "family", &family) || (family != 4 && family != 6) ||
      !ReadInt(options, "hopLimit", &hop_limit) || hop_limit < 1 || hop_limit > 255 ||
      !ifname_value.IsString()) {
    ThrowArgError(env, usage);
    return;
  }
  family_ = family == 4 ? AF_INET : AF_INET6;
  ifname_ = ifname_value.As<Napi::String>().Utf8Value();
  if (ifname_.empty() || ifname_.size() >= IFNAMSIZ || ifname_.find('\0') != std::string::npos) {
    ThrowErrno(env, ENODEV, "if_nametoindex", "interface name " + ifname_);
    return;
  }
  // The multicast group to join (keepalived's vrrp_mcast_group4/6); default the RFC's.
  std::string group = family == 4 ? kGroupV4 : kGroupV6;
  Napi::Value group_value = options.Get("group");
  if (!group_value.IsUndefined() && !group_value.IsNull()) {
    if (!group_value.IsString()) {
      ThrowArgError(env, usage);
      return;
    }
    group = group_value.As<Napi::String>().Utf8Value();
  }
  if (!Open(env, ifname_, hop_limit, group)) return;

  on_packet_ = Napi::Persistent(info[1].As<Napi::Function>());
  on_error_ = Napi::Persistent(info[2].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "ipvsd:VrrpSocket");
  buffer_.resize(kReceiveBufferSize);
  // An open socket must outlive every JavaScript reference to it: the poll handle points here.
  Ref();
  self_referenced_ = true;
}

bool VrrpSocket::SetOption(Napi::Env env, int level, int name, const void* value, socklen_t size,
                           const char* what) {
  if (setsockopt(fd_, level, name, value, size) == 0) return true;
  const int err = errno;
  ::close(fd_);
  fd_ = -1;
  ThrowErrno(env, err, "setsockopt", std::string(what) + " on " + ifname_);
  return false;
}

bool VrrpSocket::Open(Napi::Env env, const std::string& ifname, int hop_limit, const std::string& group) {
  // The index first: an unknown interface is ENODEV whatever our privileges.
  ifindex_ = if_nametoindex(ifname.c_str());
  if (ifindex_ == 0) {
    ThrowErrno(env, errno, "if_nametoindex", ifname);
    return false;
  }
  fd_ = socket(family_, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kIpprotoVrrp);
  if (fd_ < 0) {
    ThrowErrno(env, errno, "socket",
               family_ == AF_INET ? "AF_INET SOCK_RAW 112" : "AF_INET6 SOCK_RAW 112");
    return false;
  }
  if (!SetOption(env, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(),
                 static_cast<socklen_t>(ifname.size() + 1), "SO_BINDTODEVICE")) {
    return false;
  }
  const int on = 1;
  const int off = 0;
  const int hops = hop_limit;
  const int tos = kTosNetworkControl;
  const int index = static_cast<int>(ifindex_);
  ip_mreqn mreq4 = {};
  mreq4.imr_ifindex = index;
  ip_mreqn join4 = mreq4;
  ipv6_mreq join6 = {};
  join6.ipv6mr_interface = ifindex_;
  const int parsed = family_ == AF_INET ? inet_pton(AF_INET, group.c_str(), &join4.imr_multiaddr)
                                        : inet_pton(AF_INET6, group.c_str(), &join6.ipv6mr_multiaddr);
  if (parsed != 1) {
    ::close(fd_);
    fd_ = -1;
    ThrowErrno(env, EINVAL, "inet_pton", "multicast group " + group);
    return false;
  }
  const std::string join_what4 = "IP_ADD_MEMBERSHIP " + group;
  const std::string join_what6 = "IPV6_ADD_MEMBERSHIP " + group;

  struct Option {
    int level;
    int name;
    const void* value;
    socklen_t size;
    const char* what;
  };
  const Option v4[] = {
      {IPPROTO_IP, IP_MULTICAST_IF, &mreq4, sizeof(mreq4), "IP_MULTICAST_IF"},
      {IPPROTO_IP, IP_ADD_MEMBERSHIP, &join4, sizeof(join4), join_what4.c_str()},
      {IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof(off), "IP_MULTICAST_ALL"},
      {IPPROTO_IP, IP_MULTICAST_TTL, &hops, sizeof(hops), "IP_MULTICAST_TTL"},
      {IPPROTO_IP, IP_TTL, &hops, sizeof(hops), "IP_TTL"},
      {IPPROTO_IP, IP_MULTICAST_LOOP, &off, sizeof(off), "IP_MULTICAST_LOOP"},
      {IPPROTO_IP, IP_PKTINFO, &on, sizeof(on), "IP_PKTINFO"},
      {IPPROTO_IP, IP_RECVTTL, &on, sizeof(on), "IP_RECVTTL"},
      {IPPROTO_IP, IP_TOS, &tos, sizeof(tos), "IP_TOS"},
      {SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on), "SO_TIMESTAMPNS"},
      {SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on), "SO_RXQ_OVFL"},
  };
  const Option v6[] = {
      {IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof(index), "IPV6_MULTICAST_IF"},
      {IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &join6, sizeof(join6), join_what6.c_str()},
      {IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops), "IPV6_MULTICAST_HOPS"},
      {IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops), "IPV6_UNICAST_HOPS"},
      {IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof(off), "IPV6_MULTICAST_LOOP"},
      {IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on), "IPV6_RECVPKTINFO"},
      {IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof(on), "IPV6_RECVHOPLIMIT"},
      {IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos), "IPV6_TCLASS"},
      {SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on), "SO_TIMESTAMPNS"},
      {SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on), "SO_RXQ_OVFL"},
  };
  if (family_ == AF_INET) {
    for (const Option& o : v4) {
      if (!SetOption(env, o.level, o.name, o.value, o.size, o.what)) return false;
    }
  } else {
    for (const Option& o : v6) {
      if (!SetOption(env, o.level, o.name, o.value, o.size, o.what)) return false;
    }
#ifdef IPV6_MULTICAST_ALL
    // Linux ≥ 4.20. Older kernels deliver other sockets' groups too, which the codec filters.
    setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &off, sizeof(off));
#endif
  }

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    ::close(fd_);
    fd_ = -1;
    ThrowErrno(env, EINVAL, "napi_get_uv_event_loop");
    return false;
  }
  poll_ = new PollHandle;
  int rc = uv_poll_init(loop, &poll_->poll, fd_);
  if (rc != 0) {
    delete poll_;  // never initialised, so never uv_close()d
    poll_ = nullptr;
    ::close(fd_);
    fd_ = -1;
    ThrowErrno(env, -rc, "uv_poll_init");
    return false;
  }
  poll_->poll.data = poll_;
  poll_->owner = this;
  // Worker threads (and embedders) tear the environment down with the socket possibly open.
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

void VrrpSocket::Release() {
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

void VrrpSocket::OnEnvTeardown(napi_async_cleanup_hook_handle, void* arg) {
  auto* p = static_cast<PollHandle*>(arg);
  // Either the socket is still open (close it: that closes the handle too), or its handle is
  // already closing; in both cases OnPollClosed removes the hook, which ends the wait.
  if (p->owner != nullptr) {
    p->owner->Release();
  } else {
    BeginClose(p);
  }
}

Napi::Value VrrpSocket::Close(const Napi::CallbackInfo& info) {
  Release();
  std::vector<uint8_t>().swap(buffer_);  // the JavaScript object may live on for a while
  // Let go of the callbacks (they usually hold the wrapper that holds us) and of ourselves.
  on_packet_.Reset();
  on_error_.Reset();
  if (self_referenced_) {
    self_referenced_ = false;
    Unref();
  }
  return info.Env().Undefined();
}

Napi::Value VrrpSocket::ReceivePending(const Napi::CallbackInfo& info) {
  // Receive() reports through callbacks and clears what they throw, so nothing escapes here
  // either; a closed socket (fd_ < 0) reads nothing.
  if (fd_ >= 0 && !on_packet_.IsEmpty()) Receive();
  return info.Env().Undefined();
}

Napi::Value VrrpSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "send(payload: Uint8Array, destination: string, source?: string)";
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsString()) {
    ThrowArgError(env, usage);
    return env.Undefined();
  }
  Napi::TypedArray typed = info[0].As<Napi::TypedArray>();
  if (typed.TypedArrayType() != napi_uint8_array) {
    ThrowArgError(env, usage);
    return env.Undefined();
  }
  const bool has_source = info.Length() >= 3 && !info[2].IsUndefined() && !info[2].IsNull();
  if (has_source && !info[2].IsString()) {
    ThrowArgError(env, usage);
    return env.Undefined();
  }
  Napi::Uint8Array payload = info[0].As<Napi::Uint8Array>();
  const std::string destination = info[1].As<Napi::String>().Utf8Value();
  const std::string source = has_source ? info[2].As<Napi::String>().Utf8Value() : std::string();
  if (fd_ < 0) {
    ThrowErrno(env, EBADF, "sendmsg", "the VRRP socket is closed");
    return env.Undefined();
  }

  iovec iov = {payload.Data(), payload.ByteLength()};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  // Room for one pktinfo cmsg of either family.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  sockaddr_in to4 = {};
  sockaddr_in6 to6 = {};

  if (family_ == AF_INET) {
    to4.sin_family = AF_INET;
    if (inet_pton(AF_INET, destination.c_str(), &to4.sin_addr) != 1) {
      ThrowArgError(env, "send(): destination " + destination + " is not an IPv4 address");
      return env.Undefined();
    }
    msg.msg_name = &to4;
    msg.msg_namelen = sizeof(to4);
    if (has_source) {
      // IP_PKTINFO's ipi_spec_dst is the source address for sendmsg(2) (ip(7)). Binding the
      // socket instead would also filter what it receives down to that one address.
      in_pktinfo pktinfo = {};
      pktinfo.ipi_ifindex = static_cast<int>(ifindex_);
      if (inet_pton(AF_INET, source.c_str(), &pktinfo.ipi_spec_dst) != 1) {
        ThrowArgError(env, "send(): source " + source + " is not an IPv4 address");
        return env.Undefined();
      }
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(pktinfo));
      cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
      cmsg->cmsg_level = IPPROTO_IP;
      cmsg->cmsg_type = IP_PKTINFO;
      cmsg->cmsg_len = CMSG_LEN(sizeof(pktinfo));
      memcpy(CMSG_DATA(cmsg), &pktinfo, sizeof(pktinfo));
    }
  } else {
    to6.sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, destination.c_str(), &to6.sin6_addr) != 1) {
      ThrowArgError(env, "send(): destination " + destination + " is not an IPv6 address");
      return env.Undefined();
    }
    // Needed for link-local unicast peers (fe80::/10); ignored by the kernel for other scopes.
    to6.sin6_scope_id = ifindex_;
    msg.msg_name = &to6;
    msg.msg_namelen = sizeof(to6);
    if (has_source) {
      in6_pktinfo pktinfo = {};
      pktinfo.ipi6_ifindex = ifindex_;
      if (inet_pton(AF_INET6, source.c_str(), &pktinfo.ipi6_addr) != 1) {
        ThrowArgError(env, "send(): source " + source + " is not an IPv6 address");
        return env.Undefined();
      }
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(pktinfo));
      cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
      cmsg->cmsg_level = IPPROTO_IPV6;
      cmsg->cmsg_type = IPV6_PKTINFO;
      cmsg->cmsg_len = CMSG_LEN(sizeof(pktinfo));
      memcpy(CMSG_DATA(cmsg), &pktinfo, sizeof(pktinfo));
    }
  }

  ssize_t sent;
  do {
    sent = sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    ThrowErrno(env, errno, "sendmsg", destination + " on " + ifname_);
  }
  return env.Undefined();
}

void VrrpSocket::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* p = static_cast<PollHandle*>(handle->data);
  VrrpSocket* self = p->owner;
  if (self == nullptr) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(self->env_, &scope) != napi_ok) return;
  // A local handle on our JavaScript object keeps us alive even if a callback closes us (which
  // drops the self-reference) and nothing else refers to us.
  napi_value keep_alive;
  napi_get_reference_value(self->env_, static_cast<napi_ref>(*self), &keep_alive);
  if (status < 0) {
    // libuv stops reporting on a broken descriptor only if we stop polling it.
    if (self->poll_ != nullptr) uv_poll_stop(&self->poll_->poll);
    self->ReportErrno(-status, "uv_poll");
  } else if ((events & UV_READABLE) != 0) {
    self->Receive();
  }
  napi_close_handle_scope(self->env_, scope);
}

void VrrpSocket::Receive() {
  for (int i = 0; i < kMaxPacketsPerWakeup && fd_ >= 0; i++) {
    sockaddr_storage from = {};
    alignas(cmsghdr) char control[kReceiveControlSize];
    iovec iov = {buffer_.data(), buffer_.size()};
    msghdr msg = {};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t received = recvmsg(fd_, &msg, MSG_DONTWAIT);
    if (received < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // Socket errors (sk_err) are reported once and cleared: keep polling.
      ReportErrno(errno, "recvmsg");
      return;
    }
    const size_t size = static_cast<size_t>(received);
    if (family_ == AF_INET) {
      DeliverV4(buffer_.data(), size, &msg);
    } else {
      DeliverV6(buffer_.data(), size, &msg);
    }
  }
}

// The SCM_TIMESTAMPNS cmsg as ms since the epoch, or -1 when this one is not it (or is zero:
// the kernel had no time for the packet).
double ReadTimestampMs(const cmsghdr* cmsg) {
  if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_TIMESTAMPNS ||
      cmsg->cmsg_len < CMSG_LEN(sizeof(timespec))) {
    return -1;
  }
  timespec stamp;
  memcpy(&stamp, CMSG_DATA(cmsg), sizeof(stamp));
  if (stamp.tv_sec <= 0 && stamp.tv_nsec <= 0) return -1;
  // A double holds ms since the epoch to well under a microsecond.
  return static_cast<double>(stamp.tv_sec) * 1e3 + static_cast<double>(stamp.tv_nsec) / 1e6;
}

void VrrpSocket::ReadDrops(const cmsghdr* cmsg) {
  if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SO_RXQ_OVFL ||
      cmsg->cmsg_len < CMSG_LEN(sizeof(uint32_t))) {
    return;
  }
  uint32_t drops;
  memcpy(&drops, CMSG_DATA(cmsg), sizeof(drops));
  if (drops > drops_) drops_ = drops;
}

bool VrrpSocket::DeliverV4(const uint8_t* data, size_t size, msghdr* msg) {
  // The kernel validated the IPv4 header before raw delivery; check anyway rather than trust.
  if (size < 20 || (data[0] >> 4) != 4) return false;
  const size_t header_length = static_cast<size_t>(data[0] & 0x0f) * 4;
  if (header_length < 20 || header_length > size) return false;
  int ttl = data[8];
  unsigned ifindex = ifindex_;
  double received_at_ms = -1;
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(msg, cmsg)) {
    if (cmsg->cmsg_level == SOL_SOCKET) {
      const double stamp = ReadTimestampMs(cmsg);
      if (stamp >= 0) received_at_ms = stamp;
      ReadDrops(cmsg);
      continue;
    }
    if (cmsg->cmsg_level != IPPROTO_IP) continue;
    if (cmsg->cmsg_type == IP_PKTINFO && cmsg->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
      in_pktinfo pktinfo;
      memcpy(&pktinfo, CMSG_DATA(cmsg), sizeof(pktinfo));
      ifindex = static_cast<unsigned>(pktinfo.ipi_ifindex);
    } else if (cmsg->cmsg_type == IP_TTL && cmsg->cmsg_len >= CMSG_LEN(sizeof(int))) {
      memcpy(&ttl, CMSG_DATA(cmsg), sizeof(int));
    }
  }
  char source[INET_ADDRSTRLEN];
  char destination[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, data + 12, source, sizeof(source));
  inet_ntop(AF_INET, data + 16, destination, sizeof(destination));
  Deliver(data + header_length, size - header_length, source, destination, ttl, ifindex,
          received_at_ms);
  return true;
}

bool VrrpSocket::DeliverV6(const uint8_t* data, size_t size, msghdr* msg) {
  if (msg->msg_namelen < sizeof(sockaddr_in6)) return false;
  const auto* from = reinterpret_cast<const sockaddr_in6*>(msg->msg_name);
  int hop_limit = -1;  // stays -1 only if the kernel sent no IPV6_HOPLIMIT; the codec drops it
  unsigned ifindex = ifindex_;
  in6_addr destination_address = {};
  bool have_destination = false;
  double received_at_ms = -1;
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(msg, cmsg)) {
    if (cmsg->cmsg_level == SOL_SOCKET) {
      const double stamp = ReadTimestampMs(cmsg);
      if (stamp >= 0) received_at_ms = stamp;
      ReadDrops(cmsg);
      continue;
    }
    if (cmsg->cmsg_level != IPPROTO_IPV6) continue;
    if (cmsg->cmsg_type == IPV6_PKTINFO && cmsg->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
      in6_pktinfo pktinfo;
      memcpy(&pktinfo, CMSG_DATA(cmsg), sizeof(pktinfo));
      ifindex = pktinfo.ipi6_ifindex;
      destination_address = pktinfo.ipi6_addr;
      have_destination = true;
    } else if (cmsg->cmsg_type == IPV6_HOPLIMIT && cmsg->cmsg_len >= CMSG_LEN(sizeof(int))) {
      memcpy(&hop_limit, CMSG_DATA(cmsg), sizeof(int));
    }
  }
  char source[INET6_ADDRSTRLEN];
  char destination[INET6_ADDRSTRLEN] = "";
  inet_ntop(AF_INET6, &from->sin6_addr, source, sizeof(source));
  if (have_destination) inet_ntop(AF_INET6, &destination_address, destination, sizeof(destination));
  Deliver(data, size, source, destination, hop_limit, ifindex, received_at_ms);
  return true;
}

void VrrpSocket::Deliver(const uint8_t* payload, size_t size, const char* source,
                         const char* destination, int ttl, unsigned ifindex,
                         double received_at_ms) {
  if (on_packet_.IsEmpty()) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env_, &scope) != napi_ok) return;
  napi_value argv[6];
  void* copy = nullptr;
  napi_value exception = nullptr;
  if (napi_create_buffer_copy(env_, size, payload, &copy, &argv[0]) == napi_ok &&
      napi_create_string_utf8(env_, source, NAPI_AUTO_LENGTH, &argv[1]) == napi_ok &&
      napi_create_string_utf8(env_, destination, NAPI_AUTO_LENGTH, &argv[2]) == napi_ok &&
      napi_create_int32(env_, ttl, &argv[3]) == napi_ok &&
      napi_create_uint32(env_, ifindex, &argv[4]) == napi_ok &&
      (received_at_ms >= 0 ? napi_create_double(env_, received_at_ms, &argv[5])
                           : napi_get_undefined(env_, &argv[5])) == napi_ok) {
    if (!Call(on_packet_, 6, argv, &exception) && exception != nullptr) CallOnError(exception);
  } else {
    ClearPendingException(&exception);
    if (exception != nullptr) CallOnError(exception);
  }
  napi_close_handle_scope(env_, scope);
}

void VrrpSocket::ReportErrno(int err, const char* syscall) {
  napi_value error = CreateErrnoError(env_, err, syscall, ifname_);
  if (error != nullptr) CallOnError(error);
}

void VrrpSocket::CallOnError(napi_value error) {
  if (on_error_.IsEmpty()) return;
  napi_value exception = nullptr;
  // There is nowhere left to report an error in the error handler: Call() dropped it.
  Call(on_error_, 1, &error, &exception);
}

bool VrrpSocket::Call(napi_ref callback, size_t argc, const napi_value* argv,
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
  // MakeCallback, not napi_call_function: it runs queued nextTicks and promise jobs afterwards,
  // as for any other I/O callback.
  const napi_status status =
      napi_make_callback(env_, *async_context_, receiver, function, argc, argv, &result);
  if (status == napi_ok) return true;
  ClearPendingException(exception);
  return false;
}

void VrrpSocket::ClearPendingException(napi_value* exception) {
  bool pending = false;
  if (napi_is_exception_pending(env_, &pending) == napi_ok && pending) {
    napi_get_and_clear_last_exception(env_, exception);
  }
}

}  // namespace

void RegisterVrrpSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("VrrpSocket", VrrpSocket::Define(env));
}

}  // namespace ipvsd
