/**
 * The UDP check's bytes, as keepalived's UDP_CHECK has them: the free-form hex strings of its
 * `payload` and `require_reply` (lib/parser.c read_hex_str), the filler it sends without a payload
 * (keepalived/core/layer4.c set_buf, UDP_BUFSIZE 32) and its test of a reply
 * (keepalived/check/check_udp.c check_udp_reply). Pure, so the config reader, `convert` and the
 * probe (./udp.ts) share one reading.
 */

/** keepalived's default max_reply_length (check_udp.c udp_check_handler: UINT8_MAX). */
export const UDP_DEFAULT_MAX_REPLY = 255;
/** keepalived's bound on min/max_reply_length (check_udp.c min_length_handler: UINT16_MAX). */
export const UDP_MAX_REPLY_LIMIT = 65535;
/** A datagram's payload cannot be longer (IPv4, 65535 − 20 − 8). */
export const UDP_MAX_PAYLOAD = 65507;

/** layer4.c set_buf: "keepalived check - " repeated over the buffer. */
export function keepalivedFiller(length: number): Buffer {
  const unit = Buffer.from('keepalived check - ', 'latin1');
  const out = Buffer.alloc(length);
  for (let p = 0; p < length; p += unit.length) unit.copy(out, p, 0, Math.min(unit.length, length - p));
  return out;
}

/** What UDP_CHECK sends without a payload (layer4.c udp_bind_connect, UDP_BUFSIZE). */
export const UDP_DEFAULT_PAYLOAD = keepalivedFiller(32);

export interface HexBytes {
  readonly data: Uint8Array;
  /** Bits to ignore per byte (from `x` digits); null when none was written. */
  readonly mask: Uint8Array | null;
}

/**
 * read_hex_str: blanks (space, tab) separate groups; each group is read two digits at a time and
 * a lone last digit is one byte ("Ab12f 3" is AB 12 0F 03). With `wildcards`, `x`/`X` is a digit
 * whose four bits are ignored. Only a space ends a one-digit byte: "1\t2" is an error, as there.
 * Returns null for an empty or malformed string (keepalived: "Invalid hex string").
 */
export function readHexString(text: string, wildcards: boolean): HexBytes | null {
  const data: number[] = [];
  const mask: number[] = [];
  let usingMask = false;
  let p = 0;
  const digit = (c: string | undefined): number | 'x' | null => {
    if (c === undefined) return null;
    if (wildcards && (c === 'x' || c === 'X')) return 'x';
    return /^[0-9a-fA-F]$/.test(c) ? Number.parseInt(c, 16) : null;
  };
  for (;;) {
    while (text[p] === ' ' || text[p] === '\t') p++;
    if (p >= text.length) break;
    const first = digit(text[p++]);
    if (first === null) return null;
    let value = first === 'x' ? 0 : first;
    let maskValue = first === 'x' ? 0x0f : 0;
    if (first === 'x') usingMask = true;
    if (p < text.length && text[p] !== ' ') {
      const second = digit(text[p++]);
      if (second === null) return null;
      value <<= 4;
      maskValue <<= 4;
      if (second === 'x') {
        maskValue |= 0x0f;
        usingMask = true;
      } else value |= second;
    }
    data.push(value);
    mask.push(maskValue);
  }
  if (data.length === 0) return null;
  return { data: Uint8Array.from(data), mask: usingMask ? Uint8Array.from(mask) : null };
}

/** The bytes as keepalived's man page writes them back: "AB 12 0F", with `X` for ignored nibbles. */
export function formatHexBytes(bytes: HexBytes): string {
  return [...bytes.data]
    .map((b, i) => {
      const m = bytes.mask?.[i] ?? 0;
      const hi = (m & 0xf0) !== 0 ? 'X' : ((b >> 4) & 0xf).toString(16).toUpperCase();
      const lo = (m & 0x0f) !== 0 ? 'X' : (b & 0xf).toString(16).toUpperCase();
      return hi + lo;
    })
    .join(' ');
}

export interface UdpReplyRule {
  readonly replyData: Uint8Array | null;
  readonly replyMask: Uint8Array | null;
  readonly minReplyLength: number;
  readonly maxReplyLength: number;
}

/**
 * check_udp.c udp_check_thread + check_udp_reply: without reply data every reply passes (the
 * lengths are not even looked at); with it, the length must lie in [min, max] and the bytes match
 * up to the shorter of reply and data, masked bits aside. `length` is the datagram's real size
 * (keepalived reads at most max + 1 bytes, so anything longer than max fails the same way).
 * Returns null when it passes, else why not.
 */
export function udpReplyProblem(reply: Uint8Array, length: number, rule: UdpReplyRule): string | null {
  const data = rule.replyData;
  if (data === null) return null;
  if (length < rule.minReplyLength || length > rule.maxReplyLength)
    return `reply of ${length} bytes, expected ${rule.minReplyLength}-${rule.maxReplyLength}`;
  const n = Math.min(length, data.length, reply.length);
  for (let i = 0; i < n; i++) {
    const ignore = rule.replyMask?.[i] ?? 0;
    if ((((reply[i] as number) ^ (data[i] as number)) & ~ignore & 0xff) !== 0)
      return `reply differs at byte ${i}`;
  }
  return null;
}
