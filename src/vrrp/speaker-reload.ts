/**
 * The speaker's reload (reload-plan.ts decides what changes): unchanged instances are not
 * touched, changed ones are reconfigured in place (no re-election, no VIP flap), removed ones
 * stop and new ones start. A unit that cannot start is forgotten and named in the rejection,
 * after everything else has been applied.
 */
import type { Config, VrrpInstanceConfig } from '../config/types.js';
import { IpvsdError } from '../errors.js';
import { targetKey, vipTargets } from './instance.js';
import { planReload } from './reload-plan.js';
import { deliver } from './speaker-dispatch.js';
import { enterMasterExtras, leaveMasterExtras } from './speaker-extras.js';
import {
  ensureKernelHandles,
  prepareUnits,
  releaseRuntime,
  startUnit,
  stopUnit,
} from './speaker-lifecycle.js';
import { guarded, type SpeakerState, stateOf } from './speaker-state.js';
import { refreshAllTracking, syncLinks, syncScripts, syncTrackFiles } from './speaker-trackers.js';
import { addTargets, announceBurst, queueVipWork, removeTargets } from './speaker-vips.js';
import { instanceParamsFromConfig } from './state-machine.js';

/** Applies a kept instance's new settings in place. */
function updateInstance(s: SpeakerState, next: VrrpInstanceConfig): void {
  const rt = s.runtimes.get(next.name);
  if (rt === undefined) return;
  const before = rt.config;
  const oldTargets = vipTargets(before);
  const newTargets = vipTargets(next);
  const oldKeys = new Set(oldTargets.map(targetKey));
  const newKeys = new Set(newTargets.map(targetKey));
  const dropped = oldTargets.filter((t) => !newKeys.has(targetKey(t)));
  const added = newTargets.filter((t) => !oldKeys.has(targetKey(t)));
  rt.config = next;
  rt.log.info('vrrp instance reconfigured');
  deliver(s, next.name, { type: 'reconfigure', params: instanceParamsFromConfig(next, rt.primary) });
  if (dropped.length > 0) queueVipWork(rt, () => removeTargets(s, rt, dropped));
  const extrasChanged =
    JSON.stringify([before.virtualRoutes, before.virtualRules]) !==
    JSON.stringify([next.virtualRoutes, next.virtualRules]);
  if (extrasChanged && stateOf(s, next.name)?.state === 'MASTER') {
    // The old routes and rules out, the new ones in (unchanged ones come back at once).
    const epoch = rt.epoch;
    queueVipWork(rt, async () => {
      await leaveMasterExtras(s, { config: before, log: rt.log });
      if (rt.epoch === epoch) await enterMasterExtras(s, rt);
    });
  }
  if (added.length > 0 && stateOf(s, next.name)?.state === 'MASTER') {
    const epoch = rt.epoch;
    queueVipWork(rt, async () => {
      if (rt.epoch !== epoch) return;
      await addTargets(s, rt, added);
      if (rt.epoch === epoch) announceBurst(s, rt, epoch, s.env.garp.count, true);
    });
  }
}

async function applyReload(s: SpeakerState, next: Config): Promise<void> {
  const plan = planReload(s.config, next);
  s.env.logger.info(
    {
      kept: plan.kept.map((u) => u.name),
      updated: plan.updated,
      stopped: plan.stopped.map((u) => u.name),
      started: plan.started.map((u) => u.name),
    },
    'vrrp reload planned',
  );
  await Promise.all(plan.stopped.map((unit) => stopUnit(s, unit)));
  s.config = next;
  ensureKernelHandles(s);
  const nextInstances = new Map(next.vrrpInstances.map((i) => [i.name, i]));
  for (const name of plan.updated) {
    const instance = nextInstances.get(name);
    if (instance !== undefined) guarded(s, 'reconfigure', () => updateInstance(s, instance));
  }
  const failed: string[] = [];
  for (const unit of plan.started) {
    try {
      await prepareUnits(s, [unit]);
    } catch (error) {
      s.env.logger.error({ err: error, unit: unit.name }, 'vrrp instance not started');
      failed.push(`${unit.name}: ${(error as Error).message}`);
      // Forget whatever part of it was prepared.
      for (const member of unit.members) {
        const rt = s.runtimes.get(member);
        if (rt !== undefined) releaseRuntime(s, rt);
        s.standalone.delete(member);
      }
      s.groups.delete(unit.name);
    }
  }
  await syncLinks(s);
  syncScripts(s, plan.changedScripts);
  syncTrackFiles(s, false);
  for (const unit of plan.started) if (!failed.some((f) => f.startsWith(`${unit.name}:`))) startUnit(s, unit);
  refreshAllTracking(s);
  if (failed.length > 0) {
    throw new IpvsdError('IPVSD_ERR_USAGE', `VRRP reload: not started: ${failed.join('; ')}`);
  }
}

/** Queues a reload behind the one in progress; before start() it only replaces the configuration. */
export function reloadSpeaker(s: SpeakerState, next: Config): Promise<void> {
  const run = async (): Promise<void> => {
    if (s.phase === 'new') {
      s.config = next;
      return;
    }
    if (s.phase !== 'running') throw new IpvsdError('IPVSD_ERR_USAGE', 'VRRP speaker is not running');
    await applyReload(s, next);
  };
  const result = s.reloads.then(run, run);
  s.reloads = result.catch(() => undefined);
  return result;
}
