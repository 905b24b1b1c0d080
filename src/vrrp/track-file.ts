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
 * fs.watch, which is inotify on Linux). Reading and parsing the file: src/sys/track-file.ts, shared
 * with the file check; the number's meaning for VRRP (its clamp to priorities) is here.
 */
import { existsSync, type FSWatcher, watch, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { VrrpTrackFileConfig } from '../config/types.js';

/** The status that means FAULT (keepalived: weights ≤ −254). */
export const TRACK_FILE_FAULT = -254;
const MAX_STATUS = 253;
/** What `value` does to an instance tracking the file with `weight` and `reverse`. Pure. */
export function trackFileStatus(value: number, weight: number, reverse: boolean): number {
  if (weight === 0) return (value !== 0) !== reverse ? TRACK_FILE_FAULT : 0;
  const status = value * weight * (reverse ? -1 : 1);
  return Math.max(TRACK_FILE_FAULT, Math.min(MAX_STATUS, status));
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
