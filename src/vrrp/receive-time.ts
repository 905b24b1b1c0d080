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
 *
 * A step smaller than that bound is caught by createArrivalClock: it remembers the offset between
 * the two clocks at the previous packet, and a packet read after the offset moved by more than
 * CLOCK_STEP_MS (slewing moves it by at most 0.5 ms per second) counts as arriving now.
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

/** A change of the wall − monotonic offset between two packets beyond this is a clock step (ms). */
export const CLOCK_STEP_MS = 20;

/** Arrival times for a stream of packets, with the clock-step check (see the header). */
export interface ArrivalClock {
  /** Reads both clocks once: `now` (monotonic) and the packet's arrival on that clock. */
  read(receivedAtWall: number | undefined): { readonly now: number; readonly arrival: number };
}

export function createArrivalClock(monotonic: () => number, wall: () => number): ArrivalClock {
  let lastOffset: number | undefined;
  return {
    read(receivedAtWall) {
      const now = monotonic();
      const wallNow = wall();
      const offset = wallNow - now;
      const stepped = lastOffset !== undefined && Math.abs(offset - lastOffset) > CLOCK_STEP_MS;
      lastOffset = offset;
      return { now, arrival: packetArrivalTime(stepped ? undefined : receivedAtWall, wallNow, now) };
    },
  };
}
