// TcpConnector: the TCP connect health check. Many checks at once, each a real non-blocking
// connect(2) to the real server, all on ONE private epoll set that libuv watches through one
// uv_poll_t; a wakeup drains every connect that finished, and JavaScript is called once per wakeup
// with a batch of results written into a Float64Array it handed over. Deadlines live in a min-heap
// with one uv_timer_t armed for the earliest.
//
// Why native at all: the check is half-open. The socket starts with TCP_QUICKACK off, so the kernel
// holds back the handshake's last ACK; the socket turns writable at the SYN-ACK (the verdict), and
// the RST that ends the check goes out before that ACK would have: the server's kernel never
// completes the connection (no child socket, no accept(), no wakeup of the server process), and
// neither side keeps a TIME_WAIT entry for a connection that carried nothing. HAProxy checks the
// same way. net.Socket cannot hold back the ACK.
//
// One check: a socket (SOCK_NONBLOCK, optionally bound to the source address with port 0 and
// IP_BIND_ADDRESS_NO_PORT, so the port is picked at connect time together with the destination),
// TCP_QUICKACK off, connect(); EPOLLOUT tells that the handshake finished, EPOLLERR that it failed
// (SO_ERROR says how). At the verdict the socket is disconnected, not closed: connect() with
// AF_UNSPEC sends the RST a connected socket needs, drops a SYN still unanswered silently, gives
// the port back and leaves the socket as new. It stays in the epoll set and waits in a pool (by
// family and source address) for the next check; beyond kMaxIdle idle sockets it is closed with
// SO_LINGER {1, 0} (also an RST).
//
// Results are records of kStride doubles (id, code, latencyMs) in the buffer: code 0 = connected,
// > 0 = the errno the connect failed with, -1 = the deadline passed. Errors that connect() or
// bind() report at once (EHOSTUNREACH for an unreachable route, EINVAL for a blackhole route,
// EADDRNOTAVAIL for a source address that is not ours) come back from start() instead, and no
// result follows. A deadline timer that runs late (the process stalled) first drains epoll, so a
// connect that finished during the stall is not reported as a timeout.
//
// An exchange (start() with a payload: the plain HTTP check) is the same connect, then the payload
// is written and every byte the server sends is handed to JavaScript, which parses it
// (src/check/http-response.ts, the one HTTP parser) and calls cancel() once it has its verdict;
// that resets the connection like a connect check's. Bytes come as kData records, each with the
// next Buffer of the batch's `chunks` array; the exchange ends with the server's FIN (kClosed), an
// errno, more than kMaxExchangeBytes (kTooLarge) or the deadline (-1 before the connect finished,
// kTimeoutConnected after). A deadline timer that runs late gives an exchange as long again as the
// stall lasted, once: the connect may have finished during the stall with the payload not yet
// written, and a timeout then would judge the prober, not the server.
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

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <deque>
#include <memory>
#include <queue>
#include <string>
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
// Exchange codes (src/sys/tcp-connect.ts has them too).
constexpr double kClosed = -2;
constexpr double kData = -3;
constexpr double kTimeoutConnected = -4;
constexpr double kTooLarge = -5;
// Most bytes an exchange reads: above the parser's own limits (16 KiB of head, 4 MiB of body), so
// this only stops a server that streams framing without end.
constexpr size_t kMaxExchangeBytes = 8 * 1024 * 1024;
// A deadline timer this late means the process stalled.
constexpr uint64_t kStallNs = 10 * 1000 * 1000;
// Doubles per result record: id, code, latencyMs.
constexpr size_t kStride = 3;
// Ids are dense slot numbers handed out by src/sys/tcp-connect.ts (the lowest free one).
constexpr uint32_t kMaxId = 1u << 20;

// An IPv4 or IPv6 address and port.
union SockAddr {
  sockaddr sa;
  sockaddr_in v4;
  sockaddr_in6 v6;
};

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

// What an exchange writes and has read.
struct Exchange {
  std::string payload;
  size_t written = 0;
  bool connected = false;
  size_t received = 0;
  uint64_t grace_left_ns = 0;
};

// A check in flight; fd -1 marks a free slot.
struct Probe {
  int fd = -1;
  uint16_t pool = 0;  // the SocketPool the socket goes back to
  uint64_t started_ns = 0;
  uint64_t deadline_ns = 0;
  std::unique_ptr<Exchange> exchange;  // null for a connect check
};

