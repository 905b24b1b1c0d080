/**
 * A stand-in for node-netlink's RawNetlinkSocket that reaches no kernel: what is "sent" is parsed
 * and dropped, every request that asks for an acknowledgement gets a success reply, and every dump
 * an empty one (NLMSG_DONE), delivered one macrotask later as the kernel's would be. The takeover
 * warm-up (director/takeover-warm-up.ts) runs the address batch and the IPVS backend over it, so
 * their encoding, sequence matching and reply parsing are compiled before the first takeover
 * without a single request leaving the process. Nothing in it touches a file descriptor.
 */
import { EventEmitter } from 'node:events';
import { formatMessage, NLM_F_ACK, NLM_F_DUMP, NLMSG_DONE, NLMSG_ERROR, parseMessages } from './nlattr.js';

/** The part of RawNetlinkSocket that sys/address-batch.ts and sys/genl-socket.ts use. */
export interface RawNetlinkLike {
  address(): { port: number };
  send(msg: Buffer, options: object, callback?: (err?: { errno?: number; message: string }) => void): void;
  on(event: 'message', listener: (buf: Buffer) => void): unknown;
  on(event: 'error', listener: (err: { errno?: number }) => void): unknown;
  ref(): void;
  unref(): void;
  close(): void;
}

/** Opens a raw netlink socket (the real one: `new RawNetlinkSocket(protocol, options)`). */
export type OpenRawNetlink = (
  protocol: number,
  options: { recvBufferSize: number; sendBufferSize: number },
) => RawNetlinkLike;

export interface SilentNetlink extends RawNetlinkLike {
  /** Requests "sent" so far (each message of each datagram). */
  requests(): number;
}

/** A fixed fake port: replies carry it, as the kernel's carry the socket's own. */
const SILENT_PORT = 0x5e1e47;

export function createSilentNetlink(): SilentNetlink {
  const events = new EventEmitter();
  let requests = 0;
  let closed = false;
  const later = (fn: () => void) => setImmediate(() => (closed ? undefined : fn()));
  return {
    address: () => ({ port: SILENT_PORT }),
    send(msg, _options, callback) {
      const { messages } = parseMessages(msg);
      requests += messages.length;
      const replies: Buffer[] = [];
      for (const m of messages) {
        if ((m.flags & NLM_F_DUMP) === NLM_F_DUMP) {
          replies.push(formatMessage(NLMSG_DONE, 0, m.seq, SILENT_PORT, Buffer.alloc(4)));
        } else if ((m.flags & NLM_F_ACK) !== 0) {
          // struct nlmsgerr: error 0, then the request's own header.
          const payload = Buffer.alloc(4 + 16);
          payload.writeUInt32LE(16 + m.payload.length, 4);
          payload.writeUInt16LE(m.type, 8);
          payload.writeUInt16LE(m.flags, 10);
          payload.writeUInt32LE(m.seq, 12);
          payload.writeUInt32LE(m.pid, 16);
          replies.push(formatMessage(NLMSG_ERROR, 0, m.seq, SILENT_PORT, payload));
        }
      }
      later(() => {
        callback?.();
        if (replies.length > 0) events.emit('message', Buffer.concat(replies));
      });
    },
    on(event: 'message' | 'error', listener: (arg: Buffer & { errno?: number }) => void) {
      events.on(event, listener as (...args: unknown[]) => void);
      return undefined;
    },
    ref() {},
    unref() {},
    close() {
      closed = true;
      events.removeAllListeners();
    },
    requests: () => requests,
  };
}
