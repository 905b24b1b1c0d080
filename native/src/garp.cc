// Address announcements after a VRRP takeover, so that neighbours and switches move a virtual
// address to this node's MAC at once instead of when their cache entries expire:
//
// - sendGratuitousArp: an ARP request over AF_PACKET with sender IP = target IP = the address,
//   sender MAC = the interface's MAC, target MAC ff:ff:ff:ff:ff:ff, to the Ethernet broadcast
//   address — the form keepalived sends (a request rather than a reply: RFC 5227 §3 prefers
//   requests for announcements, and old stacks that ignore unsolicited replies accept them).
//   Linux updates an existing neighbour entry from it; it creates one only with arp_accept=1.
// - sendUnsolicitedNa: an ICMPv6 Neighbor Advertisement (RFC 4861 §7.2.6) to ff02::1 with the
//   Override flag, not Solicited, Router as the caller says (keepalived mirrors the interface's
//   IPv6 forwarding; a router that advertises R=0 is dropped from hosts' default router lists),
//   the address as target and the interface's MAC in a Target Link-Layer Address option, hop
//   limit 255 (receivers drop ND packets with any other). It goes over an AF_INET6 raw ICMPv6
//   socket rather than AF_PACKET: the kernel fills in the IPv6 header, picks the source (a
//   link-local address unless told otherwise) and computes the ICMPv6 checksum, which it always
//   does for IPPROTO_ICMPV6 raw sockets (raw(7), ipv6(7)).
//
// The gratuitous ARP goes out through one AF_PACKET socket kept for the life of the process
// (close-on-exec, so it never leaks into the scripts ipvsd spawns). Not one per call: closing a
// packet socket waits for an RCU grace period (packet_release calls synchronize_net), measured at
// 14–46 ms per announcement on this machine's kernel, so a burst of ten blocked the event loop for
// up to half a second and held each VIP's first announcement behind the previous VIP's close.
// The NA socket is still opened per call (an inet6 raw socket closes without that wait).
#include "garp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "errno_error.h"

namespace ipvsd {
namespace {

constexpr size_t kMacLength = 6;
// RFC 4861 §4.4 and §4.6.1.
constexpr uint8_t kNdNeighborAdvert = 136;
constexpr uint8_t kNdOptTargetLinkAddr = 2;
constexpr uint8_t kNaFlagRouter = 0x80;
constexpr uint8_t kNaFlagOverride = 0x20;
constexpr int kNdHopLimit = 255;

struct Interface {
  unsigned index = 0;
  uint8_t mac[kMacLength] = {};
};

// Index and Ethernet MAC of `ifname`, through a throwaway AF_INET datagram socket (the ioctls
// need no privilege). Throws and returns false on failure.
bool LookupInterface(Napi::Env env, const std::string& ifname, Interface* out) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ || ifname.find('\0') != std::string::npos) {
    ThrowErrno(env, ENODEV, "if_nametoindex", "interface name " + ifname);
    return false;
  }
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ThrowErrno(env, errno, "socket", "AF_INET SOCK_DGRAM");
    return false;
  }
  ifreq ifr = {};
  ifname.copy(ifr.ifr_name, ifname.size());
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
    const int err = errno;
    close(fd);
    ThrowErrno(env, err, "ioctl", "SIOCGIFINDEX " + ifname);
    return false;
  }
  out->index = static_cast<unsigned>(ifr.ifr_ifindex);
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
    const int err = errno;
    close(fd);
    ThrowErrno(env, err, "ioctl", "SIOCGIFHWADDR " + ifname);
    return false;
  }
  close(fd);
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    // Loopback, tun, WireGuard, …: no Ethernet addresses, so nothing to announce. (Linux's
    // EOPNOTSUPP is ENOTSUP, so `code` reads 'ENOTSUP'.)
    ThrowErrno(env, EOPNOTSUPP, "ioctl",
               ifname + " is not an Ethernet interface (ARPHRD " +
                   std::to_string(ifr.ifr_hwaddr.sa_family) + ")");
    return false;
  }
  memcpy(out->mac, ifr.ifr_hwaddr.sa_data, kMacLength);
  return true;
}

// The process's AF_PACKET socket for gratuitous ARP, opened on first use; -1 with errno set
// when it cannot be. Protocol 0: it receives nothing; each frame's protocol comes from
// sll_protocol. Only the JavaScript thread calls in here.
int PacketSocket() {
  static int fd = -1;
  if (fd < 0) fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  return fd;
}

