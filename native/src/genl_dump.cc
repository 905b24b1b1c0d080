// genlDumpEach(spec): a two-level generic netlink dump on a libuv worker thread, returned as one
// buffer of the kernel's messages. Made for the IPVS table: dump the services, then the
// destinations of each service (the kernel has no dump of all destinations at once).
//
// Why native: dumping 1,000 services' destinations is 1,000 dump requests, each a round trip of one
// send and two receives. Through a JavaScript netlink socket every datagram is an event-loop turn
// and a callback; here the thread runs the round trips back to back, and the event loop (parsing
// the config of `ipvsctl apply`, say) runs in parallel. JavaScript then decodes the messages from
// the one buffer it gets (src/ipvs/table-dump.ts).
//
// Steps, all on one NETLINK_GENERIC socket opened for this call:
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

#include <string>
#include <utility>
#include <vector>

#include "errno_error.h"
#include "genl_dump.h"

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
  uint32_t dumps = 0;
  std::vector<uint8_t> messages;
};

// A failed system call: errno and its name for the message.
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

class DumpWalker {
 public:
  explicit DumpWalker(const DumpSpec& spec) : spec_(spec), buf_(kReceiveBuffer) {}
  ~DumpWalker() {
    if (fd_ >= 0) close(fd_);
  }

