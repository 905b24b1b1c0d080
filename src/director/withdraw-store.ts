/**
 * The operator's withdrawals (`ipvsctl withdraw [ADDRESS]`), kept across daemon restarts in
 * `DIR/withdrawn.json`, next to the drains: a node taken out of the routers' ECMP for maintenance
 * must not come back by itself when the daemon is restarted or upgraded. Only `ipvsctl announce`
 * lifts a withdrawal. Without a state directory, withdrawals live in memory only and every
 * withdraw says so.
 */
import { join } from 'node:path';
import { addressFamily, canonicalAddress } from '../model/address.js';
import { readStateFile, writeStateFile } from './state-file.js';

export const WITHDRAW_FILE = 'withdrawn.json';

export interface Withdrawals {
  /** `ipvsctl withdraw` without an address: every VIP, those a reload adds included. */
  readonly all: boolean;
  /** Canonical VIPs, sorted. */
  readonly addresses: readonly string[];
}

export const NO_WITHDRAWALS: Withdrawals = { all: false, addresses: [] };

export interface WithdrawStore {
  /** The file, or null when withdrawals are not persisted. */
  readonly file: string | null;
  load(): Promise<Withdrawals>;
  save(withdrawals: Withdrawals): Promise<void>;
}

/** The withdrawals in a file's text; throws a message naming what is wrong. */
export function parseWithdrawFile(text: string): Withdrawals {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON (${(err as Error).message})`);
  }
  const { all, addresses } = (data ?? {}) as Record<string, unknown>;
  if (typeof all !== 'boolean') throw new Error('no boolean "all"');
  if (!Array.isArray(addresses)) throw new Error('no "addresses" list');
  return {
    all,
    addresses: addresses.map((a, i) => {
      const canonical = typeof a === 'string' && addressFamily(a) !== null ? canonicalAddress(a) : null;
      if (canonical === null) throw new Error(`addresses[${i}] is not an IP address`);
      return canonical;
    }),
  };
}

export function withdrawFileText(w: Withdrawals): string {
  return `${JSON.stringify({ version: 1, all: w.all, addresses: [...new Set(w.addresses)].sort() }, null, 2)}\n`;
}

export function createWithdrawStore(dir: string | null): WithdrawStore {
  if (dir === null) return { file: null, load: async () => NO_WITHDRAWALS, save: async () => undefined };
  const file = join(dir, WITHDRAW_FILE);
  return {
    file,
    load: () => readStateFile(file, parseWithdrawFile, NO_WITHDRAWALS),
    save: (w) => writeStateFile(dir, file, withdrawFileText(w)),
  };
}
