/**
 * VRRP advertisements ↔ bytes, for v2 (RFC 3768) and v3 (RFC 5798). Pure and total: the decoder takes
 * the VRRP message as received (after the IP header) plus what the socket knew about the packet, and
 * returns either the advert or the reason it must be dropped — a value for every input, never an
 * exception, because it runs inside the socket's receive callback and the bytes come from anyone on
 * the link. Checks follow the RFCs' §7.1 order (TTL, version, completeness, checksum, VRID,
 * authentication, addresses, interval), so the drop counters say the first thing that was wrong.
 * Where the RFCs leave room, we do what keepalived does: the packet must be exactly as long as its
 * address count says, and a different address list is dropped (RFC 3768 §7.1 would still process the
 * address owner's, priority 255, and RFC 5798 §7.1 only asks to log; keepalived drops it regardless,
 * so a misconfigured pair shows up as a counted drop rather than as two masters taking turns). One
 * deliberate difference: the TTL must be 255 on unicast adverts too; keepalived skips that check for
 * unicast peers (newer versions take a per-peer TTL range), so a unicast advert routed across a hop
 * reaches keepalived but not us.
 */
import { addressFamily, addressToBytes, bytesToAddress, canonicalAddress } from '../model/address.js';
import type { Family } from '../model/ipvs.js';
import { internetChecksum, pseudoHeader } from './checksum.js';
import type { DropReason } from './drop-reasons.js';
import {
  VRRP_AUTH_AH,
  VRRP_AUTH_DATA_LEN,
  VRRP_AUTH_NONE,
  VRRP_AUTH_PASS,
  VRRP_HEADER_LEN,
  VRRP_TTL,
  VRRP_TYPE_ADVERTISEMENT,
  VRRP_V2_ADVER_INT_MAX_S,
  VRRP_V3_ADVER_INT_MASK,
  VRRP_VRID_MAX,
  VRRP_VRID_MIN,
  type VrrpAdvert,
  type VrrpAuthType,
  type VrrpVersion,
} from './packet.js';

export interface EncodeOptions {
  /** The IP source the advert leaves with. Its family is the packet's; v3 sums it into the checksum. */
  readonly srcAddress: string;
  /** 224.0.0.18, ff02::12 or a unicast peer. v3 sums it into the checksum. */
  readonly dstAddress: string;
}

export type EncodeResult =
  | { readonly ok: true; readonly bytes: Buffer }
  | { readonly ok: false; readonly detail: string };

/** What this virtual router is configured with; a received advert that disagrees is dropped. */
export interface ExpectedAdvert {
  readonly version: VrrpVersion;
  /** Omit to accept any VRID (e.g. to decode first and dispatch by `advert.vrid`). */
  readonly vrid?: number;
  /** v2 only; ignored for v3. */
  readonly authType: VrrpAuthType;
  /** v2 `pass` only: compared as 8 zero-padded bytes, as sent. */
  readonly password: string;
  /** Our virtual addresses (plain addresses, no prefix); compared as a set. */
  readonly addresses: readonly string[];
  /** Ours, in centiseconds; v2 drops adverts with a different one, v3 adopts the master's. */
  readonly advertIntervalCs: number;
}

export interface DecodeContext {
  /** The family of the socket the packet arrived on. */
  readonly family: Family;
  /** IP source and destination of the received packet (v3 verifies the checksum with them). */
  readonly srcAddress: string;
  readonly dstAddress: string;
  /** IPv4 TTL or IPv6 Hop Limit of the received packet: must be 255, multicast or unicast. */
  readonly ttlOrHopLimit: number;
  /** Omit for a structural check only (version, type, length, checksum, supported auth). */
  readonly expected?: ExpectedAdvert;
}

export type DecodeResult =
  | { readonly ok: true; readonly advert: VrrpAdvert }
  | { readonly ok: false; readonly reason: DropReason; readonly detail: string };

const ADDRESS_LEN: Record<Family, number> = { inet: 4, inet6: 16 };

// ---------------------------------------------------------------------------------------------
// Encoding

