/**
 * A generic netlink socket with the framing done here rather than in node-netlink's higher layers,
 * for three reasons: (1) batches of requests go out many per sendmsg and only the last of each
 * batch asks for an ACK (the kernel reports failures of the others anyway), so a table of 10,000
 * destinations costs tens of round trips instead of 10,000; (2) every reply is matched by sequence
 * number here, so a malformed or unexpected datagram is counted and dropped; (3) node-netlink
 * aborts the process if one of its listeners throws, so our listener is a guarded one-liner.
 */
import { constants } from 'node:os';
import { RawNetlinkSocket } from 'netlink';
import { NetlinkError } from '../errors.js';
import { errnoName } from './netlink-errors.js';
import { listenGuarded, trackSends } from './netlink-send.js';
import {
  cstring,
  formatMessage,
  genlPayload,
  getU16,
  getU32,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  type NlMessage,
  parseErrno,
  parseGenl,
  parseMessages,
  writeGenlChunk,
} from './nlattr.js';
import type { OpenRawNetlink } from './raw-netlink.js';

const { EBADF, EIO, ENOBUFS, EPROTO, ETIMEDOUT } = constants.errno;

const NETLINK_GENERIC = 16;
// <linux/genetlink.h>
const GENL_ID_CTRL = 16;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;
const CTRL_ATTR_VERSION = 3;

export interface GenlRequest {
  readonly cmd: number;
  readonly attrs: readonly Buffer[];
}

export interface GenlReply {
  readonly cmd: number;
  readonly attrs: Map<number, Buffer>;
}

interface Pending {
  readonly parts: NlMessage[];
  /** Silent members of a batch only record a failure; the batch's last member settles the batch. */
  readonly silent: boolean;
  errno: number;
  /** `fromKernel`: the kernel answered with this errno (as opposed to a send failure or a timeout). */
  settle: (errno: number, parts: NlMessage[], fromKernel: boolean) => void;
}

export interface GenlSocketOptions {
  /** Requests per sendmsg in `batch()`; bounded so that error replies cannot overflow SO_RCVBUF. */
  readonly batchSize?: number;
  readonly timeoutMs?: number;
  /** Default: node-netlink's RawNetlinkSocket. */
  readonly openRaw?: OpenRawNetlink;
}

export interface GenlSocket {
  /** Resolves a family by name (a non-dump GETFAMILY, which makes the kernel autoload its module). */
  resolveFamily(name: string): Promise<{ id: number; version: number }>;
  /** One request with ACK; resolves with the data replies (empty for a plain ACK). */
  request(family: number, version: number, req: GenlRequest): Promise<GenlReply[]>;
  dump(family: number, version: number, req: GenlRequest): Promise<GenlReply[]>;
  /** Sends all requests in order, many per datagram; resolves with each request's errno (0 = done). */
  batch(family: number, version: number, reqs: readonly GenlRequest[]): Promise<number[]>;
  /**
   * Up to `batchSize` requests in one datagram, returning at once. `sent`: sendmsg ran inside the
   * call, so the kernel has executed them, in order, when submit returns (./netlink-send.ts says
   * why); false when the datagram waits behind an earlier send. `results` as batch().
   */
  submit(
    family: number,
    version: number,
    reqs: readonly GenlRequest[],
  ): { sent: boolean; results: Promise<number[]> };
  /** Datagrams or messages that could not be parsed or matched, dropped. */
  readonly dropped: () => number;
  close(): void;
}

