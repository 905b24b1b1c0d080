// TcpConnector: many TCP connect checks at once, each a real non-blocking connect(2) to the real
// server, for the price of a few system calls and no JavaScript object per check.
//
// Why native: a check through net.Socket costs a Socket, a TCPWrap, a ConnectWrap, event emitter
// state, a per-socket epoll registration and several JavaScript callbacks; at thousands of checks
// a second that was most of ipvsd's CPU. Here every socket goes into ONE private epoll instance,
// and libuv watches only that instance (one uv_poll_t), so a wakeup drains all connects that
// finished, and JavaScript is called once per wakeup with a batch of results written into a
// Float64Array it handed over (no allocation per result). Deadlines live in a min-heap with one
// uv_timer_t armed for the earliest, instead of a JavaScript timer per check.
//
// One check: socket(SOCK_NONBLOCK), optionally bind() to the source address (port 0, with
// IP_BIND_ADDRESS_NO_PORT so the port is picked at connect time together with the destination),
// connect(); EPOLLOUT tells that the handshake finished or failed, SO_ERROR says which. A
// connected socket is closed with SO_LINGER {1, 0}: the kernel answers with RST instead of a FIN
// exchange, so neither side keeps a TIME_WAIT entry for a connection that carried nothing (as
// HAProxy does for its connect-only checks). A socket whose deadline passes is simply closed (it is
// still in SYN_SENT: nothing goes out).
//
// Results are triples (id, code, latencyMs) in the buffer: code 0 = connected, > 0 = the errno
// the connect failed with, -1 = the deadline passed. Errors that connect() or bind() report at
// once (EHOSTUNREACH for an unreachable route, EINVAL for a blackhole route, EADDRNOTAVAIL for a
// source address that is not ours) come back from start() instead, and no result follows.
//
// Lifetime: the two libuv handles live in a Handles block freed by the second uv_close()
// callback, which may run after the JavaScript object is gone; an async cleanup hook closes them
// if the environment is torn down while they are open (see vrrp_socket.cc for why that matters).
// The handles keep the event loop alive only while checks are in flight.
#include "tcp_connect.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cmath>
#include <cstdint>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "errno_error.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace ipvsd {
namespace {

// Events drained per epoll_wait(); a wakeup loops until fewer come back.
constexpr int kMaxEvents = 256;
constexpr double kTimeoutCode = -1;

class TcpConnector;

struct Handles {
  uv_poll_t poll;
  uv_timer_t timer;
  TcpConnector* owner = nullptr;
  napi_async_cleanup_hook_handle cleanup_hook = nullptr;
  int open = 0;  // handles not yet closed
  bool closing = false;
};

void OnHandleClosed(uv_handle_t* handle) {
  auto* h = static_cast<Handles*>(handle->data);
  if (--h->open > 0) return;
  if (h->cleanup_hook != nullptr) napi_remove_async_cleanup_hook(h->cleanup_hook);
  delete h;
}

void BeginClose(Handles* h) {
  if (h->closing) return;
  h->closing = true;
  uv_poll_stop(&h->poll);
  uv_timer_stop(&h->timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&h->poll), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&h->timer), OnHandleClosed);
}

struct Probe {
  int fd;
  uint64_t started_ns;
  uint64_t deadline_ns;
};

struct Deadline {
  uint64_t at_ns;
  uint32_t id;
  int fd;  // tells a stale entry (the id was reused for a later probe) from the live one
  bool operator>(const Deadline& other) const { return at_ns > other.at_ns; }
};

// Fills `addr` from numeric text (IPv4 or IPv6) and a port; returns its length or 0.
socklen_t ParseAddress(const std::string& text, int port, sockaddr_storage* addr) {
  *addr = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(addr);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    return sizeof(sockaddr_in);
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(addr);
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    return sizeof(sockaddr_in6);
  }
  return 0;
}

// Closes a connected socket with RST (no FIN exchange, no TIME_WAIT).
void CloseWithReset(int fd) {
  const linger reset = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  ::close(fd);
}

double Milliseconds(uint64_t ns) { return std::round(static_cast<double>(ns) / 1000.0) / 1000.0; }

