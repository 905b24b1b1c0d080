/**
 * Reads a keepalived track file (src/model/track-file.ts says what its number means) as
 * process_track_file (keepalived/trackers/track_file.c) does: one read of at most 127 bytes; a
 * file that cannot be opened or read, or is empty, reads as 0; a number out of range is reported
 * as `ignored` (keepalived keeps its last value). O_NONBLOCK, so a FIFO cannot hang it.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { parseTrackFileValue, TRACK_FILE_READ_BYTES } from '../model/track-file.js';

export type TrackFileRead =
  | { readonly kind: 'value'; readonly value: number }
  /** The file holds a number out of range: keepalived keeps the last value. */
  | { readonly kind: 'ignored'; readonly text: string };

/**
 * Reads the file as process_track_file does: a file that cannot be opened or read, or is empty,
 * reads as 0. Bounded: one read of 127 bytes, O_NONBLOCK so a FIFO cannot hang it.
 */
export async function readTrackFile(path: string): Promise<TrackFileRead> {
  let text = '';
  try {
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const buffer = Buffer.alloc(TRACK_FILE_READ_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, TRACK_FILE_READ_BYTES, null);
      text = buffer.subarray(0, bytesRead).toString('latin1');
    } finally {
      await handle.close();
    }
  } catch {
    // keepalived: open() failing or read() < 1 leaves new_status 0.
    return { kind: 'value', value: 0 };
  }
  const value = parseTrackFileValue(text);
  return value === null ? { kind: 'ignored', text: text.trim().slice(0, 40) } : { kind: 'value', value };
}