// Idle sockets of one family and source address, each already in the epoll set.
struct SocketPool {
  int family;
  SockAddr from;
  socklen_t from_len;  // 0: not bound (the kernel picks the source)
  std::vector<int> idle;
};

// Idle sockets kept per pool at most: the pool grows to the most checks in flight at once, up to
// this; beyond it sockets are closed.
constexpr size_t kMaxIdle = 1024;
constexpr uint32_t kNoId = UINT32_MAX;

struct Deadline {
  uint64_t at_ns;
  uint32_t id;
  int fd;  // tells a stale entry (the id was reused for a later probe) from the live one
  bool operator>(const Deadline& other) const { return at_ns > other.at_ns; }
};

// Fills `addr` from numeric text (IPv4 or IPv6) and a port; returns its length or 0.
socklen_t ParseAddress(const char* text, int port, SockAddr* addr) {
  *addr = {};
  auto* v4 = &addr->v4;
  if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    return sizeof(sockaddr_in);
  }
  auto* v6 = &addr->v6;
  if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    return sizeof(sockaddr_in6);
  }
  return 0;
}

// Reads a JavaScript string holding an address into `buffer`; a string too long to be an address
// comes back truncated and fails to parse.
const char* AddressText(napi_env env, const Napi::Value& value, char* buffer, size_t size) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, buffer, size, &length) != napi_ok) buffer[0] = '\0';
  return buffer;
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
    return Napi::Number::New(info.Env(), static_cast<double>(in_flight_));
  }

  // The check in flight under `id`, or null.
  Probe* Find(uint32_t id) {
    if (id >= probes_.size()) return nullptr;
    Probe& probe = probes_[id];
    return probe.fd >= 0 ? &probe : nullptr;
  }
  // Forgets the check under `id` (in flight) and recycles its socket.
  void End(uint32_t id);
  // An idle socket of the family and source from its pool, or a new one put in the epoll set;
  // -errno on failure.
  int Acquire(const SockAddr& to, const SockAddr& from, socklen_t from_len, uint16_t* pool);
  // Ends whatever connection the socket has (RST if one was made) and keeps it for the next check.
  void Recycle(int fd, uint16_t pool);
  // Works an exchange after an epoll event; true when it ended (then reported and forgotten).
  bool StepExchange(uint32_t id, Probe& probe, uint32_t events, uint64_t now);
  // Reports and forgets an exchange that ended with `code`.
  void EndExchange(uint32_t id, double code, uint64_t now);

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
  size_t capacity_ = 0;  // records
  size_t count_ = 0;
  // The bytes of this batch's kData records, in order: the `chunks` argument of onResults.
  std::vector<std::string> chunks_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  // Checks by id. A deque: JavaScript called from Flush() may start checks that grow it, and
  // growing a deque at the end leaves references to its elements valid.
  std::deque<Probe> probes_;
  size_t in_flight_ = 0;
  std::vector<SocketPool> pools_;
  // The check id each pooled socket works for, by fd (kNoId while idle): epoll reports fds.
  std::vector<uint32_t> fd_ids_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<Deadline>> deadlines_;
};

TcpConnector::TcpConnector(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<TcpConnector>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  const char* usage =
      "new TcpConnector(results: Float64Array (3 × n, n >= 2), onResults: (count, chunks: Buffer[]) => void)";
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsFunction()) {
    ThrowArgError(env, usage);
    return;
  }
  Napi::TypedArray typed = info[0].As<Napi::TypedArray>();
  if (typed.TypedArrayType() != napi_float64_array || typed.ElementLength() < 2 * kStride) {
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
  capacity_ = results.ElementLength() / kStride;
  on_results_ = Napi::Persistent(info[1].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "ipvsd:TcpConnector");
  // In-flight checks point here through the handles: live until close().
  Ref();
  self_referenced_ = true;
}

