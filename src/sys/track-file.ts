/**
 * Reads a keepalived track file (src/model/track-file.ts says what its number means) as
 * process_track_file (keepalived/trackers/track_file.c) does: one read of at most 127 bytes; a
 * file that cannot be opened or read, or is empty, reads as 0; a number out of range is reported
 * as `ignored` (keepalived keeps its last value). The one reader for the file check and VRRP's
 * track_file. Synchronous: one bounded read, and O_NONBLOCK, so a FIFO cannot hang it.
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { parseTrackFileValue, TRACK_FILE_READ_BYTES } from '../model/track-file.js';

export type TrackFileRead =
  | { readonly kind: 'value'; readonly value: number }
  /** The file holds a number out of range: keepalived keeps the last value. */
  | { readonly kind: 'ignored'; readonly text: string };

/** Never throws: keepalived's open() failing or read() < 1 leaves the value 0. */
export function readTrackFile(path: string): TrackFileRead {
  let text = '';
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return { kind: 'value', value: 0 };
  }
  try {
    const buffer = Buffer.alloc(TRACK_FILE_READ_BYTES);
    const bytesRead = readSync(fd, buffer, 0, TRACK_FILE_READ_BYTES, null);
    text = buffer.subarray(0, bytesRead).toString('latin1');
  } catch {
    return { kind: 'value', value: 0 };
  } finally {
    closeSync(fd);
  }
  const value = parseTrackFileValue(text);
  return value === null ? { kind: 'ignored', text: text.trim().slice(0, 40) } : { kind: 'value', value };
}
