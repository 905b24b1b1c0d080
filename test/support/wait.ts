/**
 * Waiting for something to become true, for the netns and VM tiers: one poll loop with a deadline and
 * a message that names what never happened, instead of a copy per test file.
 */

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A monotonic clock in ms (wall-clock steps do not move it); only differences mean anything. */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface WaitOptions {
  /** Give up after this long (default 60 s). */
  readonly timeoutMs?: number;
  /** Pause between probes (default 100 ms). */
  readonly intervalMs?: number;
}

/**
 * Polls `probe` until it returns something other than undefined/false and returns that; throws
 * `timed out after N ms waiting for WHAT` at the deadline. A probe that throws ends the wait at once
 * (a probe that can fail transiently catches for itself).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = monotonicMs() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (monotonicMs() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(options.intervalMs ?? 100);
  }
}

/** waitFor for a yes/no probe; returns how long it took, in whole ms (for tests that bound it). */
export async function timeUntil(
  what: string,
  predicate: () => Promise<boolean>,
  options: WaitOptions = {},
): Promise<number> {
  const started = monotonicMs();
  await waitFor(what, predicate, options);
  return Math.round(monotonicMs() - started);
}