int TcpConnector::Acquire(const SockAddr& to, const SockAddr& from, socklen_t from_len, uint16_t* pool) {
  size_t p = 0;
  for (; p < pools_.size(); p++) {
    const SocketPool& candidate = pools_[p];
    if (candidate.family == to.sa.sa_family && candidate.from_len == from_len &&
        (from_len == 0 || memcmp(&candidate.from, &from, from_len) == 0)) {
      break;
    }
  }
  if (p == pools_.size()) {
    if (p > UINT16_MAX) return -EMFILE;
    pools_.push_back(SocketPool{to.sa.sa_family, from, from_len, {}});
  }
  *pool = static_cast<uint16_t>(p);
  SocketPool& idle = pools_[p];
  if (!idle.idle.empty()) {
    const int fd = idle.idle.back();
    idle.idle.pop_back();
    return fd;
  }
  const int fd = socket(to.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return -errno;
  if (from_len != 0) {
    const int on = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof(on));
    if (bind(fd, &from.sa, from_len) != 0) {
      const int err = errno;
      ::close(fd);
      return -err;
    }
  }
  // Edge-triggered, for both kinds of check: an idle socket (state CLOSE) would otherwise report
  // EPOLLHUP all the time.
  // epoll polls the socket again when it reports it, so an edge left over from a socket's earlier
  // check reports the state of its current one (nothing while the SYN is out), or is dropped when
  // the socket is idle.
  epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = static_cast<uint64_t>(fd);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    const int err = errno;
    ::close(fd);
    return -err;
  }
  if (fd_ids_.size() <= static_cast<size_t>(fd)) fd_ids_.resize(static_cast<size_t>(fd) + 1, kNoId);
  return fd;
}

void TcpConnector::Recycle(int fd, uint16_t pool) {
  fd_ids_[static_cast<size_t>(fd)] = kNoId;
  sockaddr unspec = {};
  unspec.sa_family = AF_UNSPEC;
  if (pool < pools_.size() && pools_[pool].idle.size() < kMaxIdle &&
      connect(fd, &unspec, sizeof(unspec)) == 0) {
    pools_[pool].idle.push_back(fd);
    return;
  }
  // Not kept: a connected socket still leaves with RST, not FIN.
  CloseWithReset(fd);
}

void TcpConnector::End(uint32_t id) {
  Probe& probe = probes_[id];
  Recycle(probe.fd, probe.pool);
  probe.fd = -1;
  probe.exchange.reset();
  in_flight_--;
}

// start(id, address, port, sourceAddress | null, timeoutMs, payload?) → 0 (in flight; one result
// will follow, an exchange's after its kData records), -1 (a connect check connected at once:
// already reset, no result follows), or an errno (failed at once, no result follows). `id` must
// not be in flight. With a payload (a non-empty Uint8Array) the check is an exchange.
Napi::Value TcpConnector::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage =
      "start(id: uint32, address: string, port: number, source: string | null, timeoutMs: number, "
      "payload?: Uint8Array)";
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsNumber() ||
      !(info[3].IsString() || info[3].IsNull() || info[3].IsUndefined()) || !info[4].IsNumber()) {
    ThrowArgError(env, usage);
    return env.Undefined();
  }
  std::unique_ptr<Exchange> exchange;
  if (info.Length() >= 6 && !info[5].IsUndefined()) {
    if (!info[5].IsTypedArray() || info[5].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        info[5].As<Napi::TypedArray>().ElementLength() == 0) {
      ThrowArgError(env, usage);
      return env.Undefined();
    }
    Napi::Uint8Array payload = info[5].As<Napi::Uint8Array>();
    exchange = std::make_unique<Exchange>();
    exchange->payload.assign(reinterpret_cast<const char*>(payload.Data()), payload.ElementLength());
  }
  const uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  const int port = info[2].As<Napi::Number>().Int32Value();
  const double timeout_ms = info[4].As<Napi::Number>().DoubleValue();
  if (id >= kMaxId || port < 0 || port > 65535 || !(timeout_ms >= 0)) {
    ThrowArgError(env, usage);
    return env.Undefined();
  }
  char text[INET6_ADDRSTRLEN + 8];
  SockAddr to;
  const socklen_t to_len = ParseAddress(AddressText(env, info[1], text, sizeof(text)), port, &to);
  if (to_len == 0) {
    ThrowArgError(env, std::string("start(): ") + text + " is not an IP address");
    return env.Undefined();
  }
  SockAddr from = {};
  socklen_t from_len = 0;
  if (info[3].IsString()) {
    from_len = ParseAddress(AddressText(env, info[3], text, sizeof(text)), 0, &from);
    if (from_len == 0 || from.sa.sa_family != to.sa.sa_family) {
      ThrowArgError(env, std::string("start(): source ") + text + " is not an address of the same family");
      return env.Undefined();
    }
  }
  if (epoll_fd_ < 0) {
    ThrowErrno(env, EBADF, "connect", "the TCP connector is closed");
    return env.Undefined();
  }
  if (Find(id) != nullptr) {
    ThrowArgError(env, "start(): a check with this id is already in flight");
    return env.Undefined();
  }

  uint16_t pool = 0;
  const int fd = Acquire(to, from, from_len, &pool);
  if (fd < 0) return Napi::Number::New(env, -fd);
  // Delayed ACK from the start (see the top of this file): the verdict comes at the SYN-ACK and
  // the RST goes out before the handshake's last ACK; an exchange's payload carries that ACK. A
  // disconnect resets the option, so per check.
  const int no = 0;
  setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &no, sizeof(no));
  const uint64_t started = uv_hrtime();
  int rc;
  do {
    rc = connect(fd, &to.sa, to_len);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0 && !exchange) {
    Recycle(fd, pool);
    return Napi::Number::New(env, -1);
  }
  // An exchange that connected at once still gets EPOLLOUT: one path either way.
  if (rc != 0 && errno != EINPROGRESS) {
    const int err = errno;
    Recycle(fd, pool);
    return Napi::Number::New(env, err);
  }

  fd_ids_[static_cast<size_t>(fd)] = id;
  const uint64_t deadline = started + static_cast<uint64_t>(timeout_ms * 1e6);
  while (probes_.size() <= id) probes_.emplace_back();
  if (exchange) exchange->grace_left_ns = static_cast<uint64_t>(timeout_ms * 1e6);
  probes_[id] = Probe{fd, pool, started, deadline, std::move(exchange)};
  in_flight_++;
  deadlines_.push(Deadline{deadline, id, fd});
  if (timer_at_ns_ == 0 || deadline < timer_at_ns_) ArmTimer();
  UpdateRef();
  return Napi::Number::New(env, 0);
}

