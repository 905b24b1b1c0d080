/**
 * Netlink message and attribute framing (struct nlmsghdr, struct nlattr) as pure functions over
 * Buffers. Decoders never throw on hostile input: they return null or skip what does not fit, so
 * a malformed kernel reply is counted and dropped by the caller instead of crashing the daemon.
 */

export const NLMSG_HDRLEN = 16;
export const GENL_HDRLEN = 4;
export const NLA_HDRLEN = 4;
/** Kernel sets NLA_F_NESTED / NLA_F_NET_BYTEORDER in the top bits of nla_type on some attributes. */
export const NLA_TYPE_MASK = 0x3fff;

// <linux/netlink.h>
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;

const align4 = (n: number): number => (n + 3) & ~3;

/** One attribute, already padded to 4 bytes. */
export function attr(type: number, payload: Buffer): Buffer {
  const len = NLA_HDRLEN + payload.length;
  const out = Buffer.alloc(align4(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, NLA_HDRLEN);
  return out;
}

export const NLA_F_NESTED = 0x8000;

/** A nested attribute, flagged NLA_F_NESTED as libnl (and so ipvsadm) sends it. */
export const nested = (type: number, children: readonly Buffer[]): Buffer =>
  attr(type | NLA_F_NESTED, Buffer.concat(children));

export function u8(type: number, value: number): Buffer {
  return attr(type, Buffer.from([value & 0xff]));
}

export function u16(type: number, value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  return attr(type, b);
}

export function u16be(type: number, value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return attr(type, b);
}

export function u32(type: number, value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return attr(type, b);
}

/** NUL-terminated string, as the kernel's NLA_NUL_STRING / NLA_STRING policies accept. */
export function cstring(type: number, value: string): Buffer {
  return attr(type, Buffer.concat([Buffer.from(value, 'utf8'), Buffer.from([0])]));
}

/** Parsed attributes of one nesting level: type → payload (last one wins, as the kernel does). */
export type Attrs = Map<number, Buffer>;

export function parseAttrs(buf: Buffer): Attrs {
  const out: Attrs = new Map();
  let off = 0;
  while (off + NLA_HDRLEN <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    if (len < NLA_HDRLEN || off + len > buf.length) break;
    out.set(type, buf.subarray(off + NLA_HDRLEN, off + len));
    off += align4(len);
  }
  return out;
}

export const getU8 = (a: Attrs, t: number): number | null => {
  const b = a.get(t);
  return b && b.length >= 1 ? b.readUInt8(0) : null;
};
export const getU16 = (a: Attrs, t: number): number | null => {
  const b = a.get(t);
  return b && b.length >= 2 ? b.readUInt16LE(0) : null;
};
export const getU16be = (a: Attrs, t: number): number | null => {
  const b = a.get(t);
  return b && b.length >= 2 ? b.readUInt16BE(0) : null;
};
export const getU32 = (a: Attrs, t: number): number | null => {
  const b = a.get(t);
  return b && b.length >= 4 ? b.readUInt32LE(0) : null;
};
/** u64 counters as numbers: exact up to 2^53, which no IPVS counter reaches in practice. */
export const getU64 = (a: Attrs, t: number): number | null => {
  const b = a.get(t);
  return b && b.length >= 8 ? Number(b.readBigUInt64LE(0)) : null;
};
export const getString = (a: Attrs, t: number): string | null => {
  const b = a.get(t);
  if (!b) return null;
  const nul = b.indexOf(0);
  return b.subarray(0, nul === -1 ? b.length : nul).toString('utf8');
};
export const getNested = (a: Attrs, t: number): Attrs | null => {
  const b = a.get(t);
  return b ? parseAttrs(b) : null;
};

export interface NlMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  readonly payload: Buffer;
}

export function formatMessage(
  type: number,
  flags: number,
  seq: number,
  pid: number,
  payload: Buffer,
): Buffer {
  const out = Buffer.alloc(align4(NLMSG_HDRLEN + payload.length));
  out.writeUInt32LE(NLMSG_HDRLEN + payload.length, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq >>> 0, 8);
  out.writeUInt32LE(pid >>> 0, 12);
  payload.copy(out, NLMSG_HDRLEN);
  return out;
}

/** Splits a datagram into messages; returns the well-formed ones and whether anything was malformed. */
export function parseMessages(buf: Buffer): { messages: NlMessage[]; malformed: boolean } {
  const messages: NlMessage[] = [];
  const malformed = forEachMessage(buf, (off, len) => {
    messages.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
  });
  return { messages, malformed };
}