class TcpConnector : public Napi::ObjectWrap<TcpConnector> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TcpConnector",
                       {
                           InstanceMethod<&TcpConnector::Start>("start"),
                           InstanceMethod<&TcpConnector::Cancel>("cancel"),
                           InstanceMethod<&TcpConnector::Close>("close"),
                           InstanceAccessor<&TcpConnector::GetInFlight>("inFlight"),
                       });
  }

  explicit TcpConnector(const Napi::CallbackInfo& info);
  ~TcpConnector() override { Release(); }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetInFlight(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(probes_.size()));
  }

  // Closes every socket and the handles; touches no JavaScript. Idempotent.
  void Release();
  static void OnEnvTeardown(napi_async_cleanup_hook_handle handle, void* arg);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);

  // Moves finished connects into the result buffer (flushing it to JavaScript when full).
  void Drain();
  // Reports every probe whose deadline has passed.
  void Expire();
  void Push(uint32_t id, double code, double latency_ms);
  void Flush();
  void ArmTimer();
  // Keeps the event loop alive exactly while checks are in flight.
  void UpdateRef();

  napi_env env_;
  int epoll_fd_ = -1;
  Handles* handles_ = nullptr;
  bool self_referenced_ = false;
  bool loop_referenced_ = false;
  uint64_t timer_at_ns_ = 0;  // 0: not armed
  Napi::FunctionReference on_results_;
  Napi::Reference<Napi::Float64Array> results_ref_;
  double* results_ = nullptr;
  size_t capacity_ = 0;  // triples
  size_t count_ = 0;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  std::unordered_map<uint32_t, Probe> probes_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<Deadline>> deadlines_;
};

TcpConnector::TcpConnector(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<TcpConnector>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  const char* usage = "new TcpConnector(results: Float64Array (3 × n), onResults: (count) => void)";
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsFunction()) {
    ThrowArgError(env, usage);
    return;
  }
  Napi::TypedArray typed = info[0].As<Napi::TypedArray>();
  if (typed.TypedArrayType() != napi_float64_array || typed.ElementLength() < 3) {
    ThrowArgError(env, usage);
    return;
  }
  Napi::Float64Array results = info[0].As<Napi::Float64Array>();
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    ThrowErrno(env, EINVAL, "napi_get_uv_event_loop");
    return;
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    ThrowErrno(env, errno, "epoll_create1");
    return;
  }
  handles_ = new Handles;
  int rc = uv_poll_init(loop, &handles_->poll, epoll_fd_);
  if (rc != 0) {
    delete handles_;
    handles_ = nullptr;
    ::close(epoll_fd_);
    epoll_fd_ = -1;
    ThrowErrno(env, -rc, "uv_poll_init");
    return;
  }
  handles_->open = 1;
  handles_->poll.data = handles_;
  uv_timer_init(loop, &handles_->timer);
  handles_->open = 2;
  handles_->timer.data = handles_;
  handles_->owner = this;
  if (napi_add_async_cleanup_hook(env, OnEnvTeardown, handles_, &handles_->cleanup_hook) != napi_ok) {
    handles_->cleanup_hook = nullptr;
  }
  rc = uv_poll_start(&handles_->poll, UV_READABLE, OnPoll);
  if (rc != 0) {
    Release();
    ThrowErrno(env, -rc, "uv_poll_start");
    return;
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->poll));
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->timer));

  results_ref_ = Napi::Persistent(results);
  results_ = results.Data();
  capacity_ = results.ElementLength() / 3;
  on_results_ = Napi::Persistent(info[1].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "ipvsd:TcpConnector");
  // In-flight checks point here through the handles: live until close().
  Ref();
  self_referenced_ = true;
}