// cancel(id) → whether a check was in flight; its connection is reset (or its SYN dropped) and no
// result follows.
Napi::Value TcpConnector::Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowArgError(env, "cancel(id: uint32)");
    return env.Undefined();
  }
  const uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (Find(id) == nullptr) return Napi::Boolean::New(env, false);
  End(id);
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
  for (Probe& probe : probes_)
    if (probe.fd >= 0) ::close(probe.fd);
  probes_.clear();
  chunks_.clear();
  in_flight_ = 0;
  for (SocketPool& pool : pools_)
    for (int fd : pool.idle) ::close(fd);
  pools_.clear();
  fd_ids_.clear();
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
  const bool want = in_flight_ > 0;
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
    const Probe* probe = Find(top.id);
    if (probe != nullptr && probe->fd == top.fd && probe->deadline_ns == top.at_ns) break;
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
  double* slot = results_ + count_ * kStride;
  slot[0] = id;
  slot[1] = code;
  slot[2] = latency_ms;
  if (++count_ == capacity_) Flush();
}

void TcpConnector::Flush() {
  if (count_ == 0) return;
  const size_t count = count_;
  count_ = 0;
  std::vector<std::string> chunks;
  chunks.swap(chunks_);
  if (on_results_.IsEmpty()) return;
  napi_value argv[2];
  if (napi_create_uint32(env_, static_cast<uint32_t>(count), &argv[0]) != napi_ok) return;
  if (napi_create_array_with_length(env_, chunks.size(), &argv[1]) != napi_ok) return;
  for (size_t i = 0; i < chunks.size(); i++) {
    napi_value buffer;
    if (napi_create_buffer_copy(env_, chunks[i].size(), chunks[i].data(), nullptr, &buffer) != napi_ok ||
        napi_set_element(env_, argv[1], static_cast<uint32_t>(i), buffer) != napi_ok) {
      return;
    }
  }
  // MakeCallback needs an object as `this`: the connector itself.
  napi_value recv;
  if (napi_get_reference_value(env_, static_cast<napi_ref>(*this), &recv) != napi_ok ||
      recv == nullptr) {
    return;
  }
  napi_value result;
  const napi_status status = napi_make_callback(env_, async_context_->operator napi_async_context(),
                                                recv, on_results_.Value(), 2, argv, &result);
  if (status == napi_pending_exception) {
    // The JavaScript side catches its own errors; one that escapes is a bug: Node's
    // uncaughtException handling decides what happens, as for any callback.
    napi_value exception;
    if (napi_get_and_clear_last_exception(env_, &exception) == napi_ok) {
      napi_fatal_exception(env_, exception);
    }
  }
}

void TcpConnector::EndExchange(uint32_t id, double code, uint64_t now) {
  const double latency_ms = Milliseconds(now - probes_[id].started_ns);
  End(id);
  Push(id, code, latency_ms);
}

