/**
 * The operator's drains, kept across daemon restarts in `DIR/drains.json`. A drain is how an operator
 * takes a real server out for maintenance; a daemon restart (an upgrade, a crash that systemd
 * restarts) must not quietly send traffic back to it. The directory is systemd's StateDirectory=
 * (`$STATE_DIRECTORY`, /var/lib/ipvsd in the unit) or `ipvsd --state-dir`; without either, drains
 * live in memory only and every drain says so.
 *
 * The file is written whole on every change (./state-file.ts: a crash mid-write leaves the previous
 * version, never half a file). Pure parsing
 * (`parseDrainFile`) is separate from the file I/O so the format's edge cases are unit-tested.
 */
import { join } from 'node:path';
import { readStateFile, writeStateFile } from './state-file.js';

export const DRAIN_FILE = 'drains.json';

/** One drain: the virtual server's name and the real server as `198.51.100.11:8080` / `[2001:db8::1]:80`. */
export interface DrainEntry {
  readonly virtual_server: string;
  readonly real_server: string;
}

export interface DrainStore {
  /** The file, or null when drains are not persisted. */
  readonly file: string | null;
  /** The saved drains; a missing file is none. Rejects with a readable message on a damaged file. */
  load(): Promise<DrainEntry[]>;
  /** Replaces the saved drains. Rejects (with the errno's message) when the file cannot be written. */
  save(entries: readonly DrainEntry[]): Promise<void>;
}

/** The drains in a file's text; throws a message naming what is wrong. */
export function parseDrainFile(text: string): DrainEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON (${(err as Error).message})`);
  }
  const list = (data as { drained?: unknown } | null)?.drained;
  if (!Array.isArray(list)) throw new Error('no "drained" list');
  return list.map((item, i) => {
    const { virtual_server: vs, real_server: rs } = (item ?? {}) as Record<string, unknown>;
    if (typeof vs !== 'string' || typeof rs !== 'string')
      throw new Error(`drained[${i}] needs "virtual_server" and "real_server" strings`);
    return { virtual_server: vs, real_server: rs };
  });
}

export function drainFileText(entries: readonly DrainEntry[]): string {
  const sorted = [...entries].sort(
    (a, b) => a.virtual_server.localeCompare(b.virtual_server) || a.real_server.localeCompare(b.real_server),
  );
  return `${JSON.stringify({ version: 1, drained: sorted }, null, 2)}\n`;
}

/** A store in `dir` (created with mode 0700 on the first save), or a no-op store for `null`. */
export function createDrainStore(dir: string | null): DrainStore {
  if (dir === null) return { file: null, load: async () => [], save: async () => undefined };
  const file = join(dir, DRAIN_FILE);
  return {
    file,
    load: () => readStateFile(file, parseDrainFile, []),
    save: (entries) => writeStateFile(dir, file, drainFileText(entries)),
  };
}
