/**
 * When a received advert arrived, on the speaker's monotonic clock, from the kernel's receive
 * timestamp. The master-down timer must run from the advert's arrival (RFC 5798 §6.4.2), not from
 * when a busy event loop got round to reading it: under load (or qemu TCG) the read lags by tens
 * of milliseconds, and every lag pushed the takeover back by as much.
 *
 * The kernel stamps packets with CLOCK_REALTIME and the state machine runs on a monotonic clock,
 * so the stamp is turned into an age (wall now − stamp) and taken off the monotonic now. A stamp
 * slightly in the future (Date.now() truncates to whole milliseconds, the stamp does not) counts
 * as age 0. An age beyond MAX_PACKET_AGE_MS is taken for a clock
 * step between the stamp and the read (or a loop stalled that long, where the old behaviour is the
 * safe one) and ignored: the packet then counts as arriving now, as without a timestamp. Trusting
 * a forward step would date the advert too early and could declare a live master dead.
 */

/** Ages above this are not believed (ms). Real read lags are ~0.1 ms natively, ≤ ~100 ms under TCG. */
export const MAX_PACKET_AGE_MS = 2000;

/**
 * The monotonic time (the clock of `monoNow`) at which a packet arrived. `receivedAtWall`: the
 * kernel's timestamp (ms since the epoch), undefined if unknown; `wallNow` and `monoNow`: the two
 * clocks read now. Never later than `monoNow`.
 */
export function packetArrivalTime(
  receivedAtWall: number | undefined,
  wallNow: number,
  monoNow: number,
): number {
  if (receivedAtWall === undefined) return monoNow;
  const age = wallNow - receivedAtWall;
  // Also refuses NaN and infinities.
  if (!(age <= MAX_PACKET_AGE_MS) || !Number.isFinite(age)) return monoNow;
  return monoNow - Math.max(0, age);
}
