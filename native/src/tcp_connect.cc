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
// One check: a socket (SOCK_NONBLOCK, optionally bound to the source address with port 0 and
// IP_BIND_ADDRESS_NO_PORT, so the port is picked at connect time together with the destination),
// TCP_QUICKACK off, connect(); EPOLLOUT tells that the handshake finished, EPOLLERR that it failed
// (SO_ERROR says how). At the verdict the socket is disconnected, not closed: connect() with
// AF_UNSPEC makes the kernel answer a connected socket's handshake with RST instead of a FIN
// exchange (so neither side keeps a TIME_WAIT entry for a connection that carried nothing, as
// HAProxy does for its connect-only checks with SO_LINGER {1, 0}), drop a SYN still unanswered
// silently, and give the port back. The socket, still in the epoll set, waits in a pool (by family
// and source address) for the next check: per check that leaves setsockopt, connect and the
// disconnect, where socket(), epoll_ctl(), setsockopt(SO_LINGER) and close() were, and the kernel
// no longer makes and frees a socket, a file and an epoll entry each time.
//
// A daemon registers each target once (register/registerHttp: the address parsed, the request
// kept) and starts its checks with run(id), one integer argument; start/startHttp take everything
// per call, for one-off checks.
//
// Results are records of kStride doubles (id, code, latencyMs, detail, digest words...) in the
// buffer: code 0 = connected, > 0 = the errno the connect failed with, -1 = the deadline passed.
// Errors that connect() or bind() report at once (EHOSTUNREACH for an unreachable route, EINVAL
// for a blackhole route, EADDRNOTAVAIL for a source address that is not ours) come back from
// start() instead, and no result follows.
//
// Plain HTTP checks (startHttp) run on the same epoll set: connect, write the request, read the
// response through HttpResponseReader (http_response.h: status ranges, framing, MD5 of the body,
// size limits) and reset the connection at the verdict. Every socket is edge-triggered for EPOLLIN
// and EPOLLOUT, whichever kind of check it serves. Their code is 0 (detail: the
// status) or one of the kHttp* verdicts, an errno, or -1 with the phase in detail (0 connecting,
// 1 waiting for the response, 2 reading the body). A deadline timer that runs late (the process
// stalled) gives an HTTP check as long again as the stall lasted, once, as the JavaScript check
// does (src/check/http.ts explains why); a connect check needs none: its verdict is already in
// epoll when the timer runs, and the timer drains epoll first.
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
#include <deque>
#include <climits>
#include <cmath>
#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "errno_error.h"
#include "http_response.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace ipvsd {
namespace {

// Events drained per epoll_wait(); a wakeup loops until fewer come back.
constexpr int kMaxEvents = 256;
constexpr double kTimeoutCode = -1;
// Doubles per result record: id, code, latencyMs, detail, then the body's MD5 as 4 words.
constexpr size_t kStride = 8;
// A deadline timer this late means the process stalled (as STALL_MS in src/check/http.ts).
constexpr uint64_t kStallNs = 10 * 1000 * 1000;

enum class HttpPhase : uint8_t { kConnecting = 0, kWaiting = 1, kBody = 2 };

// What an HTTP check sends and how it judges the answer: made once per registered target (or per
// one-off check) and shared by its checks, so a check copies no request bytes.
struct HttpSpec {
  std::string request;
  std::vector<int32_t> ranges;
  uint8_t digest[16] = {};
  bool has_digest = false;
};

// Where a check connects, from where, and for how long: parsed from JavaScript text once.
// An IPv4 or IPv6 address and port; smaller than sockaddr_storage (a daemon keeps one or two per
// real server).
union SockAddr {
  sockaddr sa;
  sockaddr_in v4;
  sockaddr_in6 v6;
};

struct Target {
  SockAddr to = {};
  socklen_t to_len = 0;  // 0: no target (an unregistered slot)
  SockAddr from = {};
  socklen_t from_len = 0;  // 0: the kernel picks the source
  double timeout_ms = 0;
  std::shared_ptr<const HttpSpec> http;  // null for a connect check
};

struct HttpProbe {
  explicit HttpProbe(std::shared_ptr<const HttpSpec> s)
      : spec(std::move(s)), reader(spec->ranges, spec->has_digest ? spec->digest : nullptr) {}
  std::shared_ptr<const HttpSpec> spec;
  size_t written = 0;
  HttpPhase phase = HttpPhase::kConnecting;
  uint64_t grace_left_ns = 0;
  HttpResponseReader reader;
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

struct Probe {
  int fd = -1;  // -1: a free slot of ProbeTable
  uint16_t pool = 0;  // the SocketPool the socket goes back to
  uint64_t started_ns;
  uint64_t deadline_ns;
  std::unique_ptr<HttpProbe> http;  // null for a connect check
};

// Idle sockets of one family and source address, each already in the epoll set. A check's socket
// is not closed at the verdict but disconnected (connect() with AF_UNSPEC: tcp_disconnect sends the
// RST a connected socket needs, drops the port, and leaves the socket as new) and kept for the next
// check: no socket(), epoll_ctl(), SO_LINGER and close() per check, and none of the kernel's work
// of making and freeing a socket, a file and an epoll entry. The next connect() still picks a new
// ephemeral port and is a new connection in every way the server can see.
struct SocketPool {
  int family;
  SockAddr from;
  socklen_t from_len;  // 0: not bound (the kernel picks the source)
  std::vector<int> idle;
};

// Idle sockets kept per pool at most (beyond what is in flight, sockets are closed): the pool
// grows to the most checks in flight at once, up to this.
constexpr size_t kMaxIdle = 1024;
constexpr uint32_t kNoId = UINT32_MAX;

// Checks in flight by id. The JavaScript side hands out ids as dense slot numbers (the lowest free
// one), so a slot array indexed by id replaces a hash table: no hashing and no heap node per check.
// A deque, because a result flushed to JavaScript in the middle of a step may start checks that
// grow the table, and growing a deque at the end leaves references to its elements valid. Ids
// beyond kDenseIds (not what JavaScript hands out) still work, in a hash table.
class ProbeTable {
 public:
  static constexpr uint32_t kDenseIds = 1u << 20;