bool TcpConnector::StepExchange(uint32_t id, Probe& probe, uint32_t events, uint64_t now) {
  Exchange& exchange = *probe.exchange;
  if (!exchange.connected) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return false;
    if ((events & (EPOLLERR | EPOLLHUP)) != 0 || (events & EPOLLOUT) == 0) {
      int err = 0;
      socklen_t len = sizeof(err);
      if (getsockopt(probe.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == 0 && (events & EPOLLOUT) == 0) err = ECONNRESET;
      if (err != 0) {
        EndExchange(id, err, now);
        return true;
      }
    }
    exchange.connected = true;
  }
  while (exchange.written < exchange.payload.size()) {
    const ssize_t n = send(probe.fd, exchange.payload.data() + exchange.written,
                           exchange.payload.size() - exchange.written, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      exchange.written += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;  // the next EPOLLOUT edge brings the rest
    } else {
      EndExchange(id, n < 0 ? errno : EPIPE, now);
      return true;
    }
  }
  // Edge-triggered: read until the kernel has nothing more. The bytes go out as one kData record.
  std::string data;
  double end = 0;  // 0: still open
  char buffer[16384];
  for (;;) {
    const ssize_t n = recv(probe.fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n > 0) {
      exchange.received += static_cast<size_t>(n);
      if (exchange.received > kMaxExchangeBytes) {
        end = kTooLarge;
        break;
      }
      data.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      end = kClosed;
      break;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      break;
    } else {
      end = errno;
      break;
    }
  }
  if (!data.empty()) {
    chunks_.push_back(std::move(data));
    Push(id, kData, 0);
  }
  if (end == 0) return false;
  EndExchange(id, end, now);
  return true;
}

void TcpConnector::Drain() {
  epoll_event events[kMaxEvents];
  for (;;) {
    // JavaScript runs (Flush) only between batches of events, never in the middle of one: a check
    // it cancelled or started there could hand a socket whose event is still in `events` to
    // another check, which would then get the earlier check's verdict. Each event gives at most
    // two records (an exchange's bytes and its end), so a batch no larger than half the room left
    // never fills the buffer before its end.
    if (capacity_ - count_ < 2) Flush();
    if (epoll_fd_ < 0 || results_ == nullptr) return;
    const int room = static_cast<int>(std::min<size_t>(kMaxEvents, (capacity_ - count_) / 2));
    int n;
    do {
      n = epoll_wait(epoll_fd_, events, room, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return;
    const uint64_t now = uv_hrtime();
    for (int i = 0; i < n; i++) {
      const int fd = static_cast<int>(events[i].data.u64);
      if (static_cast<size_t>(fd) >= fd_ids_.size()) continue;
      const uint32_t id = fd_ids_[static_cast<size_t>(fd)];
      if (id == kNoId) continue;  // an idle socket's edge
      Probe* probe = Find(id);
      if (probe == nullptr || probe->fd != fd) continue;
      if (probe->exchange) {
        StepExchange(id, *probe, events[i].events, now);
        continue;
      }
      // Writable without an error: connected (a failed connect always brings EPOLLERR), so the
      // error needs no system call of its own. Neither: not done yet.
      const uint32_t ev = events[i].events;
      int err = 0;
      if ((ev & (EPOLLERR | EPOLLHUP)) != 0) {
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err == 0) err = ECONNRESET;
      } else if ((ev & EPOLLOUT) == 0) {
        continue;
      }
      const double latency_ms = Milliseconds(now - probe->started_ns);
      End(id);
      Push(id, err, latency_ms);
    }
    if (n < room) return;
  }
}

void TcpConnector::Expire() {
  const uint64_t now = uv_hrtime();
  while (!deadlines_.empty() && deadlines_.top().at_ns <= now) {
    const Deadline d = deadlines_.top();
    deadlines_.pop();
    Probe* probe = Find(d.id);
    if (probe == nullptr || probe->fd != d.fd || probe->deadline_ns != d.at_ns) continue;
    if (probe->exchange) {
      Exchange& exchange = *probe->exchange;
      const uint64_t grace = std::min(now - d.at_ns, exchange.grace_left_ns);
      if (grace >= kStallNs) {
        exchange.grace_left_ns -= grace;
        probe->deadline_ns = now + grace;
        deadlines_.push(Deadline{now + grace, d.id, d.fd});
        continue;
      }
      EndExchange(d.id, exchange.connected ? kTimeoutConnected : kTimeoutCode, now);
      continue;
    }
    const double latency_ms = Milliseconds(now - probe->started_ns);
    End(d.id);
    Push(d.id, kTimeoutCode, latency_ms);
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
  if (self->in_flight_ == 0 && self->timer_at_ns_ != 0) self->ArmTimer();
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
