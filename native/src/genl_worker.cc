// Generic netlink on libuv worker threads, for the IPVS table of `ipvsctl apply` and `list`:
//
// - genlDumpEach(spec): a two-level dump returned as one buffer of the kernel's messages. Made for
//   the IPVS table: dump the services, then the destinations of each service (the kernel has no
//   dump of all destinations at once).
// - GenlBatchSocket: sends chunks of requests (many messages per sendmsg, the last asking for an
//   ACK) and collects the errors the kernel answers with, one chunk at a time.
//
// Why native: reading 1,000 services' destinations is 1,000 dump requests, each a round trip of one
// send and two receives. Through a JavaScript netlink socket every datagram is an event-loop turn
// and a callback; here a thread runs the round trips back to back while the event loop runs in
// parallel: `ipvsctl apply` parses its config during the dump, and encodes the next chunk of
// requests while the kernel executes the previous one. JavaScript builds every request and decodes
// every reply (src/sys/genl-dump.ts, src/sys/genl-batch.ts); this file only moves bytes.
//
// genlDumpEach, all on one NETLINK_GENERIC socket opened for the call:
//   1. resolve `familyName` (a non-dump CTRL_CMD_GETFAMILY, the path that autoloads the module);
//   2. dump `listCmd` with sequence number `seq`;
//   3. for the i-th reply of that dump, dump `eachCmd` with sequence number seq + 1 + i, sending
//      the reply's top-level attribute `keyAttr` as it came (for IPVS: the service, whose address,
//      port and protocol or fwmark name it to the kernel).
// The result holds every message the kernel sent for these requests, in order: replies, the
// NLMSG_DONE of each dump and any NLMSG_ERROR. A dump the kernel refuses (NLMSG_ERROR, or a DONE
// carrying an error) ends the walk there; the caller finds the error in the messages.
// System call failures (socket, a send, a receive timeout, a truncated datagram) reject the
// promise with an errno error instead.
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "errno_error.h"
#include "genl_worker.h"

namespace ipvsd {
namespace {

struct DumpSpec {
  std::string family_name;
  uint8_t version = 1;
  uint8_t list_cmd = 0;
  uint8_t each_cmd = 0;
  uint16_t key_attr = 0;
  uint32_t seq = 1;
  int timeout_ms = 15000;
};

struct DumpResult {
  uint16_t family_id = 0;
  uint32_t family_version = 0;
  std::vector<uint8_t> messages;
};

// A failed system call: errno, the call, and words for the message.
struct Failure {
  int err = 0;
  const char* syscall = "";
  std::string detail;
};

constexpr size_t kReceiveBuffer = 256 * 1024;

size_t Align(size_t n) { return NLMSG_ALIGN(n); }

// The attribute of type `type` among the attributes in [data, data + len), or nullptr.
const nlattr* FindAttr(const uint8_t* data, size_t len, uint16_t type) {
  size_t off = 0;
  while (off + NLA_HDRLEN <= len) {
    const nlattr* a = reinterpret_cast<const nlattr*>(data + off);
    if (a->nla_len < NLA_HDRLEN || off + a->nla_len > len) return nullptr;
    if ((a->nla_type & NLA_TYPE_MASK) == type) return a;
    off += NLA_ALIGN(a->nla_len);
  }
  return nullptr;
}

// The errno of an NLMSG_ERROR message (positive; 0 for an ACK), or EPROTO when truncated.
int ErrorOf(const nlmsghdr* h) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(int))) return EPROTO;
  int error = 0;
  memcpy(&error, NLMSG_DATA(h), sizeof(int));
  return -error;
}

bool SetFailure(Failure* fail, const char* syscall, int err, std::string detail = "") {
  fail->err = err;
  fail->syscall = syscall;
  fail->detail = std::move(detail);
  return false;
}

// One NETLINK_GENERIC socket with blocking, timed receives: what both features share. Used by one
// thread at a time.
class GenlChannel {
 public:
  explicit GenlChannel(int timeout_ms) : timeout_ms_(timeout_ms), buf_(kReceiveBuffer) {}
  ~GenlChannel() { Close(); }
  GenlChannel(const GenlChannel&) = delete;
  GenlChannel& operator=(const GenlChannel&) = delete;