  Probe* Find(uint32_t id) {
    if (id < kDenseIds) {
      if (id >= dense_.size()) return nullptr;
      Probe& probe = dense_[id];
      return probe.fd >= 0 ? &probe : nullptr;
    }
    auto it = sparse_.find(id);
    return it == sparse_.end() ? nullptr : &it->second;
  }
  // `id` must be free (Find gave null).
  void Put(uint32_t id, Probe&& probe) {
    if (id < kDenseIds) {
      while (dense_.size() <= id) dense_.emplace_back();
      dense_[id] = std::move(probe);
    } else {
      sparse_.emplace(id, std::move(probe));
    }
    size_++;
  }
  // `id` must be in flight (Find gave a probe).
  void Erase(uint32_t id) {
    if (id < kDenseIds) {
      Probe& probe = dense_[id];
      probe.fd = -1;
      probe.http.reset();
    } else {
      sparse_.erase(id);
    }
    size_--;
  }
  template <typename F>
  void ForEach(F f) {
    for (Probe& probe : dense_)
      if (probe.fd >= 0) f(probe);
    for (auto& entry : sparse_) f(entry.second);
  }
  void Clear() {
    dense_.clear();
    sparse_.clear();
    size_ = 0;
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  std::deque<Probe> dense_;
  std::unordered_map<uint32_t, Probe> sparse_;
  size_t size_ = 0;
};

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

// Reads a JavaScript string holding an address into `buffer` (no heap allocation: this runs for
// every check); a string too long to be an address comes back truncated and fails to parse.
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
                           InstanceMethod<&TcpConnector::StartHttp>("startHttp"),
                           InstanceMethod<&TcpConnector::Register>("register"),
                           InstanceMethod<&TcpConnector::RegisterHttp>("registerHttp"),
                           InstanceMethod<&TcpConnector::Unregister>("unregister"),
                           InstanceMethod<&TcpConnector::Run>("run"),
                           InstanceMethod<&TcpConnector::Cancel>("cancel"),
                           InstanceMethod<&TcpConnector::Close>("close"),
                           InstanceAccessor<&TcpConnector::GetInFlight>("inFlight"),
                       });
  }

  explicit TcpConnector(const Napi::CallbackInfo& info);
  ~TcpConnector() override { Release(); }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value StartHttp(const Napi::CallbackInfo& info);
  Napi::Value Register(const Napi::CallbackInfo& info);
  Napi::Value RegisterHttp(const Napi::CallbackInfo& info);
  Napi::Value KeepTarget(const Napi::CallbackInfo& info, const char* method, Target&& target);
  Napi::Value Unregister(const Napi::CallbackInfo& info);
  Napi::Value Run(const Napi::CallbackInfo& info);
  // Checks the common arguments (id, address, port, source, timeoutMs) into `target`; false (with
  // a JavaScript exception pending) when they are wrong.
  bool ParseTarget(const Napi::CallbackInfo& info, const char* usage, Target* target);
  // Checks the HTTP arguments (request, statusRanges, digest at 5, 6, 7); null (with a JavaScript
  // exception pending) when they are wrong.
  std::shared_ptr<const HttpSpec> ParseHttp(const Napi::CallbackInfo& info, const char* usage);
  // Opens the socket and starts the connect. Returns the fd (>= 0) or -errno for a failure at
  // once. `connected` tells that connect() finished at once.
  int Open(const Target& target, uint16_t* pool, uint64_t* started, bool* connected);
  // An idle socket of the target's family and source from its pool, or a new one put in the epoll
  // set; -errno on failure.
  int Acquire(const Target& target, uint16_t* pool);
  // Ends whatever connection the socket has (RST if one was made) and keeps it for the next check.
  void Recycle(int fd, uint16_t pool);
  // Starts a check of `target` under `id`: 0 in flight, -1 connected at once (connect checks
  // only), an errno when it failed at once; INT32_MIN with a JavaScript exception pending.
  int Begin(Napi::Env env, uint32_t id, const Target& target);
  void Watch(uint32_t id, int fd, uint16_t pool, uint64_t started, double timeout_ms,
             std::unique_ptr<HttpProbe> http);
  // Works an HTTP check after an epoll event; true when it has its verdict (then reported).
  bool StepHttp(uint32_t id, Probe& probe, uint32_t events, uint64_t now);
  void FinishHttp(uint32_t id, Probe& probe, double code, uint64_t now);
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
  void Push(uint32_t id, double code, double latency_ms, double detail = 0,
            const uint8_t* digest = nullptr);
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
  ProbeTable probes_;
  std::vector<SocketPool> pools_;
  // The check id each pooled socket works for, by fd (kNoId while idle): epoll reports fds.
  std::vector<uint32_t> fd_ids_;
  // Registered targets by id (register()/run()): parsed once, started by id.
  std::vector<Target> targets_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<Deadline>> deadlines_;
};

