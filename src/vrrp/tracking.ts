/**
 * What trackers do to a VRRP instance, as pure functions: the rise/fall verdict of a tracked
 * script from its successive results, and, from the verdicts of every tracker an instance
 * watches, the faults that hold it out of the election and the weight that moves its priority.
 *
 * keepalived's semantics: an interface that is down (or gone) is a fault; a script with weight 0
 * is a fault while it fails; weight > 0 is added while it succeeds; weight < 0 is added (so
 * subtracted) while it fails; the result is clamped to 1..254 and an address owner keeps 255
 * (state-machine.ts effectivePriority). A script's verdict needs `fall` consecutive failures to
 * turn bad and `rise` consecutive successes to turn good; before its first result it neither
 * faults nor weighs, and that first result settles it either way (keepalived's INIT state lets
 * one success or one failure decide, so a broken service does not sit at full priority for
 * fall × interval after a start).
 *
 * Sync groups: every member of a group is judged by the trackers of all its members (the union,
 * each script counted once). Faults travel through the group anyway (sync-group.ts); sharing the
 * weights as well keeps the members' priorities moving together, so a weighted script that fails
 * on one side lowers the whole group and the peer group can preempt on every link. (keepalived
 * ignores weights on group members unless `global_tracking` is set, for exactly this reason: a
 * member that alone lost priority would be preempted on its own link only, and the group would
 * deadlock in "prefer backup".)
 */

/** The verdict on one tracked script. `unknown`: it has not returned a result yet. */
export type ScriptVerdict = 'unknown' | 'good' | 'bad';

export interface ScriptTrackState {
  readonly verdict: ScriptVerdict;
  /** Consecutive results against the current verdict (successes while bad, failures while good). */
  readonly against: number;
}

export interface RiseFall {
  readonly rise: number;
  readonly fall: number;
}

export const INITIAL_SCRIPT_TRACK: ScriptTrackState = { verdict: 'unknown', against: 0 };

/** The state after one more result (`ok`: exit status 0 within the timeout). */
export function recordScriptResult(s: ScriptTrackState, ok: boolean, limits: RiseFall): ScriptTrackState {
  if (s.verdict === 'unknown') return { verdict: ok ? 'good' : 'bad', against: 0 };
  const agrees = (s.verdict === 'good') === ok;
  if (agrees) return s.against === 0 ? s : { verdict: s.verdict, against: 0 };
  const against = s.against + 1;
  const needed = s.verdict === 'good' ? limits.fall : limits.rise;
  if (against >= needed) return { verdict: ok ? 'good' : 'bad', against: 0 };
  return { verdict: s.verdict, against };
}

/** One tracker as the arithmetic sees it. */
export type TrackerVerdict =
  | {
      readonly kind: 'interface';
      readonly name: string;
      readonly up: boolean;
      /**
       * keepalived's `track_interface IF weight N [reverse]` (vrrp_track.c
       * initialise_interface_tracking_priorities): 0 (the default) faults while down (reverse:
       * while up); > 0 is added while up, < 0 while down, times −1 with reverse.
       */
      readonly weight?: number;
      readonly reverse?: boolean;
    }
  /** A track file's status for this instance (track-file.ts trackFileStatus): −254 is FAULT. */
  | { readonly kind: 'file'; readonly name: string; readonly status: number }
  | {
      readonly kind: 'script';
      readonly name: string;
      readonly weight: number;
      readonly verdict: ScriptVerdict;
    };

export interface TrackEffect {
  /** Fault reasons, sorted: `interface eth1`, `script chk_web`. */
  readonly faults: readonly string[];
  /** The sum of the weights that apply now. */
  readonly weight: number;
}

export function interfaceFaultReason(ifname: string): string {
  return `interface ${ifname}`;
}

export function scriptFaultReason(name: string): string {
  return `script ${name}`;
}

export function fileFaultReason(name: string): string {
  return `file ${name}`;
}

/** keepalived's FAULT status of a tracked file (track_file.c). */
const FILE_FAULT = -254;

/** The faults and weight from a set of trackers (duplicates by kind and name count once). */
export function trackEffect(trackers: readonly TrackerVerdict[]): TrackEffect {
  const faults = new Set<string>();
  const weights = new Map<string, number>();
  for (const t of trackers) {
    if (t.kind === 'interface') {
      const weight = t.weight ?? 0;
      const multiplier = t.reverse === true ? -1 : 1;
      if (weight === 0) {
        if (t.up === (t.reverse === true)) faults.add(interfaceFaultReason(t.name));
      } else {
        const applies = t.up ? weight > 0 : weight < 0;
        weights.set(`interface ${t.name}`, applies ? weight * multiplier : 0);
      }
      continue;
    }
    if (t.kind === 'file') {
      if (t.status <= FILE_FAULT) faults.add(fileFaultReason(t.name));
      else weights.set(`file ${t.name}`, t.status);
      continue;
    }
    if (t.weight === 0) {
      if (t.verdict === 'bad') faults.add(scriptFaultReason(t.name));
    } else if ((t.weight > 0 && t.verdict === 'good') || (t.weight < 0 && t.verdict === 'bad')) {
      weights.set(`script ${t.name}`, t.weight);
    } else {
      weights.set(`script ${t.name}`, 0);
    }
  }
  let weight = 0;
  for (const w of weights.values()) weight += w;
  return { faults: [...faults].sort(), weight };
}

/**
 * The events that take an instance from its current tracker faults to `wanted` (pure diff):
 * faults to add first, then those to clear, so an instance never passes through a moment with
 * no fault on its way from one fault to another.
 */
export function faultChanges(
  current: readonly string[],
  wanted: readonly string[],
): { readonly add: readonly string[]; readonly clear: readonly string[] } {
  return {
    add: wanted.filter((r) => !current.includes(r)),
    clear: current.filter((r) => !wanted.includes(r)),
  };
}
