/**
 * Many interface addresses added with one sendmsg (RTM_NEWADDR, NETLINK_ROUTE), for a VRRP
 * takeover: every VIP of every member of a sync group goes to the kernel in one datagram instead
 * of an interface lookup and an add per VIP, each a round trip through the event loop (slow under
 * qemu TCG, where JavaScript runs 15–20× slower). The caller names the interface index (the
 * speaker knows it from the link monitor), so there is no lookup either.
 *
 * `add` returns at once. When its sendmsg ran inside the call (`sent`, see ./netlink-send.ts) the
 * kernel has added every address before `add` returned, so the caller may announce them right
 * away; the replies (each request asks for an ACK) come later in `done`. Framing, sequence
 * matching and errno mapping are here rather than node-netlink's RtNetlinkSocket, whose requests
 * go one at a time; the socket listener is a guarded one-liner (a throw in it aborts the process,
 * DESIGN §7), and replies that match nothing are counted and dropped.
 */
import { constants } from 'node:os';
import { RawNetlinkSocket } from 'netlink';
import { IpvsdError, NetlinkError } from '../errors.js';
import { parseCidr } from './ip-address.js';
import { errnoDescription, errnoName } from './netlink-errors.js';
import { listenGuarded, trackSends } from './netlink-send.js';
import {
  attr,
  formatMessage,
  NLM_F_ACK,
  NLM_F_REQUEST,
  NLMSG_ERROR,
  parseErrno,
  parseMessages,
  u32,
} from './nlattr.js';
import type { OpenRawNetlink } from './raw-netlink.js';

const { EBADF, EIO, ETIMEDOUT } = constants.errno;

const NETLINK_ROUTE = 0;
/** <linux/rtnetlink.h> */
const RTM_NEWADDR = 20;
/** <linux/netlink.h> */
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
/** <linux/if_addr.h> */
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;
const IFA_FLAGS = 8;
const IFA_F_NODAD = 0x02;
const AF_INET = 2;
const AF_INET6 = 10;

export interface AddressToAdd {
  readonly ifname: string;
  readonly ifindex: number;
  /** `address/len` (no `/len`: /32 or /128). */
  readonly cidr: string;
}

export interface AddressBatchResult {
  /** True when the kernel had added (or refused) every address by the time `add` returned. */
  readonly sent: boolean;
  /** Each address's outcome, in order: null when added, else a NetlinkError (EEXIST: it was there). */
  readonly done: Promise<(Error | null)[]>;
}

export interface AddressBatch {
  /** Adds every address (CREATE|EXCL, as `ip addr add`), all in one datagram. */
  add(addresses: readonly AddressToAdd[]): AddressBatchResult;
  /** Replies that could not be parsed or matched, dropped. */
  dropped(): number;
  close(): void;
}

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  EEXIST: 'address already assigned to the interface',
  ENODEV: 'no such interface',
  EACCES: 'permission denied: needs CAP_NET_ADMIN',
  EPERM: 'operation not permitted: needs CAP_NET_ADMIN',
};

/**
 * The RTM_NEWADDR payload (ifaddrmsg and attributes) for `cidr` on `ifindex`: the same request as
 * rtnetlink.ts's addAddress without a label: IPv4 with the broadcast address (`brd +`) up to /30,
 * IPv6 with IFA_F_NODAD so the address is usable at once. Pure; exported for tests.
 */
export function newAddressPayload(ifindex: number, cidr: string): Buffer {
  const target = parseCidr(cidr);
  const inet = target.family === 'inet';
  const header = Buffer.alloc(8);
  header[0] = inet ? AF_INET : AF_INET6;
  header[1] = target.prefixLength;
  header[2] = inet ? 0 : IFA_F_NODAD;
  header[3] = 0; // RT_SCOPE_UNIVERSE
  header.writeUInt32LE(ifindex, 4);
  const attrs = [attr(IFA_LOCAL, target.bytes), attr(IFA_ADDRESS, target.bytes)];
  if (inet && target.prefixLength <= 30) {
    const host = target.bytes.readUInt32BE(0);
    const mask = target.prefixLength === 0 ? 0 : (0xffffffff << (32 - target.prefixLength)) >>> 0;
    const broadcast = Buffer.alloc(4);
    broadcast.writeUInt32BE((host | ~mask) >>> 0, 0);
    attrs.push(attr(IFA_BROADCAST, broadcast));
  }
  if (!inet) attrs.push(u32(IFA_FLAGS, IFA_F_NODAD));
  return Buffer.concat([header, ...attrs]);
}