TcpConnector::TcpConnector(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<TcpConnector>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  const char* usage = "new TcpConnector(results: Float64Array (8 × n), onResults: (count) => void)";
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsFunction()) {
    ThrowArgError(env, usage);
    return;
  }
  Napi::TypedArray typed = info[0].As<Napi::TypedArray>();
  if (typed.TypedArrayType() != napi_float64_array || typed.ElementLength() < kStride) {
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

bool TcpConnector::ParseTarget(const Napi::CallbackInfo& info, const char* usage, Target* target) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsNumber() ||
      !(info[3].IsString() || info[3].IsNull() || info[3].IsUndefined()) || !info[4].IsNumber()) {
    ThrowArgError(env, usage);
    return false;
  }
  const int port = info[2].As<Napi::Number>().Int32Value();
  const double timeout_ms = info[4].As<Napi::Number>().DoubleValue();
  if (port < 0 || port > 65535 || !(timeout_ms >= 0)) {
    ThrowArgError(env, usage);
    return false;
  }
  char address[INET6_ADDRSTRLEN + 8];
  AddressText(env, info[1], address, sizeof(address));
  target->to_len = ParseAddress(address, port, &target->to);
  if (target->to_len == 0) {
    ThrowArgError(env, std::string("start(): ") + address + " is not an IP address");
    return false;
  }
  target->from_len = 0;
  if (info[3].IsString()) {
    char source[INET6_ADDRSTRLEN + 8];
    AddressText(env, info[3], source, sizeof(source));
    target->from_len = ParseAddress(source, 0, &target->from);
    if (target->from_len == 0 || target->from.sa.sa_family != target->to.sa.sa_family) {
      target->to_len = 0;
      ThrowArgError(env, std::string("start(): source ") + source + " is not an address of the same family");
      return false;
    }
  }
  target->timeout_ms = timeout_ms;
  return true;
}