/** Why `advert` cannot be sent with `opts`, or null when it can. encodeAdvert fails exactly then. */
export function advertProblem(advert: VrrpAdvert, opts: EncodeOptions): string | null {
  const { version, vrid, priority, advertIntervalCs: cs, addresses } = advert;
  if (version !== 2 && version !== 3) return `version must be 2 or 3, got ${String(version)}`;
  if (!isIntIn(vrid, VRRP_VRID_MIN, VRRP_VRID_MAX)) return `VRID must be 1-255, got ${vrid}`;
  if (!isIntIn(priority, 0, 255)) return `priority must be 0-255, got ${priority}`;
  const family = addressFamily(opts.srcAddress);
  if (family === null || opts.srcAddress.includes('%'))
    return `source ${JSON.stringify(opts.srcAddress)} is not an IP address`;
  if (addressFamily(opts.dstAddress) !== family || opts.dstAddress.includes('%'))
    return `destination ${JSON.stringify(opts.dstAddress)} is not an address of the source's family`;
  if (version === 2 && family !== 'inet') return 'VRRPv2 is IPv4 only (RFC 3768); use version 3 for IPv6';
  if (addresses.length > 255)
    return `at most 255 virtual addresses fit the count field, got ${addresses.length}`;
  for (const address of addresses) {
    if (addressFamily(address) !== family || address.includes('%'))
      return `virtual address ${JSON.stringify(address)} is not an ${family === 'inet' ? 'IPv4' : 'IPv6'} address`;
  }
  if (version === 2) {
    if (!isIntIn(cs, 100, VRRP_V2_ADVER_INT_MAX_S * 100) || cs % 100 !== 0)
      return `VRRPv2 advert interval must be whole seconds, 1-255 s, got ${cs} cs`;
    if (advert.authType === 'pass') {
      if (Buffer.byteLength(advert.password) > VRRP_AUTH_DATA_LEN)
        return `password must be at most ${VRRP_AUTH_DATA_LEN} bytes, got ${Buffer.byteLength(advert.password)}`;
    } else if (advert.authType !== 'none') {
      return `auth type must be none or pass, got ${String(advert.authType)}`;
    } else if (advert.password !== '') {
      return 'a password needs auth type pass';
    }
  } else {
    if (!isIntIn(cs, 1, VRRP_V3_ADVER_INT_MASK))
      return `VRRPv3 advert interval must be 1-4095 cs, got ${cs} cs`;
    if (advert.authType !== 'none' || advert.password !== '')
      return 'VRRPv3 has no authentication (RFC 5798 §9)';
  }
  return null;
}

/**
 * The VRRP message for `advert`, checksum included, to be sent with IP protocol 112 and TTL/hop
 * limit 255 from `opts.srcAddress` to `opts.dstAddress`. Not ok only when advertProblem says why:
 * validate once when an instance is created and the send path never sees a failure.
 */