  bool Run(DumpResult* out, Failure* fail) {
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    if (fd_ < 0) return Fail(fail, "socket");
    // Dumps never overrun a receive buffer (the kernel fills the next datagram only when this
    // one is read), so the default size does.
    sockaddr_nl local = {};
    local.nl_family = AF_NETLINK;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) < 0) return Fail(fail, "bind");

    if (!ResolveFamily(out, fail)) return false;

    // Level 1: the list. Its replies' key attributes are copied out before the next receive
    // reuses the buffer.
    std::vector<std::vector<uint8_t>> keys;
    std::vector<bool> has_key;
    bool refused = false;
    if (!Dump(out->family_id, spec_.list_cmd, spec_.seq, nullptr, 0, out, &refused, fail,
              [&](const nlmsghdr* h) {
                const size_t hdr = NLMSG_HDRLEN + GENL_HDRLEN;
                const nlattr* key = nullptr;
                if (h->nlmsg_len >= hdr) {
                  const uint8_t* attrs = reinterpret_cast<const uint8_t*>(h) + hdr;
                  key = FindAttr(attrs, h->nlmsg_len - hdr, spec_.key_attr);
                }
                has_key.push_back(key != nullptr);
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
      if (!has_key[i]) continue;
      const uint32_t seq = spec_.seq + 1 + static_cast<uint32_t>(i);
      if (!Dump(out->family_id, spec_.each_cmd, seq, keys[i].data(), keys[i].size(), out, &refused,
                fail, [](const nlmsghdr*) {}))
        return false;
      if (refused) return true;
    }
    return true;
  }

 private:
  bool Fail(Failure* fail, const char* syscall, int err = 0, std::string detail = "") {
    fail->err = err != 0 ? err : errno;
    fail->syscall = syscall;
    fail->detail = std::move(detail);
    return false;
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
    h->nlmsg_pid = 0;
    genlmsghdr* g = reinterpret_cast<genlmsghdr*>(msg.data() + NLMSG_HDRLEN);
    g->cmd = cmd;
    g->version = version;
    if (attr_len > 0) memcpy(msg.data() + NLMSG_HDRLEN + GENL_HDRLEN, attr, attr_len);
    sockaddr_nl kernel = {};
    kernel.nl_family = AF_NETLINK;
    for (;;) {
      const ssize_t n = sendto(fd_, msg.data(), len, 0, reinterpret_cast<sockaddr*>(&kernel),
                               sizeof(kernel));
      if (n >= 0) return true;
      if (errno != EINTR) return Fail(fail, "sendto");
    }
  }

  // Waits for and reads one datagram; returns its length, or -1 with `fail` set.
  ssize_t Receive(Failure* fail) {
    for (;;) {
      pollfd p = {fd_, POLLIN, 0};
      const int ready = poll(&p, 1, spec_.timeout_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) {
        Fail(fail, "poll");
        return -1;
      }
      if (ready == 0) {
        Fail(fail, "recvmsg", ETIMEDOUT,
             "no reply from the kernel within " + std::to_string(spec_.timeout_ms) + " ms");
        return -1;
      }
      iovec iov = {buf_.data(), buf_.size()};
      msghdr mh = {};
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      const ssize_t n = recvmsg(fd_, &mh, MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) {
        Fail(fail, "recvmsg");
        return -1;
      }
      if (mh.msg_flags & MSG_TRUNC) {
        Fail(fail, "recvmsg", EMSGSIZE, "a netlink datagram did not fit the receive buffer");
        return -1;
      }
      return n;
    }
  }

  // A dump of `cmd` (seq `seq`, optional attribute): appends every message of that sequence
  // number to out->messages and calls on_reply for each reply. `*refused` when the kernel
  // answered with an error. Messages of other sequence numbers are not ours: skipped.
  template <typename OnReply>
  bool Dump(uint16_t family, uint8_t cmd, uint32_t seq, const uint8_t* attr, size_t attr_len,
            DumpResult* out, bool* refused, Failure* fail, OnReply on_reply) {
    if (!Send(family, NLM_F_REQUEST | NLM_F_DUMP, cmd, spec_.version, seq, attr, attr_len, fail))
      return false;
    out->dumps++;
    for (;;) {
      const ssize_t n = Receive(fail);
      if (n < 0) return false;
      int left = static_cast<int>(n);
      for (nlmsghdr* h = reinterpret_cast<nlmsghdr*>(buf_.data()); NLMSG_OK(h, left);
           h = NLMSG_NEXT(h, left)) {
        if (h->nlmsg_seq != seq) continue;
        const uint8_t* raw = reinterpret_cast<const uint8_t*>(h);
        out->messages.insert(out->messages.end(), raw, raw + h->nlmsg_len);
        out->messages.resize(Align(out->messages.size()), 0);
        if (h->nlmsg_type == NLMSG_ERROR) {
          const nlmsgerr* e = reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(h));
          *refused = h->nlmsg_len < NLMSG_LENGTH(sizeof(int)) || e->error != 0;
          return true;
        }
        if (h->nlmsg_type == NLMSG_DONE) {
          int status = 0;
          if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) memcpy(&status, NLMSG_DATA(h), sizeof(int));
          *refused = status < 0;
          return true;
        }
        if (h->nlmsg_type == family) on_reply(h);
      }
    }
  }

  bool ResolveFamily(DumpResult* out, Failure* fail) {
    // CTRL_ATTR_FAMILY_NAME, NUL-terminated.
    const size_t name_len = spec_.family_name.size() + 1;
    std::vector<uint8_t> attr(NLA_HDRLEN + name_len, 0);
    nlattr* a = reinterpret_cast<nlattr*>(attr.data());
    a->nla_len = static_cast<uint16_t>(attr.size());
    a->nla_type = CTRL_ATTR_FAMILY_NAME;
    memcpy(attr.data() + NLA_HDRLEN, spec_.family_name.c_str(), name_len);
    const uint32_t seq = spec_.seq - 1;
    if (!Send(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, CTRL_CMD_GETFAMILY, 1, seq, attr.data(),
              attr.size(), fail))
      return false;
    bool found = false;
    for (;;) {
      const ssize_t n = Receive(fail);
      if (n < 0) return false;
      int left = static_cast<int>(n);
      for (nlmsghdr* h = reinterpret_cast<nlmsghdr*>(buf_.data()); NLMSG_OK(h, left);
           h = NLMSG_NEXT(h, left)) {
        if (h->nlmsg_seq != seq) continue;
        if (h->nlmsg_type == NLMSG_ERROR) {
          const nlmsgerr* e = reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(h));
          if (h->nlmsg_len < NLMSG_LENGTH(sizeof(int)))
            return Fail(fail, "CTRL_CMD_GETFAMILY", EPROTO, "truncated reply");
          if (e->error != 0)
            return Fail(fail, "CTRL_CMD_GETFAMILY", -e->error,
                        "generic netlink family " + spec_.family_name);
          if (!found)
            return Fail(fail, "CTRL_CMD_GETFAMILY", EPROTO,
                        "generic netlink family " + spec_.family_name + ": malformed reply");
          return true;  // the ACK after the reply
        }
        if (h->nlmsg_type != GENL_ID_CTRL || h->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN) continue;
        const uint8_t* attrs = reinterpret_cast<const uint8_t*>(h) + NLMSG_HDRLEN + GENL_HDRLEN;
        const size_t attrs_len = h->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
        const nlattr* id = FindAttr(attrs, attrs_len, CTRL_ATTR_FAMILY_ID);
        const nlattr* version = FindAttr(attrs, attrs_len, CTRL_ATTR_VERSION);
        if (id == nullptr || id->nla_len < NLA_HDRLEN + sizeof(uint16_t)) continue;
        memcpy(&out->family_id, reinterpret_cast<const uint8_t*>(id) + NLA_HDRLEN, sizeof(uint16_t));
        out->family_version = 1;
        if (version != nullptr && version->nla_len >= NLA_HDRLEN + sizeof(uint32_t))
          memcpy(&out->family_version, reinterpret_cast<const uint8_t*>(version) + NLA_HDRLEN,
                 sizeof(uint32_t));
        found = true;
      }
    }
  }

  const DumpSpec& spec_;
  std::vector<uint8_t> buf_;
  int fd_ = -1;
};

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
    out.Set("dumps", Napi::Number::New(env, result_.dumps));
    out.Set("messages",
            Napi::Buffer<uint8_t>::Copy(env, result_.messages.data(), result_.messages.size()));
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error&) override {
    napi_value error = CreateErrnoError(Env(), failure_.err, failure_.syscall, failure_.detail);
    if (error != nullptr) deferred_.Reject(error);
  }

 private:
  DumpSpec spec_;
  Napi::Promise::Deferred deferred_;
  DumpResult result_;
  Failure failure_;
};

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

void RegisterGenlDump(Napi::Env env, Napi::Object exports) {
  exports.Set("genlDumpEach", Napi::Function::New(env, GenlDumpEach, "genlDumpEach"));
}

}  // namespace ipvsd