std::shared_ptr<const HttpSpec> TcpConnector::ParseHttp(const Napi::CallbackInfo& info, const char* usage) {
  Napi::Env env = info.Env();
  if (info.Length() < 8 || !info[5].IsTypedArray() || !info[6].IsTypedArray() ||
      !(info[7].IsNull() || info[7].IsTypedArray())) {
    ThrowArgError(env, usage);
    return nullptr;
  }
  Napi::TypedArray request = info[5].As<Napi::TypedArray>();
  Napi::TypedArray ranges = info[6].As<Napi::TypedArray>();
  if (request.TypedArrayType() != napi_uint8_array || request.ElementLength() == 0 ||
      ranges.TypedArrayType() != napi_int32_array || ranges.ElementLength() % 2 != 0) {
    ThrowArgError(env, usage);
    return nullptr;
  }
  auto spec = std::make_shared<HttpSpec>();
  if (info[7].IsTypedArray()) {
    Napi::TypedArray d = info[7].As<Napi::TypedArray>();
    if (d.TypedArrayType() != napi_uint8_array || d.ElementLength() != 16) {
      ThrowArgError(env, usage);
      return nullptr;
    }
    memcpy(spec->digest, info[7].As<Napi::Uint8Array>().Data(), 16);
    spec->has_digest = true;
  }
  Napi::Uint8Array request_bytes = info[5].As<Napi::Uint8Array>();
  Napi::Int32Array range_values = info[6].As<Napi::Int32Array>();
  spec->request.assign(reinterpret_cast<const char*>(request_bytes.Data()), request_bytes.ElementLength());
  spec->ranges.assign(range_values.Data(), range_values.Data() + range_values.ElementLength());
  return spec;
}

int TcpConnector::Acquire(const Target& target, uint16_t* pool) {
  size_t p = 0;
  for (; p < pools_.size(); p++) {
    const SocketPool& candidate = pools_[p];
    if (candidate.family == target.to.sa.sa_family && candidate.from_len == target.from_len &&
        (target.from_len == 0 || memcmp(&candidate.from, &target.from, target.from_len) == 0)) {
      break;
    }
  }
  if (p == pools_.size()) {
    if (p > UINT16_MAX) return -EMFILE;
    pools_.push_back(SocketPool{target.to.sa.sa_family, target.from, target.from_len, {}});
  }
  *pool = static_cast<uint16_t>(p);
  SocketPool& from = pools_[p];
  if (!from.idle.empty()) {
    const int fd = from.idle.back();
    from.idle.pop_back();
    return fd;
  }
  const int fd = socket(target.to.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return -errno;
  if (target.from_len != 0) {
    const int on = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof(on));
    if (bind(fd, &target.from.sa, target.from_len) != 0) {
      const int err = errno;
      ::close(fd);
      return -err;
    }
  }
  // Edge-triggered, for both kinds of check: an idle socket (state CLOSE) would otherwise report
  // EPOLLHUP all the time. epoll polls the socket again when it reports it, so an edge left over
  // from a socket's earlier check reports the state of its current one (nothing while the SYN is
  // out), or is dropped when the socket is idle.
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

int TcpConnector::Open(const Target& target, uint16_t* pool, uint64_t* started, bool* connected) {
  const int fd = Acquire(target, pool);
  if (fd < 0) return fd;
  // Delayed ACK from the start: the kernel then holds back the handshake's last ACK. A connect
  // check's socket still turns writable at the SYN-ACK (the verdict), and the RST that ends it
  // follows before the ACK would have: the server's kernel never completes the connection (no
  // child socket, no accept, no wakeup of the server process; on loopback all of that used to run
  // inside our connect(), as our system time). An HTTP check's request then carries the ACK: one
  // packet less. HAProxy does the same for its checks. (Per check: a disconnect resets it.)
  const int no = 0;
  setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &no, sizeof(no));
  *started = uv_hrtime();
  int rc;
  do {
    rc = connect(fd, &target.to.sa, target.to_len);
  } while (rc != 0 && errno == EINTR);
  *connected = rc == 0;
  if (rc != 0 && errno != EINPROGRESS) {
    const int err = errno;
    Recycle(fd, *pool);
    return -err;
  }
  return fd;
}

