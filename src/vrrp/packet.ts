/**
 * What a VRRP advertisement says, independent of its version, and the protocol's wire constants with
 * the RFC section that fixes each. One shape for v2 and v3 so that the state machine never asks which
 * version it speaks: the interval is always in centiseconds (v2's whole seconds × 100), and v3 adverts
 * simply carry no authentication. codec.ts turns this into bytes and back.
 */

// --- Versions and types -----------------------------------------------------------------------

/** RFC 3768 §5.3.1. */
export const VRRP_VERSION_2 = 2;
/** RFC 5798 §5.2.1. */
export const VRRP_VERSION_3 = 3;
/** The only packet type (RFC 3768 §5.3.2, RFC 5798 §5.2.2); others MUST be discarded. */
export const VRRP_TYPE_ADVERTISEMENT = 1;

// --- IP fields --------------------------------------------------------------------------------

/** IPv4 TTL / IPv6 Hop Limit on send, and the only value accepted on receipt (RFC 3768 §5.2.3, RFC 5798 §5.1.1.3, §5.1.2.3). */
export const VRRP_TTL = 255;
/** RFC 3768 §5.2.2, RFC 5798 §5.1.1.2. */
export const VRRP_MCAST_GROUP4 = '224.0.0.18';
/** RFC 5798 §5.1.2.2. */
export const VRRP_MCAST_GROUP6 = 'ff02::12';

// --- VRRP fields ------------------------------------------------------------------------------

/** Version/type, VRID, priority, count, then auth type + adver int (v2) or rsvd + max adver int (v3), checksum (RFC 3768 §5.1, RFC 5798 §5.1). */
export const VRRP_HEADER_LEN = 8;
/** VRRPv2 carries 8 bytes of authentication data after the addresses (RFC 3768 §5.3.10). */
export const VRRP_AUTH_DATA_LEN = 8;

/** Priority of the router that owns the virtual addresses (RFC 3768 §5.3.4, RFC 5798 §5.2.4). */
export const VRRP_PRIO_OWNER = 255;
/** Priority sent by a master that stops, so a backup takes over after the skew (RFC 3768 §5.3.4, RFC 5798 §5.2.4). */
export const VRRP_PRIO_STOP = 0;
/** Default backup priority (RFC 3768 §5.3.4, RFC 5798 §5.2.4). */
export const VRRP_PRIO_DEFAULT = 100;
/** VRID range (RFC 3768 §5.3.3, RFC 5798 §5.2.3). */
export const VRRP_VRID_MIN = 1;
export const VRRP_VRID_MAX = 255;

/** VRRPv2 auth types. RFC 3768 §5.3.6 keeps 1 and 2 "Reserved" for compatibility with RFC 2338 §5.3.6. */
export const VRRP_AUTH_NONE = 0;
/** RFC 2338 §5.3.6.2: simple text password in the authentication data, zero-padded to 8 bytes. */
export const VRRP_AUTH_PASS = 1;
/** RFC 2338 §5.3.6.3: IP Authentication Header. Removed by RFC 3768 (§10); not supported here. */
export const VRRP_AUTH_AH = 2;

/** VRRPv2 Adver Int: whole seconds in 8 bits (RFC 3768 §5.3.7). */
export const VRRP_V2_ADVER_INT_MAX_S = 255;
/** VRRPv3 Max Adver Int: centiseconds in the low 12 bits (RFC 5798 §5.2.7)... */
export const VRRP_V3_ADVER_INT_MASK = 0x0fff;
/** ...after 4 reserved bits, zero on send and ignored on receipt (RFC 5798 §5.2.6). */
export const VRRP_V3_RSVD_MASK = 0xf000;

// --- The advert -------------------------------------------------------------------------------

export type VrrpVersion = 2 | 3;

/** `ah` is deliberately absent: RFC 3768 removed it and keepalived's support is a build option. */
export type VrrpAuthType = 'none' | 'pass';

export interface VrrpAdvert {
  readonly version: VrrpVersion;
  /** 1–255. */
  readonly vrid: number;
  /** 0 (master stopping) – 255 (address owner). */
  readonly priority: number;
  /** Centiseconds. v2: whole seconds on the wire, so a multiple of 100 (100–25500). v3: 1–4095. */
  readonly advertIntervalCs: number;
  /** The virtual addresses, canonical text, in wire order. IPv4 for v2; the packet's family for v3. */
  readonly addresses: readonly string[];
  /** v2 only; always `none` in v3 (RFC 5798 has no authentication). */
  readonly authType: VrrpAuthType;
  /** The simple-text password (at most 8 bytes of UTF-8); '' unless `authType` is `pass`. */
  readonly password: string;
}
