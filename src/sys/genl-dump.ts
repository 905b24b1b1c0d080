/**
 * A two-level generic netlink dump on a worker thread (native/src/genl_worker.cc): list everything
 * of one kind, then dump, for each listed item, what belongs to it. For IPVS: the services, then each
 * service's destinations, which the kernel only dumps one service at a time.
 *
 * The native side does the round trips back to back on its own socket and thread and hands over
 * one buffer; this module splits it into replies per level. The event loop is free meanwhile, so
 * `ipvsctl apply` parses its config while the kernel table is read.
 */
import { constants } from 'node:os';
import { NetlinkError } from '../errors.js';
import { fromNativeErrnoError, loadNative } from './native.js';
import { errnoName } from './netlink-errors.js';
import {
  type Attrs,
  forEachMessage,
  GENL_HDRLEN,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  parseAttrs,
  parseErrno,
} from './nlattr.js';

const { EPROTO } = constants.errno;

export interface GenlDumpEachSpec {
  /** The generic netlink family, resolved by name on the dump's own socket. */
  readonly familyName: string;
  readonly version: number;
  /** The command of the first-level dump. */
  readonly listCmd: number;
  /** The command dumped once per first-level reply. */
  readonly eachCmd: number;
  /** The top-level attribute of a first-level reply that is sent, as it came, with its dump. */
  readonly keyAttr: number;
  readonly timeoutMs: number;
}

/**
 * One reply: its command and where its attributes are in the dump's buffer, bytes [start, end) of
 * `buf`. Nothing is copied or sliced: a big table's dump is tens of thousands of replies, which a
 * decoder can read in place (ipvs/codec.ts does for destinations); `attrs` parses them on use.
 */
export class GenlDumpReply {
  #attrs: Attrs | undefined;

  constructor(
    readonly cmd: number,
    readonly buf: Buffer,
    readonly start: number,
    readonly end: number,
  ) {}

  get attrs(): Attrs {
    this.#attrs ??= parseAttrs(this.buf.subarray(this.start, this.end));
    return this.#attrs;
  }
}

export interface GenlDumpEachResult {
  readonly familyId: number;
  readonly familyVersion: number;
  /** The first-level replies, in the kernel's order. */
  readonly list: readonly GenlDumpReply[];
  /** each[i]: the replies of the dump made for list[i] (empty if that reply had no key attribute). */
  readonly each: readonly GenlDumpReply[][];
  /** Messages that were malformed or matched no request, dropped. */
  readonly dropped: number;
}

/** Which dump the kernel refused: the list, or the one for list[index]. */
export class GenlDumpRefused extends NetlinkError {
  constructor(
    readonly level: 'list' | 'each',
    readonly index: number,
    errno: number,
  ) {
    super(
      'IPVSD_ERR_KERNEL_REJECTED',
      level === 'list'
        ? `dump refused: ${errnoName(errno)}`
        : `dump ${index + 1} refused: ${errnoName(errno)}`,
      errno,
      errnoName(errno),
    );
    this.name = 'GenlDumpRefused';
  }
}

// Far from the sequence numbers other sockets of this process use: none of them is shared, this
// only makes a capture easier to read.
const FIRST_SEQ = 0x40000000;

/**
 * Runs the dump. Rejects with GenlDumpRefused when the kernel refuses one of its dumps, with
 * NetlinkError (IPVSD_ERR_NETLINK, errno kept) when a system call fails or the family is unknown
 * (ENOENT), and with IpvsdError when the native addon is missing.
 */
export async function genlDumpEach(spec: GenlDumpEachSpec): Promise<GenlDumpEachResult> {
  let raw: { familyId: number; familyVersion: number; messages: Buffer };
  try {
    raw = await loadNative().genlDumpEach({ ...spec, seq: FIRST_SEQ });
  } catch (err) {
    throw fromNativeErrnoError(err);
  }
  return splitDumpEach(raw.familyId, raw.familyVersion, raw.messages, FIRST_SEQ);
}

/** A DONE message's status as a positive errno (0: the dump ended well); 0 for an empty payload. */
function doneStatus(payload: Buffer): number {
  return payload.length >= 4 ? -payload.readInt32LE(0) : 0;
}

/**
 * Splits the native dump's messages (pure; exported for unit tests): sequence number `seq` is the
 * list, seq + 1 + i the dump made for its i-th reply. Throws GenlDumpRefused at the first error.
 */
export function splitDumpEach(
  familyId: number,
  familyVersion: number,
  messages: Buffer,
  seq: number,
): GenlDumpEachResult {
  let dropped = 0;
  // One slot per first-level reply the native side counted (every message of the family's type),
  // parseable or not, so that seq + 1 + i finds the right one.
  const slots: { reply: GenlDumpReply | null; each: GenlDumpReply[] }[] = [];
  const malformed = forEachMessage(messages, (off, len) => {
    const type = messages.readUInt16LE(off + 4);
    const index = messages.readUInt32LE(off + 8) - seq - 1; // -1: the list
    if (index < -1 || index >= slots.length) {
      dropped++;
      return;
    }
    if (type === NLMSG_ERROR || type === NLMSG_DONE) {
      // ERROR carries an errno (0: an ACK), DONE the dump's own status (0 or a negative errno).
      const payload = messages.subarray(off + NLMSG_HDRLEN, off + len);
      const errno = type === NLMSG_ERROR ? parseErrno(payload) : doneStatus(payload);
      if (errno !== 0) throw new GenlDumpRefused(index < 0 ? 'list' : 'each', index, errno ?? EPROTO);
      return;
    }
    if (type !== familyId) {
      dropped++;
      return;
    }
    // The generic netlink header (cmd, version, reserved), then the attributes.
    const attrsAt = off + NLMSG_HDRLEN + GENL_HDRLEN;
    const reply =
      attrsAt > off + len
        ? null
        : new GenlDumpReply(messages.readUInt8(off + NLMSG_HDRLEN), messages, attrsAt, off + len);
    if (reply === null) dropped++;
    if (index < 0) slots.push({ reply, each: [] });
    else if (reply !== null) slots[index]?.each.push(reply);
  });
  if (malformed) dropped++;
  const kept = slots.filter((s) => {
    if (s.reply === null) dropped += s.each.length; // what belongs to a malformed reply goes with it
    return s.reply !== null;
  });
  const list = kept.map((s) => s.reply as GenlDumpReply);
  const each = kept.map((s) => s.each);
  return { familyId, familyVersion, list, each, dropped };
}