int TcpConnector::Begin(Napi::Env env, uint32_t id, const Target& target) {
  if (epoll_fd_ < 0) {
    ThrowErrno(env, EBADF, "connect", "the TCP connector is closed");
    return INT32_MIN;
  }
  if (probes_.Find(id) != nullptr) {
    ThrowArgError(env, "start(): a check with this id is already in flight");
    return INT32_MIN;
  }
  uint64_t started = 0;
  bool connected = false;
  uint16_t pool = 0;
  const int fd = Open(target, &pool, &started, &connected);
  if (fd < 0) return -fd;
  if (!target.http) {
    if (connected) {
      Recycle(fd, pool);
      return -1;
    }
    Watch(id, fd, pool, started, target.timeout_ms, nullptr);
    return 0;
  }
  // A connect that finished at once still reports EPOLLOUT: one path for both.
  Watch(id, fd, pool, started, target.timeout_ms, std::make_unique<HttpProbe>(target.http));
  return 0;
}


void TcpConnector::Watch(uint32_t id, int fd, uint16_t pool, uint64_t started, double timeout_ms,
                         std::unique_ptr<HttpProbe> http) {
  fd_ids_[static_cast<size_t>(fd)] = id;
  const uint64_t deadline = started + static_cast<uint64_t>(timeout_ms * 1e6);
  if (http) http->grace_left_ns = static_cast<uint64_t>(timeout_ms * 1e6);
  probes_.Put(id, Probe{fd, pool, started, deadline, std::move(http)});
  deadlines_.push(Deadline{deadline, id, fd});
  if (timer_at_ns_ == 0 || deadline < timer_at_ns_) ArmTimer();
  UpdateRef();
}

namespace {
Napi::Value Code(Napi::Env env, int code) {
  return code == INT32_MIN ? env.Undefined() : Napi::Number::New(env, code);
}
}  // namespace

// start(id, address, port, sourceAddress | null, timeoutMs) → 0 (in flight; one result will
// follow), -1 (connected at once: already closed, no result follows), or an errno (failed at once).
Napi::Value TcpConnector::Start(const Napi::CallbackInfo& info) {
  Target target;
  if (!ParseTarget(info,
                   "start(id: uint32, address: string, port: number, source: string | null, "
                   "timeoutMs: number)",
                   &target)) {
    return info.Env().Undefined();
  }
  return Code(info.Env(), Begin(info.Env(), info[0].As<Napi::Number>().Uint32Value(), target));
}

constexpr const char* kHttpUsage =
    "(id: uint32, address: string, port: number, source: string | null, timeoutMs: number, "
    "request: Uint8Array, statusRanges: Int32Array, digest: Uint8Array (16 bytes) | null)";

// startHttp(id, address, port, source | null, timeoutMs, request: Uint8Array,
//           statusRanges: Int32Array (min, max pairs), digest: Uint8Array (16) | null)
// → 0 (in flight; one result will follow) or an errno (failed at once, no result follows).
Napi::Value TcpConnector::StartHttp(const Napi::CallbackInfo& info) {
  const std::string usage = std::string("startHttp") + kHttpUsage;
  Target target;
  target.http = ParseHttp(info, usage.c_str());
  if (!target.http || !ParseTarget(info, usage.c_str(), &target)) return info.Env().Undefined();
  return Code(info.Env(), Begin(info.Env(), info[0].As<Napi::Number>().Uint32Value(), target));
}

