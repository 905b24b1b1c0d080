/**
 * Why a received VRRP packet was dropped. Every drop is counted by reason (per instance, in
 * `ipvsctl status` and `/metrics`), so the list is fixed and exported: a counter map can be built
 * with every reason at zero, and a Prometheus label never appears out of nowhere. The RFCs say to
 * discard and log these; keepalived counts most of them under similar names in its stats.
 */

export const DROP_REASONS = [
  /** Shorter than the fixed header, or than the addresses (and v2 authentication data) it announces. */
  'truncated',
  /** Longer than the announced address count allows (RFC 3768 §7.1 / RFC 5798 §7.1: complete packet). */
  'bad_length',
  /** IPv4 TTL or IPv6 Hop Limit is not 255 (RFC 3768 §7.1, RFC 5798 §7.1): sent from off-link. */
  'bad_ttl',
  /** Not version 2 or 3, not the configured version, or version 2 over IPv6 (RFC 3768 is IPv4 only). */
  'bad_version',
  /** Not an ADVERTISEMENT (type 1; RFC 3768 §5.3.2, RFC 5798 §5.2.2). */
  'bad_type',
  /** The Internet checksum does not verify (v3: with the pseudo-header of the received packet). */
  'bad_checksum',
  /** Another virtual router's advert (only when the context names a VRID). */
  'vrid_mismatch',
  /** VRRPv2 auth type 2 (IP Authentication Header, removed by RFC 3768) or an unknown type. */
  'auth_unsupported',
  /** VRRPv2 auth type or simple-text password differs from ours (RFC 3768 §7.1). */
  'auth_mismatch',
  /** The advert carries a different number of virtual addresses than we are configured with. */
  'address_count_mismatch',
  /** Same count, different virtual addresses (compared as a set). */
  'address_list_mismatch',
  /** VRRPv2 only: the Adver Int differs from ours (RFC 3768 §7.1). v3 backups adopt the master's. */
  'interval_mismatch',
  /** An advertisement interval of 0, which would make Master_Down_Interval collapse to the skew. */
  'bad_interval',
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

/** A counter per reason, all zero: `counts[reason] += 1` needs no existence check. */
export function emptyDropCounts(): Record<DropReason, number> {
  const counts = {} as Record<DropReason, number>;
  for (const reason of DROP_REASONS) counts[reason] = 0;
  return counts;
}

export function isDropReason(value: string): value is DropReason {
  return (DROP_REASONS as readonly string[]).includes(value);
}
