/**
 * Address literals as the config takes them. Addresses are compared with kernel dumps and with other
 * entries (duplicates), so they leave here in the model's canonical spelling (RFC 5952 for IPv6);
 * zone ids (`fe80::1%eth0`) are refused, since IPVS has no notion of them.
 */
import { isIPv4 } from 'node:net';
import { addressFamily, canonicalAddress, canonicalNetmask } from '../model/address.js';
import type { Family } from '../model/ipvs.js';

export interface IpAddress {
  readonly address: string;
  readonly family: Family;
}

/** An IPv4 or IPv6 literal (no zone) in canonical form, or null. */
export function parseIp(text: string): IpAddress | null {
  const family = addressFamily(text);
  if (family === null || text.includes('%')) return null;
  return { address: canonicalAddress(text), family };
}

/** The prefix length of a contiguous dotted IPv4 mask (`255.255.255.0` → 24), or null. */
export function ipv4MaskPrefix(text: string): number | null {
  // node:net refuses leading zeros, so a valid mask has exactly the spelling canonicalNetmask gives it:
  // the 33 spellings, worked out once.
  if (maskPrefixes === null) {
    maskPrefixes = new Map();
    for (let prefix = 0; prefix <= 32; prefix++)
      maskPrefixes.set(canonicalNetmask('inet', String(prefix)), prefix);
  }
  return maskPrefixes.get(text) ?? null;
}

let maskPrefixes: Map<string, number> | null = null;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** `127.0.0.1:9469`, `[::1]:9469` or `localhost:9469`; the port must be 1-65535. */
export function parseHostPort(text: string): HostPort | null {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null) return null;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return null;
  const bracketed = match[1];
  if (bracketed !== undefined) {
    const ip = parseIp(bracketed);
    return ip?.family === 'inet6' ? { host: ip.address, port } : null;
  }
  const host = match[2] ?? '';
  if (isIPv4(host) || HOSTNAME.test(host)) return { host, port };
  return null;
}