  bool Open(Failure* fail) {
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    if (fd_ < 0) return SetFailure(fail, "socket", errno);
    sockaddr_nl local = {};
    local.nl_family = AF_NETLINK;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) < 0)
      return SetFailure(fail, "bind", errno);
    return true;
  }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  bool SendRaw(const uint8_t* data, size_t len, Failure* fail) {
    sockaddr_nl kernel = {};
    kernel.nl_family = AF_NETLINK;
    for (;;) {
      const ssize_t n =
          sendto(fd_, data, len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel));
      if (n >= 0) return true;
      if (errno != EINTR) return SetFailure(fail, "sendto", errno);
    }
  }

  // Sends one request: nlmsghdr + genlmsghdr + `attr` (a whole attribute, or none).
  bool Send(uint16_t type, uint16_t flags, uint8_t cmd, uint8_t version, uint32_t seq,
            const uint8_t* attr, size_t attr_len, Failure* fail) {
    const size_t len = NLMSG_HDRLEN + GENL_HDRLEN + Align(attr_len);
    std::vector<uint8_t> msg(len, 0);
    nlmsghdr* h = reinterpret_cast<nlmsghdr*>(msg.data());
    h->nlmsg_len = static_cast<uint32_t>(len);
    h->nlmsg_type = type;
    h->nlmsg_flags = flags;
    h->nlmsg_seq = seq;
    genlmsghdr* g = reinterpret_cast<genlmsghdr*>(msg.data() + NLMSG_HDRLEN);
    g->cmd = cmd;
    g->version = version;
    if (attr_len > 0) memcpy(msg.data() + NLMSG_HDRLEN + GENL_HDRLEN, attr, attr_len);
    return SendRaw(msg.data(), len, fail);
  }

  // Waits for one datagram (at most the timeout) and calls on_message(h) for each of its
  // messages until that returns false. Returns false on a failure, with `fail` set.
  template <typename OnMessage>
  bool ReceiveOne(Failure* fail, OnMessage on_message) {
    for (;;) {
      pollfd p = {fd_, POLLIN, 0};
      const int ready = poll(&p, 1, timeout_ms_);
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return SetFailure(fail, "poll", errno);
      if (ready == 0)
        return SetFailure(fail, "recvmsg", ETIMEDOUT,
                          "no reply from the kernel within " + std::to_string(timeout_ms_) + " ms");
      iovec iov = {buf_.data(), buf_.size()};
      msghdr mh = {};
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      const ssize_t n = recvmsg(fd_, &mh, MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      // ENOBUFS: the kernel dropped replies; nothing pending can be trusted.
      if (n < 0) return SetFailure(fail, "recvmsg", errno);
      if (mh.msg_flags & MSG_TRUNC)
        return SetFailure(fail, "recvmsg", EMSGSIZE, "a netlink datagram did not fit the buffer");
      int left = static_cast<int>(n);
      for (nlmsghdr* h = reinterpret_cast<nlmsghdr*>(buf_.data()); NLMSG_OK(h, left);
           h = NLMSG_NEXT(h, left))
        if (!on_message(h)) break;
      return true;
    }
  }

  // The id and version of a generic netlink family, by name (seq: the request's number).
  bool ResolveFamily(const std::string& name, uint32_t seq, uint16_t* id, uint32_t* version,
                     Failure* fail) {
    const size_t name_len = name.size() + 1;  // NUL-terminated
    std::vector<uint8_t> attr(NLA_HDRLEN + name_len, 0);
    nlattr* a = reinterpret_cast<nlattr*>(attr.data());
    a->nla_len = static_cast<uint16_t>(attr.size());
    a->nla_type = CTRL_ATTR_FAMILY_NAME;
    memcpy(attr.data() + NLA_HDRLEN, name.c_str(), name_len);
    if (!Send(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, CTRL_CMD_GETFAMILY, 1, seq, attr.data(),
              attr.size(), fail))
      return false;
    bool found = false;
    int refused = -1;  // set by the ACK (0) or the error that ends the exchange
    while (refused < 0) {
      const bool ok = ReceiveOne(fail, [&](const nlmsghdr* h) {
        if (h->nlmsg_seq != seq) return true;
        if (h->nlmsg_type == NLMSG_ERROR) {
          refused = ErrorOf(h);
          return false;
        }
        if (h->nlmsg_type != GENL_ID_CTRL || h->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN) return true;
        const uint8_t* attrs = reinterpret_cast<const uint8_t*>(h) + NLMSG_HDRLEN + GENL_HDRLEN;
        const size_t attrs_len = h->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
        const nlattr* id_attr = FindAttr(attrs, attrs_len, CTRL_ATTR_FAMILY_ID);
        const nlattr* version_attr = FindAttr(attrs, attrs_len, CTRL_ATTR_VERSION);
        if (id_attr == nullptr || id_attr->nla_len < NLA_HDRLEN + sizeof(uint16_t)) return true;
        memcpy(id, reinterpret_cast<const uint8_t*>(id_attr) + NLA_HDRLEN, sizeof(uint16_t));
        *version = 1;
        if (version_attr != nullptr && version_attr->nla_len >= NLA_HDRLEN + sizeof(uint32_t))
          memcpy(version, reinterpret_cast<const uint8_t*>(version_attr) + NLA_HDRLEN,
                 sizeof(uint32_t));
        found = true;
        return true;
      });
      if (!ok) return false;
    }
    const std::string what = "generic netlink family " + name;
    if (refused != 0) return SetFailure(fail, "CTRL_CMD_GETFAMILY", refused, what);
    if (!found) return SetFailure(fail, "CTRL_CMD_GETFAMILY", EPROTO, what + ": malformed reply");
    return true;
  }

 private:
  int fd_ = -1;
  int timeout_ms_;
  std::vector<uint8_t> buf_;
};