/**
 * Calls `visit` with the offset and length (header included) of each well-formed message of `buf`,
 * in order, without copying or slicing; returns whether a message was malformed (a length that
 * does not fit), after which nothing more is visited.
 */
export function forEachMessage(buf: Buffer, visit: (off: number, len: number) => void): boolean {
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) return true;
    visit(off, len);
    off += align4(len);
  }
  // Fewer bytes than a header left over (a cut datagram) are ignored, as parseMessages always did.
  return false;
}

/** The size of one generic netlink message carrying `attrs` (headers included, padded). */
export function genlMessageSize(attrs: readonly Buffer[]): number {
  let len = NLMSG_HDRLEN + GENL_HDRLEN;
  for (const a of attrs) len += a.length;
  return align4(len);
}

/**
 * Writes one generic netlink message (nlmsghdr, genlmsghdr, attributes) into `out` at `off` and
 * returns the offset after it. For batches: one buffer for many messages instead of three
 * allocations and copies per message. `out` must be zero-filled (padding is not written).
 */
export function writeGenlMessage(
  out: Buffer,
  off: number,
  header: { type: number; flags: number; seq: number; pid: number; cmd: number; version: number },
  attrs: readonly Buffer[],
): number {
  let len = NLMSG_HDRLEN + GENL_HDRLEN;
  for (const a of attrs) len += a.length;
  out.writeUInt32LE(len, off);
  out.writeUInt16LE(header.type, off + 4);
  out.writeUInt16LE(header.flags, off + 6);
  out.writeUInt32LE(header.seq >>> 0, off + 8);
  out.writeUInt32LE(header.pid >>> 0, off + 12);
  out[off + 16] = header.cmd;
  out[off + 17] = header.version;
  let at = off + NLMSG_HDRLEN + GENL_HDRLEN;
  for (const a of attrs) {
    a.copy(out, at);
    at += a.length;
  }
  return off + align4(len);
}

/**
 * A chunk of generic netlink requests in one zero-filled buffer, as one sendmsg carries them:
 * message i gets sequence number seqOf(i), and only the last asks for an ACK (the kernel answers
 * the others only when it refuses them).
 */
export function writeGenlChunk(
  reqs: readonly { readonly cmd: number; readonly attrs: readonly Buffer[] }[],
  header: { type: number; version: number; pid: number; flags: number },
  seqOf: (index: number) => number,
): Buffer {
  let size = 0;
  for (const req of reqs) size += genlMessageSize(req.attrs);
  const buf = Buffer.alloc(size);
  let off = 0;
  reqs.forEach((req, i) => {
    const last = i === reqs.length - 1;
    off = writeGenlMessage(
      buf,
      off,
      {
        type: header.type,
        flags: header.flags | (last ? NLM_F_ACK : 0),
        seq: seqOf(i),
        pid: header.pid,
        cmd: req.cmd,
        version: header.version,
      },
      req.attrs,
    );
  });
  return buf;
}

/** What Buffer's writeUInt16*() refuses: a value below 0 or above `max` (RangeError, as there). */
function checkRange(value: number, max: number): void {
  if (value < 0 || value > max)
    throw new RangeError(`netlink attribute field out of range: ${value} (0 to ${max})`);
}

/**
 * Builds attributes straight into one buffer: an IPVS operation is a dozen small attributes, and a
 * Buffer per attribute (plus the copies of nesting) was most of the cost of encoding 11,000 of them.
 * Same bytes as attr()/nested(): little-endian headers, payloads padded to 4 bytes with zeros.
 */
export class AttrWriter {
  private buf: Buffer;
  private off = 0;

  // From node's shared pool (allocUnsafe, for sizes under 4 KiB) and zeroed here: Buffer.alloc makes a
  // fresh ArrayBuffer per call, which for 11,000 small messages was a large part of the encoding.
  constructor(size = 128) {
    this.buf = Buffer.allocUnsafe(size).fill(0);
  }

