/**
 * keepalived's track files, the pure part: how the number in the file is read and what it means
 * for whoever tracks it with a weight (keepalived/trackers/track_file.c). The file check
 * (src/check/file.ts) and VRRP's track_file can both use it (and the reader in
 * src/sys/track-file.ts), since it sits below both; nothing here knows about either.
 *
 * Reading (process_track_file): at most the first 127 bytes, strtol(buf, NULL, 0) — leading
 * blanks, a sign, 0x/0 prefixes for hex/octal, trailing text ignored, no digits at all read as 0;
 * a missing or empty file reads as 0. A number outside [INT32_MIN, INT32_MAX + 1] is logged and
 * ignored: the last value stays.
 *
 * Meaning (update_track_file_status): with weight 0, a non-zero value is a failure and 0 is
 * success (`reverse` swaps them); otherwise the status is value × weight (× −1 with `reverse`),
 * clamped to the int range, and INT_MIN (IPVS_WEIGHT_FAULT for real servers,
 * process_update_checker_track_file_status) is the failure; any other status is added to the
 * real server's weight (VRRP: to the priority, with its own limits in vrrp_track.c).
 */

/** process_track_file: `char buf[128]`, one read of sizeof(buf) − 1. */
export const TRACK_FILE_READ_BYTES = 127;
export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

/**
 * strtol(text, NULL, 0) over the text (stopping at a NUL, as C does); null when the result lies
 * outside [INT32_MIN, INT32_MAX + 1] (process_track_file ignores such a value). LONG overflow
 * (ERANGE) is out of range too.
 */
export function parseTrackFileValue(text: string): number | null {
  const s = text.split('\0', 1)[0] ?? '';
  // isspace(): space, \t, \n, \v, \f, \r.
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)?/.exec(s);
  const digits = m?.[2];
  if (m === null || digits === undefined) return 0;
  const negative = m[1] === '-';
  let magnitude: bigint;
  if (/^0[xX]/.test(digits)) magnitude = BigInt(digits);
  else if (digits.startsWith('0') && digits.length > 1) magnitude = BigInt(`0o${digits.slice(1)}`);
  else magnitude = BigInt(digits);
  const value = negative ? -magnitude : magnitude;
  if (value < BigInt(INT32_MIN) || value > BigInt(INT32_MAX) + 1n) return null;
  return Number(value);
}

export interface TrackFileWeight {
  /** The multiplier; 0: the value only says up (0) or down (non-zero). */
  readonly weight: number;
  /** keepalived's `reverse`: the multiplier's sign (weight_multiplier −1), or swapped sense for 0. */
  readonly reverse: boolean;
}

/** INT_MIN: keepalived's IPVS_WEIGHT_FAULT (ip_vs.h), the status that means failure. */
export const TRACK_FILE_FAULT = INT32_MIN;

/** update_track_file_status: the status a tracker sees for `value`. */
export function trackFileStatus(value: number, w: TrackFileWeight): number {
  if (w.weight === 0) return (value === 0) === w.reverse ? TRACK_FILE_FAULT : 0;
  const product = value * w.weight * (w.reverse ? -1 : 1);
  // weight_range(): clamp the 64-bit product to int.
  return Math.min(Math.max(product, INT32_MIN), INT32_MAX);
}

export interface TrackFileVerdict {
  readonly ok: boolean;
  /** What keepalived adds to the real server's weight while ok (0 when failed). */
  readonly weightDelta: number;
}

/** A real server's FILE_CHECK verdict for `value` (process_update_checker_track_file_status). */
export function fileCheckVerdict(value: number, w: TrackFileWeight): TrackFileVerdict {
  const status = trackFileStatus(value, w);
  return status === TRACK_FILE_FAULT ? { ok: false, weightDelta: 0 } : { ok: true, weightDelta: status };
}

/** IPVS_WEIGHT_LIMIT (keepalived's ip_vs.h): INT32_MAX, the most the kernel's int weight holds. */
export const IPVS_WEIGHT_LIMIT = INT32_MAX;

/**
 * The weight a live real server gets in the kernel: its configured weight plus the sum of its
 * file checks' deltas (keepalived's effective_weight = iweight + every checker's cur_weight,
 * check_daemon.c set_effective_weights, a 64-bit sum), then real_weight() (check_data.h): below 0
 * is 0, above IPVS_WEIGHT_LIMIT is the limit. At 0 the server stays in the table and takes no new
 * connections; it is not removed (update_svr_wgt only edits the destination).
 */
export function effectiveWeight(configured: number, weightDelta: number): number {
  const sum = configured + weightDelta;
  if (!(sum > 0)) return 0;
  return sum > IPVS_WEIGHT_LIMIT ? IPVS_WEIGHT_LIMIT : sum;
}
