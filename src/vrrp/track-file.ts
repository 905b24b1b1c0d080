/**
 * keepalived's track files (keepalived/trackers/track_file.c), mirrored exactly: a file holds a
 * number (read as strtol(buf, NULL, 0) reads the first 127 bytes: decimal, 0x hex, 0 octal,
 * leading blanks and sign allowed, what follows the digits ignored); a missing or empty file, or
 * one without digits, counts as 0; a number outside [−2^31, 2^31] is logged and ignored (the
 * last value stays). Each tracking instance turns the number into a status (trackFileStatus):
 * with weight 0, a non-zero number is FAULT (reverse: zero is); otherwise number × weight
 * (× −1 with reverse), clamped to [−254, 253], is added to the priority, and −254 is FAULT
 * (process_update_vrrp_track_file_status). The file is re-read when it is written, moved in or
 * deleted (keepalived: inotify IN_CLOSE_WRITE | IN_MOVE | IN_DELETE on its directory; here
 * fs.watch, which is inotify on Linux).
 */
import {
  closeSync,
  constants,
  existsSync,
  type FSWatcher,
  openSync,
  readSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { basename, dirname } from 'node:path';
import type { VrrpTrackFileConfig } from '../config/types.js';

/** The status that means FAULT (keepalived: weights ≤ −254). */
export const TRACK_FILE_FAULT = -254;
const MAX_STATUS = 253;
/** keepalived reads into a 128-byte buffer. */
const READ_BYTES = 127;
const INT32_MIN = -(2 ** 31);
const INT32_MAX_PLUS_ONE = 2 ** 31;
/** strtol's range on 64-bit Linux: beyond it, ERANGE. */
const LONG_MAX = 2n ** 63n - 1n;
const LONG_MIN = -(2n ** 63n);

/** strtol(text, NULL, 0) as glibc does it; null where it would set ERANGE. */
export function strtol0(text: string): number | null {
  let i = 0;
  while (i < text.length && ' \t\n\v\f\r'.includes(text[i] as string)) i++;
  let negative = false;
  if (text[i] === '+' || text[i] === '-') {
    negative = text[i] === '-';
    i++;
  }
  let base = 10;
  if (text[i] === '0') {
    if ((text[i + 1] === 'x' || text[i + 1] === 'X') && /[0-9a-fA-F]/.test(text[i + 2] ?? '')) {
      base = 16;
      i += 2;
    } else base = 8;
  }
  const digits = base === 16 ? /[0-9a-fA-F]/ : base === 8 ? /[0-7]/ : /[0-9]/;
  let value = 0n;
  while (i < text.length && digits.test(text[i] as string)) {
    value = value * BigInt(base) + BigInt(Number.parseInt(text[i] as string, 16));
    i++;
    if (value > LONG_MAX + 1n) break;
  }
  if (negative) value = -value;
  if (value > LONG_MAX || value < LONG_MIN) return null;
  return Number(value);
}

/** The number in a file's first bytes (null: refused, keep the last one). Pure. */
export function parseTrackFileValue(text: string): number | null {
  if (text.length === 0) return 0;
  const value = strtol0(text.slice(0, READ_BYTES));
  if (value === null || value < INT32_MIN || value > INT32_MAX_PLUS_ONE) return null;
  return value;
}

/** What `value` does to an instance tracking the file with `weight` and `reverse`. Pure. */
export function trackFileStatus(value: number, weight: number, reverse: boolean): number {
  if (weight === 0) return (value !== 0) !== reverse ? TRACK_FILE_FAULT : 0;
  const status = value * weight * (reverse ? -1 : 1);
  return Math.max(TRACK_FILE_FAULT, Math.min(MAX_STATUS, status));
}

/** Reads the file now: its value, or null when it holds something refused. Never throws. */
export function readTrackFile(path: string): number | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return 0;
  }
  try {
    const buffer = Buffer.alloc(READ_BYTES);
    const n = readSync(fd, buffer, 0, READ_BYTES, null);
    return parseTrackFileValue(buffer.subarray(0, n).toString('latin1'));
  } catch {
    return 0;
  } finally {
    closeSync(fd);
  }
}

/** keepalived's init_file: written at start when missing, or always with overwrite. */
export function initTrackFile(config: VrrpTrackFileConfig): Error | undefined {
  if (config.init === null) return undefined;
  if (existsSync(config.path) && !config.init.overwrite) return undefined;
  try {
    writeFileSync(config.path, `${config.init.value}\n`);
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

/** Calls `onChange` (never throwing) when something happens to `path`; returns the stop. */
export type WatchFile = (
  path: string,
  onChange: () => void,
  onError: (error: Error) => void,
) => { close(): void };

export const watchFileWithFs: WatchFile = (path, onChange, onError) => {
  const name = basename(path);
  let watcher: FSWatcher;
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
      if (filename === null || filename === name) onChange();
    });
  } catch (error) {
    onError(error as Error);
    return { close: () => undefined };
  }
  watcher.on('error', onError);
  return { close: () => watcher.close() };
};

export interface TrackFileRuntime {
  config: VrrpTrackFileConfig;
  /** The last value read (0 until the file holds something). */
  value: number;
  watcher: { close(): void };
}