class DumpWalker {
 public:
  explicit DumpWalker(const DumpSpec& spec) : spec_(spec), channel_(spec.timeout_ms) {}

  bool Run(DumpResult* out, Failure* fail) {
    if (!channel_.Open(fail)) return false;
    if (!channel_.ResolveFamily(spec_.family_name, spec_.seq - 1, &out->family_id,
                                &out->family_version, fail))
      return false;

    // Level 1: the list. Its replies' key attributes are copied out before the next receive
    // reuses the buffer; a reply without one leaves an empty key (an attribute is never empty:
    // its header alone is 4 bytes).
    std::vector<std::vector<uint8_t>> keys;
    bool refused = false;
    if (!Dump(out->family_id, spec_.list_cmd, spec_.seq, nullptr, 0, out, &refused, fail,
              [&](const nlmsghdr* h) {
                const size_t hdr = NLMSG_HDRLEN + GENL_HDRLEN;
                const nlattr* key = nullptr;
                if (h->nlmsg_len >= hdr) {
                  const uint8_t* attrs = reinterpret_cast<const uint8_t*>(h) + hdr;
                  key = FindAttr(attrs, h->nlmsg_len - hdr, spec_.key_attr);
                }
                keys.emplace_back();
                if (key != nullptr) {
                  const uint8_t* k = reinterpret_cast<const uint8_t*>(key);
                  keys.back().assign(k, k + key->nla_len);
                }
              }))
      return false;
    if (refused) return true;

    // Level 2: one dump per reply, in reply order.
    for (size_t i = 0; i < keys.size(); i++) {
      if (keys[i].empty()) continue;
      const uint32_t seq = spec_.seq + 1 + static_cast<uint32_t>(i);
      if (!Dump(out->family_id, spec_.each_cmd, seq, keys[i].data(), keys[i].size(), out, &refused,
                fail, [](const nlmsghdr*) {}))
        return false;
      if (refused) return true;
    }
    return true;
  }

 private:
  // A dump of `cmd` (seq `seq`, optional attribute): appends every message of that sequence
  // number to out->messages and calls on_reply for each reply. `*refused` when the kernel
  // answered with an error. Messages of other sequence numbers are not ours: skipped.
  template <typename OnReply>
  bool Dump(uint16_t family, uint8_t cmd, uint32_t seq, const uint8_t* attr, size_t attr_len,
            DumpResult* out, bool* refused, Failure* fail, OnReply on_reply) {
    if (!channel_.Send(family, NLM_F_REQUEST | NLM_F_DUMP, cmd, spec_.version, seq, attr, attr_len,
                       fail))
      return false;
    bool done = false;
    while (!done) {
      const bool ok = channel_.ReceiveOne(fail, [&](const nlmsghdr* h) {
        if (h->nlmsg_seq != seq) return true;
        const uint8_t* raw = reinterpret_cast<const uint8_t*>(h);
        out->messages.insert(out->messages.end(), raw, raw + h->nlmsg_len);
        out->messages.resize(Align(out->messages.size()), 0);
        if (h->nlmsg_type == NLMSG_ERROR) {
          *refused = ErrorOf(h) != 0;
          done = true;
          return false;
        }
        if (h->nlmsg_type == NLMSG_DONE) {
          int status = 0;
          if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) memcpy(&status, NLMSG_DATA(h), sizeof(int));
          *refused = status < 0;
          done = true;
          return false;
        }
        if (h->nlmsg_type == family) on_reply(h);
        return true;
      });
      if (!ok) return false;
    }
    return true;
  }

  const DumpSpec& spec_;
  GenlChannel channel_;
};