// The tail of register() and registerHttp(): keeps a parsed target under the id in info[0]
// (ParseTarget checked it is a number), replacing an earlier one.
Napi::Value TcpConnector::KeepTarget(const Napi::CallbackInfo& info, const char* method,
                                     Target&& target) {
  const uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id >= ProbeTable::kDenseIds) {
    ThrowArgError(info.Env(), std::string(method) + "(): id too large");
    return info.Env().Undefined();
  }
  if (targets_.size() <= id) targets_.resize(id + 1);
  targets_[id] = std::move(target);
  return info.Env().Undefined();
}

// register(id, address, port, source | null, timeoutMs): the target of later run(id) calls, parsed
// once (a daemon checks the same real servers every interval). Replaces an earlier registration.
Napi::Value TcpConnector::Register(const Napi::CallbackInfo& info) {
  Target target;
  if (!ParseTarget(info,
                   "register(id: uint32, address: string, port: number, source: string | null, "
                   "timeoutMs: number)",
                   &target)) {
    return info.Env().Undefined();
  }
  return KeepTarget(info, "register", std::move(target));
}

// registerHttp(id, address, port, source | null, timeoutMs, request, statusRanges, digest | null).
Napi::Value TcpConnector::RegisterHttp(const Napi::CallbackInfo& info) {
  const std::string usage = std::string("registerHttp") + kHttpUsage;
  Target target;
  target.http = ParseHttp(info, usage.c_str());
  if (!target.http || !ParseTarget(info, usage.c_str(), &target)) return info.Env().Undefined();
  return KeepTarget(info, "registerHttp", std::move(target));
}

// unregister(id): forgets the target (a check of it in flight runs on; cancel() stops it).
Napi::Value TcpConnector::Unregister(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowArgError(info.Env(), "unregister(id: uint32)");
    return info.Env().Undefined();
  }
  const uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id < targets_.size()) targets_[id] = Target{};
  return info.Env().Undefined();
}

// run(id) → as start()/startHttp() with the registered target's parameters. The per-check call:
// one integer argument, nothing to parse.
Napi::Value TcpConnector::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = UINT32_MAX;
  if (info.Length() >= 1) napi_get_value_uint32(env, info[0], &id);
  if (id >= targets_.size() || targets_[id].to_len == 0) {
    ThrowArgError(env, "run(id: uint32): no target registered under this id");
    return env.Undefined();
  }
  return Code(env, Begin(env, id, targets_[id]));
}

// cancel(id) → whether a check was in flight; its socket is closed and no result follows.
Napi::Value TcpConnector::Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowArgError(env, "cancel(id: uint32)");
    return env.Undefined();
  }
  const uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  Probe* probe = probes_.Find(id);
  if (probe == nullptr) return Napi::Boolean::New(env, false);
  // A connection that was made is reset; one still being made is dropped.
  Recycle(probe->fd, probe->pool);
  probes_.Erase(id);
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
  probes_.ForEach([](Probe& probe) { ::close(probe.fd); });
  probes_.Clear();
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
    const Probe* probe = probes_.Find(top.id);
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

void TcpConnector::Push(uint32_t id, double code, double latency_ms, double detail,
                        const uint8_t* digest) {
  if (results_ == nullptr) return;
  double* slot = results_ + count_ * kStride;
  slot[0] = id;
  slot[1] = code;
  slot[2] = latency_ms;
  slot[3] = detail;
  if (digest != nullptr)
    for (int i = 0; i < 4; i++)
      slot[4 + i] = static_cast<double>(static_cast<uint32_t>(digest[i * 4]) << 24 |
                                        static_cast<uint32_t>(digest[i * 4 + 1]) << 16 |
                                        static_cast<uint32_t>(digest[i * 4 + 2]) << 8 |
                                        static_cast<uint32_t>(digest[i * 4 + 3]));
  if (++count_ == capacity_) Flush();
}

void TcpConnector::FinishHttp(uint32_t id, Probe& probe, double code, uint64_t now) {
  HttpProbe& http = *probe.http;
  // A connection that got as far as connected is reset: no FIN exchange, no TIME_WAIT.
  Recycle(probe.fd, probe.pool);
  double detail = 0;
  const uint8_t* digest = nullptr;
  if (code == kTimeoutCode) detail = static_cast<double>(http.phase);
  else if (code == kHttpOk || code == kHttpStatusMismatch || code == kHttpDigestMismatch)
    detail = http.reader.status();
  if (code == kHttpDigestMismatch) digest = http.reader.digest();
  Push(id, code, Milliseconds(now - probe.started_ns), detail, digest);
}

