/**
 * The speaker's trackers. Every instance tracks its own interface and its `track_interfaces`
 * (link state pushed by the kernel, sys/link-monitor.ts) and its `track_scripts` (one runner per
 * script, script-runner.ts). Their verdicts become fault / fault_cleared / priority_changed
 * events for the state machine (tracking.ts does the arithmetic); a sync group's members are
 * judged by the union of their trackers, so a tracker on one member acts on the whole group.
 * An interface that comes back as a new device gets a new socket (and its source re-read) here.
 */
import type { VrrpScriptConfig } from '../config/types.js';
import type { LinkState } from '../sys/link-monitor.js';
import { readTrackFile } from '../sys/track-file.js';
import { primaryAddress } from './instance.js';
import { createScriptRunner, type ScriptOutcome, type ScriptRunner } from './script-runner.js';
import { deliver, openEntrySocket } from './speaker-dispatch.js';
import {
  closeEntrySocket,
  guarded,
  type Runtime,
  type ScriptRuntime,
  type SocketEntry,
  type SpeakerState,
  stateOf,
  unitMembers,
} from './speaker-state.js';
import { effectivePriority, instanceParamsFromConfig } from './state-machine.js';
import { syncFaultReason } from './sync-group.js';
import { initTrackFile, type TrackFileRuntime, trackFileStatus } from './track-file.js';
import {
  faultChanges,
  INITIAL_SCRIPT_TRACK,
  recordScriptResult,
  type ScriptTrackState,
  type TrackerVerdict,
  trackEffect,
} from './tracking.js';

function linkUp(s: SpeakerState, ifname: string): boolean {
  // Not (yet) known: do not fault on a guess.
  return s.links === null ? true : (s.currentLinks.get(ifname)?.up ?? true);
}

/** The instance's own interface is usable: up, and our socket is bound to this incarnation. */
function ownInterfaceUp(s: SpeakerState, rt: Runtime): boolean {
  const link = s.currentLinks.get(rt.config.interface);
  if (link === undefined) return true;
  if (rt.entry.socket === null) return false;
  // The socket may sit on the VMAC: its incarnation is checked against that link.
  const socketLink = s.currentLinks.get(rt.entry.ifname) ?? link;
  return link.up && (rt.entry.ifindex === null || rt.entry.ifindex === socketLink.ifindex);
}

function trackersOf(s: SpeakerState, rt: Runtime): TrackerVerdict[] {
  // dont_track_primary: keepalived gives the instance's own interface VRRP_NOT_TRACK_IF
  // (vrrp_track.c initialise_interface_tracking_priorities skips it).
  const out: TrackerVerdict[] =
    rt.config.dontTrackPrimary === true
      ? []
      : [{ kind: 'interface', name: rt.config.interface, up: ownInterfaceUp(s, rt) }];
  const weighted = new Map((rt.config.trackedInterfaces ?? []).map((t) => [t.name, t]));
  for (const ifname of rt.config.trackInterfaces) {
    if (ifname === rt.config.interface && rt.config.dontTrackPrimary !== true) continue;
    const w = weighted.get(ifname);
    out.push({
      kind: 'interface',
      name: ifname,
      up: linkUp(s, ifname),
      ...(w !== undefined ? { weight: w.weight, reverse: w.reverse } : {}),
    });
  }
  for (const ref of rt.config.trackFiles ?? []) {
    const file = s.trackFiles.get(ref.name);
    if (file === undefined) continue;
    out.push({ kind: 'file', name: ref.name, status: trackFileStatus(file.value, ref.weight, ref.reverse) });
  }
  for (const name of rt.config.trackScripts) {
    const script = s.scripts.get(name);
    if (script === undefined) continue;
    out.push({ kind: 'script', name, weight: script.config.weight, verdict: script.track.verdict });
  }
  return out;
}

/**
 * Brings the unit of `name` in line with its trackers: faults added first, then priorities,
 * then faults cleared (so an instance leaving FAULT starts its election at the new priority).
 */
export function refreshTracking(s: SpeakerState, name: string): void {
  if (s.phase !== 'running' && s.phase !== 'starting') return;
  const members = unitMembers(s, name);
  if (members.length === 0) return;
  const effect = trackEffect(members.flatMap((rt) => trackersOf(s, rt)));
  const own = (rt: Runtime) => {
    const sync = rt.group === null ? null : syncFaultReason(rt.group);
    return (stateOf(s, rt.config.name)?.faults ?? []).filter((r) => r !== sync);
  };
  for (const rt of members) {
    for (const reason of faultChanges(own(rt), effect.faults).add) {
      rt.log.warn({ reason }, 'vrrp tracker failed');
      deliver(s, rt.config.name, { type: 'fault', reason });
    }
  }
  for (const rt of members) {
    const state = stateOf(s, rt.config.name);
    if (state === undefined) continue;
    const priority = effectivePriority(state.params.priority, effect.weight);
    if (priority !== state.effectivePriority)
      deliver(s, rt.config.name, { type: 'priority_changed', priority });
  }
  for (const rt of members) {
    for (const reason of faultChanges(own(rt), effect.faults).clear) {
      rt.log.info({ reason }, 'vrrp tracker recovered');
      deliver(s, rt.config.name, { type: 'fault_cleared', reason });
    }
  }
}