// Rejects a deferred with the failure as an errno error (if the environment can still make one).
void RejectWith(Napi::Env env, Napi::Promise::Deferred& deferred, const Failure& failure) {
  napi_value error = CreateErrnoError(env, failure.err, failure.syscall, failure.detail);
  if (error != nullptr) deferred.Reject(error);
}

class DumpWorker : public Napi::AsyncWorker {
 public:
  DumpWorker(Napi::Env env, DumpSpec spec)
      : Napi::AsyncWorker(env, "ipvsd:genlDumpEach"), spec_(std::move(spec)), deferred_(env) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    DumpWalker walker(spec_);
    if (!walker.Run(&result_, &failure_)) SetError(failure_.syscall);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("familyId", Napi::Number::New(env, result_.family_id));
    out.Set("familyVersion", Napi::Number::New(env, result_.family_version));
    out.Set("messages",
            Napi::Buffer<uint8_t>::Copy(env, result_.messages.data(), result_.messages.size()));
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error&) override { RejectWith(Env(), deferred_, failure_); }

 private:
  DumpSpec spec_;
  Napi::Promise::Deferred deferred_;
  DumpResult result_;
  Failure failure_;
};

// GenlBatchSocket(familyName, timeoutMs): a socket for chunks of requests. The constructor opens
// it and resolves the family (one blocking round trip: only a batch command makes one).
// send(chunk, lastSeq) runs on a worker thread: one sendmsg of every message in `chunk` (JavaScript
// sets NLM_F_ACK on the last, whose sequence number is `lastSeq`), then reads replies until
// lastSeq's; resolves with an Int32Array of [seq, errno] pairs, one per refused request (the ACK of
// the last is not listed). One send at a time: a second while one runs rejects with EBUSY.
class GenlBatchSocket : public Napi::ObjectWrap<GenlBatchSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "GenlBatchSocket",
                       {InstanceMethod<&GenlBatchSocket::Send>("send"),
                        InstanceMethod<&GenlBatchSocket::Close>("close"),
                        InstanceAccessor<&GenlBatchSocket::FamilyId>("familyId"),
                        InstanceAccessor<&GenlBatchSocket::FamilyVersion>("familyVersion")});
  }

  explicit GenlBatchSocket(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<GenlBatchSocket>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) {
      ThrowArgError(env, "new GenlBatchSocket(familyName: string, timeoutMs: number)");
      return;
    }
    const double timeout = info[1].As<Napi::Number>().DoubleValue();
    if (!(timeout >= 1 && timeout <= 3600 * 1000)) {
      ThrowArgError(env, "GenlBatchSocket: timeoutMs must be 1 to 3600000");
      return;
    }
    channel_ = std::make_unique<GenlChannel>(static_cast<int>(timeout));
    Failure fail;
    if (!channel_->Open(&fail) ||
        !channel_->ResolveFamily(info[0].As<Napi::String>().Utf8Value(), 1, &family_id_,
                                 &family_version_, &fail)) {
      channel_.reset();
      ThrowErrno(env, fail.err, fail.syscall, fail.detail);
    }
  }

  // Called by the worker's completion (main thread).
  void Finished() {
    busy_ = false;
    if (closing_) channel_.reset();
  }

 private:
  class SendWorker;

  Napi::Value FamilyId(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), family_id_);
  }
  Napi::Value FamilyVersion(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), family_version_);
  }

  Napi::Value Send(const Napi::CallbackInfo& info);

  Napi::Value Close(const Napi::CallbackInfo& info) {
    // A send in flight keeps the socket until it ends; no promise is left hanging.
    if (busy_) closing_ = true;
    else channel_.reset();
    return info.Env().Undefined();
  }

  std::unique_ptr<GenlChannel> channel_;
  uint16_t family_id_ = 0;
  uint32_t family_version_ = 0;
  bool busy_ = false;
  bool closing_ = false;
};

class GenlBatchSocket::SendWorker : public Napi::AsyncWorker {
 public:
  SendWorker(Napi::Env env, GenlBatchSocket* owner, Napi::Object self, const uint8_t* data,
             size_t len, uint32_t last_seq)
      : Napi::AsyncWorker(env, "ipvsd:GenlBatchSocket.send"),
        owner_(owner),
        self_(Napi::Persistent(self)),
        chunk_(data, data + len),
        last_seq_(last_seq),
        deferred_(env) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    GenlChannel& channel = *owner_->channel_;
    if (!channel.SendRaw(chunk_.data(), chunk_.size(), &failure_)) {
      SetError(failure_.syscall);
      return;
    }
    bool done = false;
    while (!done) {
      const bool ok = channel.ReceiveOne(&failure_, [&](const nlmsghdr* h) {
        if (h->nlmsg_type != NLMSG_ERROR) return true;  // a batch of commands has no other replies
        const int err = ErrorOf(h);
        if (h->nlmsg_seq == last_seq_) done = true;
        if (err != 0 || h->nlmsg_seq != last_seq_) {
          errors_.push_back(static_cast<int32_t>(h->nlmsg_seq));
          errors_.push_back(err);
        }
        return !done;
      });
      if (!ok) {
        SetError(failure_.syscall);
        return;
      }
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    owner_->Finished();
    Napi::Int32Array out = Napi::Int32Array::New(env, errors_.size());
    if (!errors_.empty()) memcpy(out.Data(), errors_.data(), errors_.size() * sizeof(int32_t));
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error&) override {
    owner_->Finished();
    RejectWith(Env(), deferred_, failure_);
  }