// start(id, address, port, sourceAddress | null, timeoutMs) → 0 (in flight; one result will
// follow), -1 (connected at once: already closed, no result follows), or an errno (failed at once).
Napi::Value TcpConnector::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage =
      "start(id: uint32, address: string, port: number, source: string | null, timeoutMs: number)";
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsNumber() ||
      !(info[3].IsString() || info[3].IsNull() || info[3].IsUndefined()) || !info[4].IsNumber()) {
    ThrowArgError(env, usage);
    return env.Undefined();
  }
  const uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  const int port = info[2].As<Napi::Number>().Int32Value();
  const double timeout_ms = info[4].As<Napi::Number>().DoubleValue();
  if (port < 0 || port > 65535 || !(timeout_ms >= 0)) {
    ThrowArgError(env, usage);
    return env.Undefined();
  }
  if (epoll_fd_ < 0) {
    ThrowErrno(env, EBADF, "connect", "the TCP connector is closed");
    return env.Undefined();
  }
  if (probes_.count(id) != 0) {
    ThrowArgError(env, "start(): a check with this id is already in flight");
    return env.Undefined();
  }
  sockaddr_storage to;
  const std::string address = info[1].As<Napi::String>().Utf8Value();
  const socklen_t to_len = ParseAddress(address, port, &to);
  if (to_len == 0) {
    ThrowArgError(env, "start(): " + address + " is not an IP address");
    return env.Undefined();
  }
  sockaddr_storage from;
  socklen_t from_len = 0;
  if (info[3].IsString()) {
    const std::string source = info[3].As<Napi::String>().Utf8Value();
    from_len = ParseAddress(source, 0, &from);
    if (from_len == 0 || from.ss_family != to.ss_family) {
      ThrowArgError(env, "start(): source " + source + " is not an address of the same family");
      return env.Undefined();
    }
  }

  const int fd = socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return Napi::Number::New(env, errno);
  // Delayed ACK from the start: the kernel then holds back the handshake's last ACK, the socket
  // still turns writable at the SYN-ACK (the verdict), and the RST of the close follows before the
  // ACK would have. The server's kernel never completes the connection: no child socket, no
  // accept, no wakeup of the server process. On loopback all of that used to run inside our
  // connect(), as our system time. HAProxy does the same for its connect-only checks.
  const int no = 0;
  setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &no, sizeof(no));
  if (from_len != 0) {
    const int on = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof(on));
    if (bind(fd, reinterpret_cast<sockaddr*>(&from), from_len) != 0) {
      const int err = errno;
      ::close(fd);
      return Napi::Number::New(env, err);
    }
  }
  const uint64_t started = uv_hrtime();
  int rc;
  do {
    rc = connect(fd, reinterpret_cast<sockaddr*>(&to), to_len);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) {
    CloseWithReset(fd);
    return Napi::Number::New(env, -1);
  }
  if (errno != EINPROGRESS) {
    const int err = errno;
    ::close(fd);
    return Napi::Number::New(env, err);
  }
  epoll_event ev = {};
  ev.events = EPOLLOUT;
  ev.data.u64 = id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    const int err = errno;
    ::close(fd);
    return Napi::Number::New(env, err);
  }
  const uint64_t deadline = started + static_cast<uint64_t>(timeout_ms * 1e6);
  probes_.emplace(id, Probe{fd, started, deadline});
  deadlines_.push(Deadline{deadline, id, fd});
  if (timer_at_ns_ == 0 || deadline < timer_at_ns_) ArmTimer();
  UpdateRef();
  return Napi::Number::New(env, 0);
}

// cancel(id) → whether a check was in flight; its socket is closed and no result follows.
Napi::Value TcpConnector::Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowArgError(env, "cancel(id: uint32)");
    return env.Undefined();
  }
  auto it = probes_.find(info[0].As<Napi::Number>().Uint32Value());
  if (it == probes_.end()) return Napi::Boolean::New(env, false);
  ::close(it->second.fd);  // also leaves the epoll set
  probes_.erase(it);
  UpdateRef();
  return Napi::Boolean::New(env, true);
}

Napi::Value TcpConnector::Close(const Napi::CallbackInfo& info) {
  Release();
  on_results_.Reset();
  results_ref_.Reset();
  results_ = nullptr;
  if (self_referenced_) {
    self_referenced_ = false;
    Unref();
  }
  return info.Env().Undefined();
}

void TcpConnector::Release() {
  for (auto& entry : probes_) ::close(entry.second.fd);
  probes_.clear();
  deadlines_ = {};
  if (handles_ != nullptr) {
    Handles* h = handles_;
    handles_ = nullptr;
    h->owner = nullptr;
    BeginClose(h);
  }
  if (epoll_fd_ >= 0) {
    ::close(epoll_fd_);
    epoll_fd_ = -1;
  }
}

void TcpConnector::OnEnvTeardown(napi_async_cleanup_hook_handle, void* arg) {
  auto* h = static_cast<Handles*>(arg);
  if (h->owner != nullptr) {
    h->owner->Release();
  } else {
    BeginClose(h);
  }
}

void TcpConnector::UpdateRef() {
  if (handles_ == nullptr) return;
  const bool want = !probes_.empty();
  if (want == loop_referenced_) return;
  loop_referenced_ = want;
  auto* poll = reinterpret_cast<uv_handle_t*>(&handles_->poll);
  auto* timer = reinterpret_cast<uv_handle_t*>(&handles_->timer);
  if (want) {
    uv_ref(poll);
    uv_ref(timer);
  } else {
    uv_unref(poll);
    uv_unref(timer);
  }
}

void TcpConnector::ArmTimer() {
  if (handles_ == nullptr) return;
  // Drop deadlines of probes that already ended, so the timer never fires for nothing.
  while (!deadlines_.empty()) {
    const Deadline& top = deadlines_.top();
    auto it = probes_.find(top.id);
    if (it != probes_.end() && it->second.fd == top.fd && it->second.deadline_ns == top.at_ns) break;
    deadlines_.pop();
  }
  if (deadlines_.empty()) {
    uv_timer_stop(&handles_->timer);
    timer_at_ns_ = 0;
    return;
  }
  const uint64_t at = deadlines_.top().at_ns;
  const uint64_t now = uv_hrtime();
  // Whole milliseconds, rounded up: a deadline is never reported early.
  const uint64_t delay_ms = at > now ? (at - now + 999999) / 1000000 : 0;
  timer_at_ns_ = at;
  uv_timer_start(&handles_->timer, OnTimer, delay_ms, 0);
}