/** refreshTracking once for each unit among `rts` (a sync group counts once). */
function refreshUnits(rts: Iterable<Runtime>, each: (name: string) => void): void {
  const done = new Set<string>();
  for (const rt of rts) {
    const unit = rt.group ?? rt.config.name;
    if (done.has(unit)) continue;
    done.add(unit);
    each(rt.config.name);
  }
}

export function refreshAllTracking(s: SpeakerState): void {
  refreshUnits(s.runtimes.values(), (name) => guarded(s, 'tracking', () => refreshTracking(s, name)));
}

export function onLinkChange(s: SpeakerState, state: LinkState): void {
  if (!s.currentLinks.has(state.ifname)) return;
  const previous = s.currentLinks.get(state.ifname);
  s.currentLinks.set(state.ifname, state);
  s.env.logger.info(
    { interface: state.ifname, up: state.up, ifindex: state.ifindex, was: previous?.up },
    'tracked link changed',
  );
  for (const entry of s.sockets.values()) {
    if (
      entry.ifname === state.ifname &&
      state.up &&
      state.ifindex !== null &&
      state.ifindex !== entry.ifindex
    ) {
      reopenSocket(s, entry, state.ifindex);
    }
  }
  const affected = [...s.runtimes.values()].filter(
    (rt) => rt.config.interface === state.ifname || rt.config.trackInterfaces.includes(state.ifname),
  );
  refreshUnits(affected, (name) => refreshTracking(s, name));
}

/** The interface came back as a new device (deleted and re-created): bind a new socket to it. */
function reopenSocket(s: SpeakerState, entry: SocketEntry, ifindex: number): void {
  closeEntrySocket(s, entry);
  try {
    entry.socket = openEntrySocket(s, entry);
    entry.ifindex = ifindex;
    s.env.logger.info({ interface: entry.ifname, ifindex }, 'vrrp socket reopened');
  } catch (error) {
    s.env.logger.error({ err: error, interface: entry.ifname }, 'vrrp socket not reopened');
    return;
  }
  // Its address may have changed with it: adverts leave from (and tie-break on) the new one.
  for (const rt of entry.instances) {
    void refreshPrimary(s, rt).catch((error: unknown) =>
      rt.log.error({ err: error }, 'vrrp source address not re-read'),
    );
  }
}

async function refreshPrimary(s: SpeakerState, rt: Runtime): Promise<void> {
  if (s.rtnl === null || rt.config.unicastSrcIp !== null) return;
  const primary = primaryAddress(rt.config, rt.family, await s.rtnl.listAddresses(rt.config.interface));
  if (primary === null || primary === rt.primary || s.runtimes.get(rt.config.name) !== rt) return;
  rt.log.info({ from: rt.primary, to: primary }, 'vrrp source address changed');
  rt.primary = primary;
  deliver(s, rt.config.name, { type: 'reconfigure', params: instanceParamsFromConfig(rt.config, primary) });
}

function onScriptResult(s: SpeakerState, name: string, script: ScriptRuntime, outcome: ScriptOutcome): void {
  if (s.scripts.get(name) !== script) return;
  const before = script.track.verdict;
  script.track = recordScriptResult(script.track, outcome.ok, script.config);
  if (script.track.verdict === before) return;
  s.env.logger.info(
    { script: name, verdict: script.track.verdict, was: before, reason: outcome.reason },
    'tracked script changed',
  );
  const tracking = [...s.runtimes.values()].filter((rt) => rt.config.trackScripts.includes(name));
  refreshUnits(tracking, (unit) => refreshTracking(s, unit));
}

function newScriptRuntime(s: SpeakerState, cfg: VrrpScriptConfig, track: ScriptTrackState): ScriptRuntime {
  const { env } = s;
  const script: ScriptRuntime = { config: cfg, track, runner: undefined as unknown as ScriptRunner };
  script.runner = createScriptRunner(
    { argv: cfg.argv, intervalMs: cfg.intervalMs, timeoutMs: cfg.timeoutMs },
    {
      onResult: (outcome) => guarded(s, 'tracked script', () => onScriptResult(s, cfg.name, script, outcome)),
      now: env.clock,
      setTimeout: env.setTimer,
      clearTimeout: env.clearTimer,
      ...(env.runScript !== undefined ? { runScript: env.runScript } : {}),
    },
  );
  return script;
}

