/**
 * The file check (keepalived's FILE_CHECK): read the number in a file and judge it with the
 * file's weight (src/model/track-file.ts). keepalived watches the file with inotify; here it is read
 * every `interval` instead. A number out of range is ignored and the last value read for this check
 * object is judged again (0 before any: keepalived's last_status starts at 0).
 */
import type { FileCheck } from '../config/types.js';
import { fileCheckVerdict } from '../model/track-file.js';
import { readTrackFile } from '../sys/track-file.js';
import { ABORTED_REASON, type ProbeResult, stopwatch } from './result.js';

export type FileProbeCheck = Pick<FileCheck, 'path' | 'weight' | 'reverse'>;

/** The last value read per check object (a reload brings new objects and reads afresh). */
const lastValues = new WeakMap<FileProbeCheck, number>();

export async function probeFile(check: FileProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
  if (signal.aborted) return { ok: false, latencyMs: 0, reason: ABORTED_REASON };
  const elapsed = stopwatch();
  const read = readTrackFile(check.path);
  let value: number;
  let note = '';
  if (read.kind === 'value') {
    value = read.value;
    lastValues.set(check, value);
  } else {
    const last = lastValues.get(check);
    note = ` (ignored out-of-range ${JSON.stringify(read.text)})`;
    // keepalived's last_status starts at 0 (the file unread).
    value = last ?? 0;
  }
  const verdict = fileCheckVerdict(value, check);
  return {
    ok: verdict.ok,
    latencyMs: elapsed(),
    weightDelta: verdict.weightDelta,
    reason: `value ${value}${verdict.ok && verdict.weightDelta !== 0 ? `, weight ${verdict.weightDelta > 0 ? '+' : ''}${verdict.weightDelta}` : ''}${note}`,
  };
}
