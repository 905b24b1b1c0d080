/**
 * The DNS check's two messages, as keepalived's DNS_CHECK builds and judges them
 * (keepalived/check/check_dns.c): a query with one question (RD set, class IN), and a verdict on
 * each datagram that comes back. Pure: the probe (./dns.ts) owns the socket and the clock.
 *
 * keepalived's rule, mirrored exactly (dns_recv_thread): a datagram shorter than the 12-byte
 * header, with another ID, or without QR set is not the answer and is skipped (the check keeps
 * waiting until its deadline); the answer passes when its RCODE is 0 and fails otherwise. Nothing
 * else in the answer is read (no question match, no answer count), so neither is here.
 */

/** keepalived's DNS_TYPE table (check_dns.c), names as its config spells them. */
export const DNS_QUERY_TYPES = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  RRSIG: 46,
  DNSKEY: 48,
} as const;

export type DnsQueryTypeName = keyof typeof DNS_QUERY_TYPES;

/** RFC 1035 §4.1.1: the fixed header. */
export const DNS_HEADER_BYTES = 12;
/** keepalived's DNS_BUFFER_SIZE (check_dns.h): the most of a reply it reads. */
export const DNS_MAX_REPLY_BYTES = 768;
/** RFC 1035 §2.3.4. */
export const DNS_MAX_LABEL_BYTES = 63;
export const DNS_MAX_NAME_CHARS = 253;

const FLAG_RD = 0x0100;
const FLAG_QR = 0x8000;
const CLASS_IN = 1;

/**
 * Why a name cannot be queried, or null when it can. keepalived refuses an empty label
 * (dns_name_handler: a leading dot other than "." alone, or two dots in a row); labels and names
 * longer than RFC 1035 allows are refused here too (keepalived would send a malformed question).
 */
export function dnsNameProblem(name: string): string | null {
  if (name === '' || name === '.') return null;
  if (name.startsWith('.') || name.includes('..')) return 'has an empty label';
  if (name.length > DNS_MAX_NAME_CHARS + (name.endsWith('.') ? 1 : 0))
    return `is longer than ${DNS_MAX_NAME_CHARS} characters`;
  for (const label of name.replace(/\.$/, '').split('.')) {
    if (Buffer.byteLength(label, 'latin1') > DNS_MAX_LABEL_BYTES || /[^\x21-\x7e]/.test(label))
      return `has a label longer than ${DNS_MAX_LABEL_BYTES} bytes or with blanks or non-ASCII characters`;
  }
  return null;
}

/**
 * The query: header (id, RD, one question), QNAME label by label ("" and "." are the root), QTYPE,
 * class IN (check_dns.c dns_make_query). The name must have passed dnsNameProblem().
 */
export function encodeDnsQuery(id: number, name: string, queryType: number): Buffer {
  const labels = name === '' || name === '.' ? [] : name.replace(/\.$/, '').split('.');
  const nameBytes = labels.reduce((n, l) => n + 1 + l.length, 0) + 1;
  const out = Buffer.alloc(DNS_HEADER_BYTES + nameBytes + 4);
  out.writeUInt16BE(id & 0xffff, 0);
  out.writeUInt16BE(FLAG_RD, 2);
  out.writeUInt16BE(1, 4); // QDCOUNT; AN/NS/AR counts stay 0
  let p = DNS_HEADER_BYTES;
  for (const label of labels) {
    out[p++] = label.length;
    p += out.write(label, p, 'latin1');
  }
  out[p++] = 0;
  out.writeUInt16BE(queryType, p);
  out.writeUInt16BE(CLASS_IN, p + 2);
  return out;
}

export type DnsReplyVerdict =
  /** Not the answer to this query: keep waiting. */
  | { readonly kind: 'skip'; readonly why: 'short' | 'id' | 'query' }
  | { readonly kind: 'answer'; readonly rcode: number };

/** keepalived's dns_recv_thread, as a function of the datagram and the query's ID. */
export function judgeDnsReply(reply: Uint8Array, id: number): DnsReplyVerdict {
  if (reply.length < DNS_HEADER_BYTES) return { kind: 'skip', why: 'short' };
  if (((reply[0] as number) << 8) + (reply[1] as number) !== (id & 0xffff))
    return { kind: 'skip', why: 'id' };
  const flags = ((reply[2] as number) << 8) + (reply[3] as number);
  if ((flags & FLAG_QR) === 0) return { kind: 'skip', why: 'query' };
  return { kind: 'answer', rcode: flags & 0x000f };
}

/** RFC 1035 §4.1.1 and RFC 6895 §2.3 names of the RCODEs a header can carry. */
const RCODE_NAMES = [
  'NOERROR',
  'FORMERR',
  'SERVFAIL',
  'NXDOMAIN',
  'NOTIMP',
  'REFUSED',
  'YXDOMAIN',
  'YXRRSET',
  'NXRRSET',
  'NOTAUTH',
  'NOTZONE',
];

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE ${rcode}`;
}