/**
 * Runs exactly the scripts some instance tracks (as keepalived: an untracked script never
 * runs). A changed definition restarts its runner; its verdict survives unless the command
 * itself changed.
 */
export function syncScripts(s: SpeakerState, changed: readonly string[] = []): void {
  const tracked = new Set(s.config.vrrpInstances.flatMap((i) => i.trackScripts));
  const defs = new Map(s.config.vrrpScripts.map((d) => [d.name, d]));
  // A snapshot: entries are replaced while we go.
  for (const [name, script] of [...s.scripts]) {
    const def = defs.get(name);
    if (!tracked.has(name) || def === undefined || changed.includes(name)) {
      script.runner.stop();
      s.scripts.delete(name);
      if (def !== undefined && tracked.has(name)) {
        const sameCommand = JSON.stringify(def.argv) === JSON.stringify(script.config.argv);
        const track = sameCommand ? { verdict: script.track.verdict, against: 0 } : INITIAL_SCRIPT_TRACK;
        s.scripts.set(name, newScriptRuntime(s, def, track));
      }
    }
  }
  for (const name of tracked) {
    const def = defs.get(name);
    if (def !== undefined && !s.scripts.has(name))
      s.scripts.set(name, newScriptRuntime(s, def, INITIAL_SCRIPT_TRACK));
  }
  for (const script of s.scripts.values()) script.runner.start();
}

/**
 * Watches exactly the track files some instance tracks (as keepalived: an untracked file is
 * forgotten). `initial`: the daemon is starting, so init_file values are written (keepalived
 * never writes them on a reload).
 */
export function syncTrackFiles(s: SpeakerState, initial: boolean): void {
  const tracked = new Set(s.config.vrrpInstances.flatMap((i) => (i.trackFiles ?? []).map((t) => t.name)));
  const defs = new Map((s.config.vrrpTrackFiles ?? []).map((d) => [d.name, d]));
  for (const [name, file] of [...s.trackFiles]) {
    const def = defs.get(name);
    if (!tracked.has(name) || def === undefined || def.path !== file.config.path) {
      file.watcher.close();
      s.trackFiles.delete(name);
    } else file.config = def;
  }
  for (const name of tracked) {
    const def = defs.get(name);
    if (def === undefined || s.trackFiles.has(name)) continue;
    if (initial) {
      const error = initTrackFile(def);
      if (error !== undefined)
        s.env.logger.warn({ err: error, file: def.path }, 'track file not initialised');
    }
    const file: TrackFileRuntime = { config: def, value: 0, watcher: { close: () => undefined } };
    const first = readTrackFile(def.path);
    file.value = first.kind === 'value' ? first.value : 0;
    file.watcher = s.env.watchFile(
      def.path,
      () => guarded(s, 'track file', () => onTrackFileChange(s, name, file)),
      (error) => s.env.logger.warn({ err: error, file: def.path }, 'track file not watched'),
    );
    s.trackFiles.set(name, file);
    s.env.logger.info({ file: def.path, name, value: file.value }, 'track file read');
  }
}

export function closeTrackFiles(s: SpeakerState): void {
  for (const file of s.trackFiles.values()) file.watcher.close();
  s.trackFiles.clear();
}

function onTrackFileChange(s: SpeakerState, name: string, file: TrackFileRuntime): void {
  if (s.trackFiles.get(name) !== file) return;
  const read = readTrackFile(file.config.path);
  if (read.kind === 'ignored') {
    s.env.logger.warn(
      { file: file.config.path, text: read.text },
      'track file holds an invalid number - ignored',
    );
    return;
  }
  const value = read.value;
  if (value === file.value) return;
  s.env.logger.info({ file: file.config.path, name, value, was: file.value }, 'track file changed');
  file.value = value;
  const tracking = [...s.runtimes.values()].filter((rt) =>
    (rt.config.trackFiles ?? []).some((t) => t.name === name),
  );
  refreshUnits(tracking, (unit) => refreshTracking(s, unit));
}

/** Watches exactly the interfaces some instance runs on or tracks. */
export async function syncLinks(s: SpeakerState): Promise<void> {
  const links = s.links;
  if (links === null) return;
  const wanted = new Set([
    ...s.config.vrrpInstances.flatMap((i) => [i.interface, ...i.trackInterfaces]),
    ...[...s.sockets.values()].map((e) => e.ifname),
  ]);
  for (const ifname of [...s.currentLinks.keys()]) {
    if (!wanted.has(ifname)) {
      s.currentLinks.delete(ifname);
      links.unwatch(ifname);
    }
  }
  for (const ifname of wanted) {
    if (s.currentLinks.has(ifname)) continue;
    const state = await links.watch(ifname);
    // A change reported while watch() was in flight is newer than its answer.
    if (!s.currentLinks.has(ifname)) s.currentLinks.set(ifname, state);
  }
}