void TcpConnector::Push(uint32_t id, double code, double latency_ms) {
  if (results_ == nullptr) return;
  double* slot = results_ + count_ * 3;
  slot[0] = id;
  slot[1] = code;
  slot[2] = latency_ms;
  if (++count_ == capacity_) Flush();
}

void TcpConnector::Flush() {
  if (count_ == 0) return;
  const size_t count = count_;
  count_ = 0;
  if (on_results_.IsEmpty()) return;
  napi_value argv[1];
  if (napi_create_uint32(env_, static_cast<uint32_t>(count), &argv[0]) != napi_ok) return;
  // MakeCallback needs an object as `this`: the connector itself.
  napi_value recv;
  if (napi_get_reference_value(env_, static_cast<napi_ref>(*this), &recv) != napi_ok ||
      recv == nullptr) {
    return;
  }
  napi_value result;
  const napi_status status = napi_make_callback(env_, async_context_->operator napi_async_context(),
                                                recv, on_results_.Value(), 1, argv, &result);
  if (status == napi_pending_exception) {
    // The JavaScript side catches its own errors; one that escapes is a bug: Node's
    // uncaughtException handling decides what happens, as for any callback.
    napi_value exception;
    if (napi_get_and_clear_last_exception(env_, &exception) == napi_ok) {
      napi_fatal_exception(env_, exception);
    }
  }
}

void TcpConnector::Drain() {
  epoll_event events[kMaxEvents];
  for (;;) {
    if (epoll_fd_ < 0) return;
    int n;
    do {
      n = epoll_wait(epoll_fd_, events, kMaxEvents, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return;
    const uint64_t now = uv_hrtime();
    for (int i = 0; i < n; i++) {
      const uint32_t id = static_cast<uint32_t>(events[i].data.u64);
      auto it = probes_.find(id);
      if (it == probes_.end()) continue;
      const Probe probe = it->second;
      probes_.erase(it);
      int err = 0;
      socklen_t len = sizeof(err);
      if (getsockopt(probe.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == 0 && (events[i].events & (EPOLLERR | EPOLLHUP)) != 0) err = ECONNRESET;
      if (err == 0) {
        CloseWithReset(probe.fd);
      } else {
        ::close(probe.fd);
      }
      Push(id, err, Milliseconds(now - probe.started_ns));
    }
    if (n < kMaxEvents) return;
  }
}

void TcpConnector::Expire() {
  const uint64_t now = uv_hrtime();
  while (!deadlines_.empty() && deadlines_.top().at_ns <= now) {
    const Deadline d = deadlines_.top();
    deadlines_.pop();
    auto it = probes_.find(d.id);
    if (it == probes_.end() || it->second.fd != d.fd || it->second.deadline_ns != d.at_ns) continue;
    const Probe probe = it->second;
    probes_.erase(it);
    ::close(probe.fd);
    Push(d.id, kTimeoutCode, Milliseconds(now - probe.started_ns));
  }
}

void TcpConnector::OnPoll(uv_poll_t* handle, int status, int) {
  auto* h = static_cast<Handles*>(handle->data);
  TcpConnector* self = h->owner;
  if (self == nullptr || status < 0) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(self->env_, &scope) != napi_ok) return;
  napi_value keep_alive;
  napi_get_reference_value(self->env_, static_cast<napi_ref>(*self), &keep_alive);
  self->Drain();
  self->Flush();
  self->UpdateRef();
  // Nothing left in flight: no reason for the timer to wake the loop for stale deadlines.
  if (self->probes_.empty() && self->timer_at_ns_ != 0) self->ArmTimer();
  napi_close_handle_scope(self->env_, scope);
}

void TcpConnector::OnTimer(uv_timer_t* handle) {
  auto* h = static_cast<Handles*>(handle->data);
  TcpConnector* self = h->owner;
  if (self == nullptr) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(self->env_, &scope) != napi_ok) return;
  napi_value keep_alive;
  napi_get_reference_value(self->env_, static_cast<napi_ref>(*self), &keep_alive);
  self->timer_at_ns_ = 0;
  // Connects that finished while the loop was busy are not timeouts: libuv runs timers before it
  // polls, so take what epoll already holds first.
  self->Drain();
  self->Expire();
  self->Flush();
  self->UpdateRef();
  self->ArmTimer();
  napi_close_handle_scope(self->env_, scope);
}

}  // namespace

void RegisterTcpConnector(Napi::Env env, Napi::Object exports) {
  exports.Set("TcpConnector", TcpConnector::Define(env));
}

}  // namespace ipvsd