ssize_t SendMessage(int fd, const msghdr* msg) {
  ssize_t sent;
  do {
    sent = sendmsg(fd, msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  return sent;
}

Napi::Value SendGratuitousArp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    ThrowArgError(env, "sendGratuitousArp(ifname: string, address: string)");
    return env.Undefined();
  }
  const std::string ifname = info[0].As<Napi::String>().Utf8Value();
  const std::string address = info[1].As<Napi::String>().Utf8Value();
  in_addr ip;
  if (inet_pton(AF_INET, address.c_str(), &ip) != 1) {
    ThrowArgError(env, "sendGratuitousArp(): " + address + " is not an IPv4 address");
    return env.Undefined();
  }
  Interface ifc;
  if (!LookupInterface(env, ifname, &ifc)) return env.Undefined();

  // Ethernet header (14 bytes) and an Ethernet/IPv4 ARP packet (28 bytes), RFC 826.
  uint8_t frame[14 + 28] = {};
  uint8_t* p = frame;
  memset(p, 0xff, kMacLength);  // destination: broadcast
  memcpy(p + 6, ifc.mac, kMacLength);
  p[12] = ETHERTYPE_ARP >> 8;
  p[13] = ETHERTYPE_ARP & 0xff;
  p += 14;
  p[0] = 0;
  p[1] = ARPHRD_ETHER;  // hardware type 1
  p[2] = ETHERTYPE_IP >> 8;
  p[3] = ETHERTYPE_IP & 0xff;
  p[4] = kMacLength;
  p[5] = 4;
  p[6] = 0;
  p[7] = ARPOP_REQUEST;
  memcpy(p + 8, ifc.mac, kMacLength);  // sender MAC
  memcpy(p + 14, &ip, 4);              // sender IP
  memset(p + 18, 0xff, kMacLength);    // target MAC
  memcpy(p + 24, &ip, 4);              // target IP = sender IP

  const int fd = PacketSocket();
  if (fd < 0) {
    ThrowErrno(env, errno, "socket", "AF_PACKET SOCK_RAW");
    return env.Undefined();
  }
  sockaddr_ll to = {};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETHERTYPE_ARP);
  to.sll_ifindex = static_cast<int>(ifc.index);
  to.sll_halen = kMacLength;
  memset(to.sll_addr, 0xff, kMacLength);
  iovec iov = {frame, sizeof(frame)};
  msghdr msg = {};
  msg.msg_name = &to;
  msg.msg_namelen = sizeof(to);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  const ssize_t sent = SendMessage(fd, &msg);
  if (sent < 0) {
    ThrowErrno(env, errno, "sendmsg", "gratuitous ARP for " + address + " on " + ifname);
  }
  return env.Undefined();
}

Napi::Value SendUnsolicitedNa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage =
      "sendUnsolicitedNa(ifname: string, address: string, router: boolean, source?: string)";
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsBoolean()) {
    ThrowArgError(env, usage);
    return env.Undefined();
  }
  const bool has_source = info.Length() >= 4 && !info[3].IsUndefined() && !info[3].IsNull();
  if (has_source && !info[3].IsString()) {
    ThrowArgError(env, usage);
    return env.Undefined();
  }
  const std::string ifname = info[0].As<Napi::String>().Utf8Value();
  const std::string address = info[1].As<Napi::String>().Utf8Value();
  const bool router = info[2].As<Napi::Boolean>().Value();
  in6_addr target;
  if (inet_pton(AF_INET6, address.c_str(), &target) != 1) {
    ThrowArgError(env, "sendUnsolicitedNa(): " + address + " is not an IPv6 address");
    return env.Undefined();
  }
  in6_pktinfo pktinfo = {};
  if (has_source) {
    const std::string source = info[3].As<Napi::String>().Utf8Value();
    if (inet_pton(AF_INET6, source.c_str(), &pktinfo.ipi6_addr) != 1) {
      ThrowArgError(env, "sendUnsolicitedNa(): source " + source + " is not an IPv6 address");
      return env.Undefined();
    }
  }
  Interface ifc;
  if (!LookupInterface(env, ifname, &ifc)) return env.Undefined();

  // Neighbor Advertisement (24 bytes) + Target Link-Layer Address option (8 bytes).
  uint8_t na[24 + 8] = {};
  na[0] = kNdNeighborAdvert;
  na[1] = 0;  // code; the checksum (bytes 2-3) is the kernel's
  na[4] = static_cast<uint8_t>(kNaFlagOverride | (router ? kNaFlagRouter : 0));
  memcpy(na + 8, &target, sizeof(target));
  na[24] = kNdOptTargetLinkAddr;
  na[25] = 1;  // length in units of 8 bytes
  memcpy(na + 26, ifc.mac, kMacLength);

  const int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (fd < 0) {
    ThrowErrno(env, errno, "socket", "AF_INET6 SOCK_RAW IPPROTO_ICMPV6");
    return env.Undefined();
  }
  const int hops = kNdHopLimit;
  const int off = 0;
  const int index = static_cast<int>(ifc.index);
  const char* failed = nullptr;
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(),
                 static_cast<socklen_t>(ifname.size() + 1)) < 0) {
    failed = "SO_BINDTODEVICE";
  } else if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof(index)) < 0) {
    failed = "IPV6_MULTICAST_IF";
  } else if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) < 0) {
    failed = "IPV6_MULTICAST_HOPS";
  } else if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof(off)) < 0) {
    failed = "IPV6_MULTICAST_LOOP";
  }
  if (failed != nullptr) {
    const int err = errno;
    close(fd);
    ThrowErrno(env, err, "setsockopt", std::string(failed) + " on " + ifname);
    return env.Undefined();
  }

  sockaddr_in6 to = {};
  to.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);  // all-nodes
  to.sin6_scope_id = ifc.index;
  iovec iov = {na, sizeof(na)};
  msghdr msg = {};
  msg.msg_name = &to;
  msg.msg_namelen = sizeof(to);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  if (has_source) {
    pktinfo.ipi6_ifindex = ifc.index;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = IPPROTO_IPV6;
    cmsg->cmsg_type = IPV6_PKTINFO;
    cmsg->cmsg_len = CMSG_LEN(sizeof(pktinfo));
    memcpy(CMSG_DATA(cmsg), &pktinfo, sizeof(pktinfo));
  }
  const ssize_t sent = SendMessage(fd, &msg);
  const int err = errno;
  close(fd);
  if (sent < 0) {
    ThrowErrno(env, err, "sendmsg",
               "unsolicited neighbour advertisement for " + address + " on " + ifname);
  }
  return env.Undefined();
}

}  // namespace

void RegisterGarp(Napi::Env env, Napi::Object exports) {
  exports.Set("sendGratuitousArp",
              Napi::Function::New(env, SendGratuitousArp, "sendGratuitousArp"));
  exports.Set("sendUnsolicitedNa",
              Napi::Function::New(env, SendUnsolicitedNa, "sendUnsolicitedNa"));
}

}  // namespace ipvsd