bool TcpConnector::StepHttp(uint32_t id, Probe& probe, uint32_t events, uint64_t now) {
  HttpProbe& http = *probe.http;
  if (http.phase == HttpPhase::kConnecting) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return false;
    int err = 0;
    if ((events & (EPOLLERR | EPOLLHUP)) != 0 || (events & EPOLLOUT) == 0) {
      socklen_t len = sizeof(err);
      if (getsockopt(probe.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == 0 && (events & EPOLLOUT) == 0) err = ECONNRESET;
    }
    if (err != 0) {
      FinishHttp(id, probe, err, now);
      return true;
    }
    http.phase = HttpPhase::kWaiting;
  }
  const std::string& request = http.spec->request;
  while (http.written < request.size()) {
    const ssize_t n = send(probe.fd, request.data() + http.written, request.size() - http.written,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      http.written += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;  // the next EPOLLOUT edge brings the rest
    } else {
      FinishHttp(id, probe, n < 0 ? errno : EPIPE, now);
      return true;
    }
  }
  // Edge-triggered: read until the kernel has nothing more.
  char buffer[16384];
  for (;;) {
    const ssize_t n = recv(probe.fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n > 0) {
      http.reader.Push(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      http.reader.Eof();
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return false;
    } else {
      FinishHttp(id, probe, errno, now);
      return true;
    }
    if (http.reader.in_body()) http.phase = HttpPhase::kBody;
    if (http.reader.done()) {
      FinishHttp(id, probe, http.reader.code(), now);
      return true;
    }
  }
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
    // JavaScript runs (Flush) only between batches of events, never in the middle of one: a check
    // it cancelled or started there could hand a socket whose event is still in `events` to
    // another check, which would then get the earlier check's verdict. Each event gives at most
    // one result, so a batch no larger than the room left never fills the buffer before its end.
    if (count_ == capacity_) Flush();
    if (epoll_fd_ < 0 || results_ == nullptr) return;
    const int room = static_cast<int>(std::min<size_t>(kMaxEvents, capacity_ - count_));
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
      Probe* found = probes_.Find(id);
      if (found == nullptr || found->fd != fd) continue;
      const uint32_t ev = events[i].events;
      if (found->http) {
        if (StepHttp(id, *found, ev, now)) probes_.Erase(id);
        continue;
      }
      // Writable without an error: connected (a failed connect always brings EPOLLERR), so the
      // error needs no system call of its own. Neither: not done yet.
      int err = 0;
      if ((ev & (EPOLLERR | EPOLLHUP)) != 0) {
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err == 0) err = ECONNRESET;
      } else if ((ev & EPOLLOUT) == 0) {
        continue;
      }
      const Probe probe = std::move(*found);
      probes_.Erase(id);
      Recycle(probe.fd, probe.pool);
      Push(id, err, Milliseconds(now - probe.started_ns));
    }
    if (n < room) return;
  }
}

void TcpConnector::Expire() {
  const uint64_t now = uv_hrtime();
  while (!deadlines_.empty() && deadlines_.top().at_ns <= now) {
    const Deadline d = deadlines_.top();
    deadlines_.pop();
    Probe* found = probes_.Find(d.id);
    if (found == nullptr || found->fd != d.fd || found->deadline_ns != d.at_ns) continue;
    if (found->http) {
      HttpProbe& http = *found->http;
      const uint64_t late = now - d.at_ns;
      const uint64_t grace = std::min(late, http.grace_left_ns);
      if (grace >= kStallNs) {
        http.grace_left_ns -= grace;
        found->deadline_ns = now + grace;
        deadlines_.push(Deadline{now + grace, d.id, d.fd});
        continue;
      }
      FinishHttp(d.id, *found, kTimeoutCode, now);
      probes_.Erase(d.id);
      continue;
    }
    const Probe probe = std::move(*found);
    probes_.Erase(d.id);
    Recycle(probe.fd, probe.pool);
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