  private reserve(n: number): number {
    const at = this.off;
    const need = at + align4(n);
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2)).fill(0);
      this.buf.copy(bigger, 0, 0, at);
      this.buf = bigger;
    }
    this.off = need;
    return at;
  }

  // Plain byte stores rather than Buffer's write*() methods, which range-check every argument: the
  // values here are attribute types, lengths and u16/u32 fields, masked to their width as the
  // write*() methods would have required them to be.
  private header(at: number, type: number, payloadLen: number): void {
    const b = this.buf;
    const len = NLA_HDRLEN + payloadLen;
    checkRange(len, 0xffff);
    b[at] = len & 0xff;
    b[at + 1] = (len >>> 8) & 0xff;
    b[at + 2] = type & 0xff;
    b[at + 3] = (type >>> 8) & 0xff;
  }

  u16(type: number, value: number): this {
    const at = this.reserve(NLA_HDRLEN + 2);
    this.header(at, type, 2);
    checkRange(value, 0xffff);
    this.buf[at + 4] = value & 0xff;
    this.buf[at + 5] = (value >>> 8) & 0xff;
    return this;
  }

  u16be(type: number, value: number): this {
    const at = this.reserve(NLA_HDRLEN + 2);
    this.header(at, type, 2);
    checkRange(value, 0xffff);
    this.buf[at + 4] = (value >>> 8) & 0xff;
    this.buf[at + 5] = value & 0xff;
    return this;
  }

  u32(type: number, value: number): this {
    const at = this.reserve(NLA_HDRLEN + 4);
    this.header(at, type, 4);
    const v = value >>> 0;
    const b = this.buf;
    b[at + 4] = v & 0xff;
    b[at + 5] = (v >>> 8) & 0xff;
    b[at + 6] = (v >>> 16) & 0xff;
    b[at + 7] = v >>> 24;
    return this;
  }

  /** An attribute of `size` bytes holding `payload` at its start (the rest zero): no callback. */
  fixed(type: number, size: number, payload: Uint8Array): this {
    const at = this.reserve(NLA_HDRLEN + size);
    this.header(at, type, size);
    this.buf.set(payload, at + NLA_HDRLEN);
    return this;
  }

  /** An attribute whose payload is `size` bytes, zeroed, filled by `fill` (at the payload's offset). */
  raw(type: number, size: number, fill: (buf: Buffer, at: number) => void): this {
    const at = this.reserve(NLA_HDRLEN + size);
    this.header(at, type, size);
    fill(this.buf, at + NLA_HDRLEN);
    return this;
  }

  bytes(type: number, payload: Uint8Array): this {
    return this.raw(type, payload.length, (buf, at) => buf.set(payload, at));
  }

  /** NUL-terminated, as cstring(). */
  cstring(type: number, value: string): this {
    const len = Buffer.byteLength(value, 'utf8');
    return this.raw(type, len + 1, (buf, at) => {
      buf.write(value, at, len, 'utf8');
    });
  }

  /** Already-encoded attributes, appended as they are (e.g. a cached nested key). */
  append(encoded: Buffer): this {
    const at = this.reserve(encoded.length);
    encoded.copy(this.buf, at);
    return this;
  }

  /** Starts a nested attribute (flagged NLA_F_NESTED, as nested() does); close it with end(). */
  begin(type: number): number {
    const at = this.reserve(NLA_HDRLEN);
    const t = type | NLA_F_NESTED;
    this.buf[at + 2] = t & 0xff;
    this.buf[at + 3] = (t >>> 8) & 0xff;
    return at;
  }

  end(start: number): this {
    const len = this.off - start;
    checkRange(len, 0xffff);
    this.buf[start] = len & 0xff;
    this.buf[start + 1] = (len >>> 8) & 0xff;
    return this;
  }

  /** The attributes written so far (a view of the writer's buffer: do not reuse the writer). */
  finish(): Buffer {
    return this.buf.subarray(0, this.off);
  }
}

/** struct genlmsghdr followed by attributes. */
export function genlPayload(cmd: number, version: number, attrs: readonly Buffer[]): Buffer {
  const hdr = Buffer.from([cmd, version, 0, 0]);
  return Buffer.concat([hdr, ...attrs]);
}

export function parseGenl(payload: Buffer): { cmd: number; version: number; attrs: Attrs } | null {
  if (payload.length < GENL_HDRLEN) return null;
  return {
    cmd: payload.readUInt8(0),
    version: payload.readUInt8(1),
    attrs: parseAttrs(payload.subarray(GENL_HDRLEN)),
  };
}

/** The errno of an NLMSG_ERROR payload, as a positive number (0 is an ACK); null if truncated. */
export function parseErrno(payload: Buffer): number | null {
  return payload.length >= 4 ? -payload.readInt32LE(0) : null;
}