 private:
  GenlBatchSocket* owner_;
  Napi::ObjectReference self_;  // keeps the socket object (and its channel) alive meanwhile
  std::vector<uint8_t> chunk_;
  uint32_t last_seq_;
  Napi::Promise::Deferred deferred_;
  std::vector<int32_t> errors_;
  Failure failure_;
};

Napi::Value GenlBatchSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsNumber()) {
    ThrowArgError(env, "send(chunk: Buffer, lastSeq: number)");
    return env.Undefined();
  }
  Napi::Promise::Deferred deferred(env);
  Failure fail;
  if (!channel_ || closing_) SetFailure(&fail, "sendto", EBADF, "the socket is closed");
  else if (busy_) SetFailure(&fail, "sendto", EBUSY, "a chunk is still in flight");
  if (fail.err != 0) {
    RejectWith(env, deferred, fail);
    return deferred.Promise();
  }
  const Napi::Buffer<uint8_t> chunk = info[0].As<Napi::Buffer<uint8_t>>();
  const uint32_t last_seq = info[1].As<Napi::Number>().Uint32Value();
  auto* worker =
      new SendWorker(env, this, info.This().As<Napi::Object>(), chunk.Data(), chunk.Length(), last_seq);
  busy_ = true;
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

bool ReadUint(const Napi::Object& o, const char* key, uint32_t max, uint32_t* value) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) return false;
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= max) || d != static_cast<double>(static_cast<uint32_t>(d))) return false;
  *value = static_cast<uint32_t>(d);
  return true;
}

Napi::Value GenlDumpEach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage =
      "genlDumpEach({ familyName: string, version, listCmd, eachCmd, keyAttr, seq, timeoutMs })";
  if (info.Length() < 1 || !info[0].IsObject()) {
    ThrowArgError(env, usage);
    return env.Undefined();
  }
  const Napi::Object o = info[0].As<Napi::Object>();
  DumpSpec spec;
  uint32_t version, list_cmd, each_cmd, key_attr, seq, timeout;
  const Napi::Value name = o.Get("familyName");
  if (!name.IsString() || !ReadUint(o, "version", 255, &version) ||
      !ReadUint(o, "listCmd", 255, &list_cmd) || !ReadUint(o, "eachCmd", 255, &each_cmd) ||
      !ReadUint(o, "keyAttr", NLA_TYPE_MASK, &key_attr) ||
      // seq - 1 resolves the family and seq + 1 + i numbers the second level: room on both sides.
      !ReadUint(o, "seq", 0x7fffffff, &seq) || seq == 0 ||
      !ReadUint(o, "timeoutMs", 3600 * 1000, &timeout) || timeout == 0) {
    ThrowArgError(env, usage);
    return env.Undefined();
  }
  spec.family_name = name.As<Napi::String>().Utf8Value();
  if (spec.family_name.empty() || spec.family_name.size() >= GENL_NAMSIZ) {
    ThrowArgError(env, "genlDumpEach: familyName must have 1 to 15 characters");
    return env.Undefined();
  }
  spec.version = static_cast<uint8_t>(version);
  spec.list_cmd = static_cast<uint8_t>(list_cmd);
  spec.each_cmd = static_cast<uint8_t>(each_cmd);
  spec.key_attr = static_cast<uint16_t>(key_attr);
  spec.seq = seq;
  spec.timeout_ms = static_cast<int>(timeout);
  DumpWorker* worker = new DumpWorker(env, std::move(spec));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

void RegisterGenlWorker(Napi::Env env, Napi::Object exports) {
  exports.Set("genlDumpEach", Napi::Function::New(env, GenlDumpEach, "genlDumpEach"));
  exports.Set("GenlBatchSocket", GenlBatchSocket::Define(env));
}

}  // namespace ipvsd