export interface AddressBatchOptions {
  /** How long to wait for the kernel's replies. Default 5000 ms. */
  readonly timeoutMs?: number;
  /** Default: node-netlink's RawNetlinkSocket. */
  readonly openRaw?: OpenRawNetlink;
}

export function createAddressBatch(options: AddressBatchOptions = {}): AddressBatch {
  const timeoutMs = options.timeoutMs ?? 5000;
  // Room for the ACKs of a whole takeover: a reply is about 36 bytes plus the kernel's overhead.
  const open: OpenRawNetlink = options.openRaw ?? ((protocol, o) => new RawNetlinkSocket(protocol, o));
  const raw = open(NETLINK_ROUTE, { recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
  const port = raw.address().port;
  const sender = trackSends(raw);
  /** seq → settle with the kernel's errno (0: added). */
  const pending = new Map<number, (errno: number) => void>();
  let seq = Math.floor(Math.random() * 0x7fffffff) + 1;
  let dropped = 0;
  let closed = false;

  const refresh = (): void => {
    if (closed) return;
    if (pending.size > 0) raw.ref();
    else raw.unref();
  };
  raw.unref();

  const onDatagram = (buf: Buffer): void => {
    const { messages, malformed } = parseMessages(buf);
    if (malformed) dropped++;
    for (const m of messages) {
      const settle = pending.get(m.seq);
      if (m.type !== NLMSG_ERROR || settle === undefined) {
        dropped++;
        continue;
      }
      pending.delete(m.seq);
      settle(parseErrno(m.payload) ?? EIO);
    }
    refresh();
  };
  const failAll = (errno: number): void => {
    for (const [s, settle] of pending) {
      pending.delete(s);
      settle(errno);
    }
    refresh();
  };
  listenGuarded(
    raw,
    onDatagram,
    (errno) => failAll(errno || EIO),
    () => {
      dropped++;
    },
  );

  const failure = (a: AddressToAdd, errno: number, fromKernel: boolean): NetlinkError => {
    const name = errnoName(errno);
    const why = DESCRIPTIONS[name] ?? errnoDescription(errno);
    return new NetlinkError(
      fromKernel ? 'IPVSD_ERR_KERNEL_REJECTED' : 'IPVSD_ERR_NETLINK',
      `adding address ${a.cidr} to ${a.ifname}: ${name} (${why})`,
      errno,
      name,
    );
  };

  return {
    add(addresses) {
      if (addresses.length === 0) return { sent: true, done: Promise.resolve([]) };
      if (closed) {
        const error = new IpvsdError('IPVSD_ERR_NETLINK', 'the rtnetlink socket was closed');
        return { sent: false, done: Promise.resolve(addresses.map(() => error)) };
      }
      // Encoding first: a bad address throws before anything is sent.
      const messages: Buffer[] = [];
      const seqs: number[] = [];
      for (const a of addresses) {
        seq = (seq % 0xfffffffe) + 1;
        seqs.push(seq);
        messages.push(
          formatMessage(
            RTM_NEWADDR,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            seq,
            port,
            newAddressPayload(a.ifindex, a.cidr),
          ),
        );
      }
      const outcomes = seqs.map(
        (s) =>
          new Promise<{ errno: number; fromKernel: boolean }>((resolve) => {
            pending.set(s, (errno) => resolve({ errno, fromKernel: true }));
          }),
      );
      const timer = setTimeout(() => {
        for (const s of seqs) {
          const settle = pending.get(s);
          pending.delete(s);
          settle?.(-ETIMEDOUT);
        }
        refresh();
      }, timeoutMs);
      timer.unref();
      refresh();
      const failSend = (errno: number): void => {
        for (const s of seqs) {
          const settle = pending.get(s);
          pending.delete(s);
          settle?.(-errno);
        }
        refresh();
      };
      let sent = false;
      try {
        sent = sender.send(Buffer.concat(messages), (err) => {
          if (err) failSend(Math.abs(err.errno ?? EIO));
        });
      } catch (err) {
        failSend(Math.abs((err as { errno?: number }).errno ?? EBADF));
      }
      // A negative errno marks a local failure (send, timeout) rather than the kernel's answer.
      const done = Promise.all(outcomes).then((results) => {
        clearTimeout(timer);
        return results.map(({ errno }, i) => {
          const a = addresses[i] as AddressToAdd;
          if (errno === 0) return null;
          return failure(a, Math.abs(errno), errno > 0);
        });
      });
      return { sent, done };
    },
    dropped: () => dropped,
    close() {
      if (closed) return;
      closed = true;
      failAll(-EBADF);
      raw.close();
    },
  };
}