export function createGenlSocket(options: GenlSocketOptions = {}): GenlSocket {
  const batchSize = options.batchSize ?? 256;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const open: OpenRawNetlink = options.openRaw ?? ((protocol, o) => new RawNetlinkSocket(protocol, o));
  const raw = open(NETLINK_GENERIC, {
    recvBufferSize: 4 * 1024 * 1024,
    sendBufferSize: 4 * 1024 * 1024,
  });
  const port = raw.address().port;
  const pending = new Map<number, Pending>();
  let seq = Math.floor(Math.random() * 0x7fffffff) + 1;
  let dropped = 0;
  let closed = false;
  let dumpQueue: Promise<unknown> = Promise.resolve();

  const nextSeq = (): number => {
    seq = (seq % 0xfffffffe) + 1;
    return seq;
  };

  // Whether the socket keeps the event loop alive: only while replies are awaited. Tracked here so
  // that the native ref/unref runs on a change only, not on every datagram.
  let referenced = true;
  const refresh = (): void => {
    if (closed || referenced === pending.size > 0) return;
    referenced = !referenced;
    if (referenced) raw.ref();
    else raw.unref();
  };
  refresh();

  const onMessage = (msg: NlMessage): void => {
    const p = pending.get(msg.seq);
    if (!p) {
      dropped++;
      return;
    }
    if (msg.type === NLMSG_ERROR) {
      const errno = parseErrno(msg.payload) ?? EIO; // a truncated error message
      if (p.silent) {
        p.errno = errno;
        pending.delete(msg.seq);
        return;
      }
      pending.delete(msg.seq);
      p.settle(errno, p.parts, true);
    } else if (msg.type === NLMSG_DONE) {
      pending.delete(msg.seq);
      p.settle(0, p.parts, true);
    } else {
      p.parts.push(msg);
    }
  };

  const onDatagram = (buf: Buffer): void => {
    const { messages, malformed } = parseMessages(buf);
    if (malformed) dropped++;
    for (const m of messages) onMessage(m);
    refresh();
  };

  const failAll = (errno: number): void => {
    for (const [s, p] of pending) {
      pending.delete(s);
      if (!p.silent) p.settle(errno, p.parts, false);
    }
    refresh();
  };

  // A lost error number still means replies were lost: nothing pending can be trusted.
  listenGuarded(
    raw,
    onDatagram,
    (errno) => failAll(errno || ENOBUFS),
    () => {
      dropped++;
    },
  );

  const sender = trackSends(raw);
  const send = (buffers: Buffer[]): Promise<void> =>
    new Promise((resolve, reject) => {
      sender.send(buffers.length === 1 ? (buffers[0] as Buffer) : Buffer.concat(buffers), (err) => {
        if (err) reject(err);
        else resolve();
      });
    });

  /**
   * Registers `seqNo` and waits for its settlement, with a timeout. The reply can arrive before the
   * caller's send callback has run, i.e. before anyone awaits this promise: it is marked handled at
   * once so an early rejection is not an unhandled one (which would end the process).
   */
  const awaitReply = (seqNo: number, what: string): Promise<NlMessage[]> => {
    const p = new Promise<NlMessage[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(seqNo);
        refresh();
        reject(
          new NetlinkError(
            'IPVSD_ERR_NETLINK',
            `${what}: no reply from the kernel within ${timeoutMs} ms`,
            ETIMEDOUT,
            'ETIMEDOUT',
          ),
        );
      }, timeoutMs);
      pending.set(seqNo, {
        parts: [],
        silent: false,
        errno: 0,
        settle: (errno, parts, fromKernel) => {
          clearTimeout(timer);
          if (errno === 0) resolve(parts);
          else
            reject(
              new NetlinkError(
                fromKernel ? 'IPVSD_ERR_KERNEL_REJECTED' : 'IPVSD_ERR_NETLINK',
                `${what}: ${errnoName(errno)}`,
                errno,
                errnoName(errno),
              ),
            );
        },
      });
      refresh();
    });
    p.catch(() => {});
    return p;
  };

  const toReplies = (parts: NlMessage[]): GenlReply[] => {
    const out: GenlReply[] = [];
    for (const m of parts) {
      const g = parseGenl(m.payload);
      if (g) out.push({ cmd: g.cmd, attrs: g.attrs });
      else dropped++;
    }
    return out;
  };

  const single = async (
    family: number,
    version: number,
    req: GenlRequest,
    flags: number,
  ): Promise<GenlReply[]> => {
    if (closed) throw new NetlinkError('IPVSD_ERR_NETLINK', 'netlink socket is closed', EBADF, 'EBADF');
    const s = nextSeq();
    const waiting = awaitReply(s, `netlink command ${req.cmd}`);
    try {
      await send([formatMessage(family, flags, s, port, genlPayload(req.cmd, version, req.attrs))]);
    } catch (err) {
      pending.get(s)?.settle(Math.abs((err as { errno?: number }).errno ?? EIO), [], false);
    }
    return toReplies(await waiting);
  };

  /**
   * One datagram of requests, only the last asking for an ACK. Returns at once: `sent` says
   * whether sendmsg ran inside this call (see ./netlink-send.ts), `results` each request's errno.
   */
  const submitChunk = (
    family: number,
    version: number,
    reqs: readonly GenlRequest[],
  ): { sent: boolean; results: Promise<number[]> } => {
    if (reqs.length === 0) return { sent: true, results: Promise.resolve([]) };
    if (closed) {
      const errnos = reqs.map(() => EBADF);
      return { sent: false, results: Promise.resolve(errnos) };
    }
    const seqs: number[] = [];
    const records: Pending[] = [];
    const buf = writeGenlChunk(reqs, { type: family, version, pid: port, flags: NLM_F_REQUEST }, (i) => {
      const s = nextSeq();
      seqs.push(s);
      if (i < reqs.length - 1) {
        const rec: Pending = { parts: [], silent: true, errno: 0, settle: () => {} };
        pending.set(s, rec);
        records.push(rec);
      }
      return s;
    });
    const lastSeq = seqs[seqs.length - 1] as number;
    const waiting = awaitReply(lastSeq, 'netlink batch');
    // A kernel errno on the last request is that request's outcome; a send failure, a timeout or
    // lost replies (ENOBUFS) leave the whole chunk unknown, so every member reports that errno.
    let chunkErrno = 0;
    const failSend = (err: { errno?: number }) => {
      chunkErrno = Math.abs(err.errno ?? EIO);
      pending.get(lastSeq)?.settle(chunkErrno, [], false);
    };
    let sent = false;
    try {
      sent = sender.send(buf, (err) => {
        if (err) failSend(err);
      });
    } catch (err) {
      failSend(err as { errno?: number });
    }
    const results = waiting
      .then(
        () => 0,
        (err: unknown) => {
          const e = err as NetlinkError;
          if (e.code === 'IPVSD_ERR_KERNEL_REJECTED') return e.errno;
          chunkErrno = e.errno;
          return 0;
        },
      )
      .then((lastErrno) => {
        const out = records.map((rec) => chunkErrno || rec.errno);
        out.push(chunkErrno || lastErrno);
        for (const s of seqs.slice(0, -1)) pending.delete(s);
        refresh();
        return out;
      });
    return { sent, results };
  };

  return {
    async resolveFamily(name) {
      const [reply] = await single(
        GENL_ID_CTRL,
        1,
        { cmd: CTRL_CMD_GETFAMILY, attrs: [cstring(CTRL_ATTR_FAMILY_NAME, name)] },
        NLM_F_REQUEST | NLM_F_ACK,
      );
      const id = reply ? getU16(reply.attrs, CTRL_ATTR_FAMILY_ID) : null;
      if (!reply || id === null)
        throw new NetlinkError(
          'IPVSD_ERR_NETLINK',
          `generic netlink family ${name}: malformed reply`,
          EPROTO,
          'EPROTO',
        );
      return { id, version: getU32(reply.attrs, CTRL_ATTR_VERSION) ?? 1 };
    },
    request: (family, version, req) => single(family, version, req, NLM_F_REQUEST | NLM_F_ACK),
    dump(family, version, req) {
      // The kernel runs one dump per socket at a time and refuses a second with EBUSY, so dumps
      // queue here: callers on one socket (a reconcile and a metrics scrape) never collide.
      const next = dumpQueue.then(() => single(family, version, req, NLM_F_REQUEST | NLM_F_DUMP));
      dumpQueue = next.catch(() => undefined);
      return next;
    },
    async batch(family, version, reqs) {
      const results: number[] = [];
      for (let start = 0; start < reqs.length; start += batchSize) {
        const chunk = await submitChunk(family, version, reqs.slice(start, start + batchSize)).results;
        results.push(...chunk);
      }
      return results;
    },
    submit(family, version, reqs) {
      if (reqs.length > batchSize)
        throw new RangeError(`submit: ${reqs.length} requests, at most ${batchSize} fit one datagram`);
      return submitChunk(family, version, reqs);
    },
    dropped: () => dropped,
    close() {
      if (closed) return;
      closed = true;
      failAll(9);
      raw.close();
    },
  };
}
