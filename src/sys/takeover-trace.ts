/**
 * An opt-in trace of the takeover path (IPVSD_TAKEOVER_TRACE=1): high-resolution times of each step
 * from the master-down timer firing to the first gratuitous ARP, written as one line to stderr when
 * the first announcement has gone out. For the takeover benchmark (bench/takeover-driver.ts prints
 * the lines), to see where the milliseconds go; off, every call is one boolean test.
 */

let enabled = process.env.IPVSD_TAKEOVER_TRACE === '1';
let suspended = false;

let started: bigint | null = null;
let steps: [string, number][] = [];
let extra: Record<string, number> = {};

const msSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

/**
 * While suspended nothing is traced: the takeover warm-up (director/takeover-warm-up.ts) runs the
 * same steps on a scratch speaker, and its rehearsal is no takeover.
 */
export function suspendTrace(on: boolean): void {
  if (on && !suspended) {
    suspended = true;
    enabled = false;
    started = null;
  } else if (!on && suspended) {
    suspended = false;
    enabled = process.env.IPVSD_TAKEOVER_TRACE === '1';
  }
}

/** The master-down timer fired `lateMs` after its deadline: a new trace starts. */
export function traceTimerFired(lateMs: number, earlyRearms: number): void {
  if (!enabled) return;
  started = process.hrtime.bigint();
  steps = [];
  extra = { lateMs: Math.round(lateMs * 1000) / 1000, earlyRearms };
}

/** One step of the trace in progress (ignored when no master-down timer started one). */
export function traceStep(name: string): void {
  if (!enabled || started === null) return;
  steps.push([name, Math.round(msSince(started) * 1000) / 1000]);
}

/** The first announcement went out: writes the trace and ends it. */
export function traceEnd(name: string): void {
  if (!enabled || started === null) return;
  traceStep(name);
  process.stderr.write(`takeover-trace ${JSON.stringify({ ...extra, steps })}\n`);
  started = null;
}