export function encodeAdvert(advert: VrrpAdvert, opts: EncodeOptions): EncodeResult {
  const problem = advertProblem(advert, opts);
  if (problem !== null) return { ok: false, detail: problem };
  const family: Family = addressFamily(opts.srcAddress) === 'inet6' ? 'inet6' : 'inet';
  const v2 = advert.version === 2;
  const addrLen = ADDRESS_LEN[family];
  const length = VRRP_HEADER_LEN + advert.addresses.length * addrLen + (v2 ? VRRP_AUTH_DATA_LEN : 0);
  const out = Buffer.alloc(length);
  out[0] = (advert.version << 4) | VRRP_TYPE_ADVERTISEMENT;
  out[1] = advert.vrid;
  out[2] = advert.priority;
  out[3] = advert.addresses.length;
  if (v2) {
    out[4] = advert.authType === 'pass' ? VRRP_AUTH_PASS : VRRP_AUTH_NONE;
    out[5] = advert.advertIntervalCs / 100;
  } else {
    // The four reserved bits stay zero (RFC 5798 §5.2.6).
    out.writeUInt16BE(advert.advertIntervalCs & VRRP_V3_ADVER_INT_MASK, 4);
  }
  advert.addresses.forEach((address, i) => {
    addressToBytes(address)?.copy(out, VRRP_HEADER_LEN + i * addrLen);
  });
  if (v2 && advert.authType === 'pass') {
    // Zero-padded, not NUL-terminated: an 8-byte password fills the field (RFC 2338 §5.3.10).
    out.write(advert.password, VRRP_HEADER_LEN + advert.addresses.length * addrLen, 'utf8');
  }
  let checksum: number;
  if (v2) {
    checksum = internetChecksum(out);
  } else {
    const pseudo = pseudoHeader(family, opts.srcAddress, opts.dstAddress, length);
    if (pseudo === null) return { ok: false, detail: 'cannot build the checksum pseudo-header' };
    checksum = internetChecksum(pseudo, out);
  }
  out.writeUInt16BE(checksum, 6);
  return { ok: true, bytes: out };
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** The VRID of a received message without checking anything else (to dispatch to an instance); null if too short. */
export function advertVrid(bytes: Uint8Array): number | null {
  return bytes.length >= VRRP_HEADER_LEN ? (bytes[1] ?? null) : null;
}

function drop(reason: DropReason, detail: string): DecodeResult {
  return { ok: false, reason, detail };
}

/** Decodes the VRRP message `bytes` (the IP payload) received as `ctx` describes. Never throws. */
export function decodeAdvert(bytes: Uint8Array, ctx: DecodeContext): DecodeResult {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const family = ctx.family;
  const hopName = family === 'inet' ? 'TTL' : 'hop limit';

  // RFC 3768 §7.1 / RFC 5798 §7.1: a router never forwards these, so anything else came from off-link.
  if (ctx.ttlOrHopLimit !== VRRP_TTL)
    return drop('bad_ttl', `${hopName} ${ctx.ttlOrHopLimit}, expected ${VRRP_TTL}`);
  if (buf.length < VRRP_HEADER_LEN)
    return drop('truncated', `${buf.length} bytes, shorter than the ${VRRP_HEADER_LEN}-byte VRRP header`);

  const b0 = buf[0] ?? 0;
  const version = b0 >> 4;
  if (version !== 2 && version !== 3) return drop('bad_version', `version ${version}, expected 2 or 3`);
  if (ctx.expected !== undefined && version !== ctx.expected.version)
    return drop('bad_version', `version ${version}, configured ${ctx.expected.version}`);
  if (version === 2 && family !== 'inet')
    return drop('bad_version', 'version 2 over IPv6 (RFC 3768 is IPv4 only)');
  const type = b0 & 0x0f;
  if (type !== VRRP_TYPE_ADVERTISEMENT)
    return drop('bad_type', `type ${type}, expected ${VRRP_TYPE_ADVERTISEMENT}`);

  const vrid = buf[1] ?? 0;
  const priority = buf[2] ?? 0;
  const count = buf[3] ?? 0;
  const addrLen = ADDRESS_LEN[family];
  const authAt = VRRP_HEADER_LEN + count * addrLen;
  const length = authAt + (version === 2 ? VRRP_AUTH_DATA_LEN : 0);
  const what = `${count} ${family === 'inet' ? 'IPv4' : 'IPv6'} address${count === 1 ? '' : 'es'}${version === 2 ? ' and authentication data' : ''}`;
  if (buf.length < length) return drop('truncated', `${buf.length} bytes, but ${what} need ${length}`);
  if (buf.length > length) return drop('bad_length', `${buf.length} bytes, but ${what} make ${length}`);

  if (version === 2) {
    // RFC 3768 §5.3.8: the VRRP message alone.
    const sum = internetChecksum(buf);
    if (sum !== 0)
      return drop('bad_checksum', `VRRPv2 checksum ${hex16(buf.readUInt16BE(6))} does not verify`);
  } else {
    // RFC 5798 §5.2.8: with the pseudo-header of the packet as received.
    const pseudo = pseudoHeader(family, ctx.srcAddress, ctx.dstAddress, length);
    if (pseudo === null)
      return drop(
        'bad_checksum',
        `cannot verify: ${ctx.srcAddress} → ${ctx.dstAddress} are not ${family} addresses`,
      );
    if (internetChecksum(pseudo, buf) !== 0)
      return drop(
        'bad_checksum',
        `VRRPv3 checksum ${hex16(buf.readUInt16BE(6))} does not verify for ${ctx.srcAddress} → ${ctx.dstAddress}`,
      );
  }

  let authType: VrrpAuthType = 'none';
  let advertIntervalCs: number;
  const authData = buf.subarray(authAt, length);
  if (version === 2) {
    const wireAuth = buf[4] ?? 0;
    if (wireAuth === VRRP_AUTH_PASS) authType = 'pass';
    else if (wireAuth === VRRP_AUTH_AH)
      return drop('auth_unsupported', 'auth type 2 (IP Authentication Header, removed by RFC 3768)');
    else if (wireAuth !== VRRP_AUTH_NONE) return drop('auth_unsupported', `unknown auth type ${wireAuth}`);
    advertIntervalCs = (buf[5] ?? 0) * 100;
  } else {
    advertIntervalCs = buf.readUInt16BE(4) & VRRP_V3_ADVER_INT_MASK;
  }
  if (advertIntervalCs === 0) return drop('bad_interval', 'advertisement interval 0');

  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    const at = VRRP_HEADER_LEN + i * addrLen;
    addresses.push(bytesToAddress(buf.subarray(at, at + addrLen), family));
  }
  const advert: VrrpAdvert = {
    version,
    vrid,
    priority,
    advertIntervalCs,
    addresses,
    authType,
    password: authType === 'pass' ? passwordText(authData) : '',
  };

  const expected = ctx.expected;
  if (expected === undefined) return { ok: true, advert };

  if (expected.vrid !== undefined && vrid !== expected.vrid)
    return drop('vrid_mismatch', `VRID ${vrid}, configured ${expected.vrid}`);
  if (version === 2) {
    // RFC 3768 §7.1: the auth type must match; RFC 2338 §5.3.6.2: so must all 8 password bytes.
    if (authType !== expected.authType)
      return drop('auth_mismatch', `auth type ${authType}, configured ${expected.authType}`);
    if (authType === 'pass' && !authData.equals(passwordBytes(expected.password)))
      return drop('auth_mismatch', 'password differs');
  }
  if (count !== expected.addresses.length)
    return drop(
      'address_count_mismatch',
      `${count} virtual addresses, configured ${expected.addresses.length}`,
    );
  const ours = new Set(expected.addresses.map(canonicalAddress));
  const theirs = new Set(addresses);
  const missing = [...ours].filter((a) => !theirs.has(a));
  const extra = addresses.filter((a) => !ours.has(a));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [
      ...(missing.length > 0 ? [`missing ${missing.join(', ')}`] : []),
      ...(extra.length > 0 ? [`unexpected ${extra.join(', ')}`] : []),
    ];
    return drop('address_list_mismatch', parts.join('; '));
  }
  if (version === 2 && advertIntervalCs !== expected.advertIntervalCs)
    return drop(
      'interval_mismatch',
      `advert interval ${advertIntervalCs / 100} s, configured ${expected.advertIntervalCs / 100} s`,
    );
  return { ok: true, advert };
}

// ---------------------------------------------------------------------------------------------

function isIntIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

function hex16(value: number): string {
  return `0x${value.toString(16).padStart(4, '0')}`;
}

/** The 8 bytes a password is sent as: UTF-8, zero-padded, cut at 8 (the config refuses longer ones). */
function passwordBytes(password: string): Buffer {
  const out = Buffer.alloc(VRRP_AUTH_DATA_LEN);
  out.write(password, 0, 'utf8');
  return out;
}

/** The password as text: the bytes before the first NUL. */
function passwordText(authData: Buffer): string {
  const end = authData.indexOf(0);
  return authData.subarray(0, end === -1 ? authData.length : end).toString('utf8');
}
