/**
 * The VRRP speaker: every configured instance and sync group, wired to the world. The decisions
 * are the pure state machine's (state-machine.ts, sync-group.ts); the speaker feeds it received
 * adverts, timer expiries and tracker verdicts, and performs what it asks for: adverts out, VIPs
 * added or removed through rtnetlink, gratuitous ARP / unsolicited NA bursts, notify scripts.
 *
 * This module is the facade (createVrrpSpeaker and the public types). The work is split by duty
 * around one explicit state object (speaker-state.ts):
 * - speaker-lifecycle.ts: kernel handles, sockets, preparing, starting and stopping units;
 * - speaker-dispatch.ts: packets and events in, state machine stepped, actions performed;
 * - speaker-vips.ts: the ordered VIP work, takeovers and address announcements;
 * - speaker-trackers.ts: interface and script trackers, links and scripts kept in step;
 * - speaker-reload.ts: applying a new configuration in place.
 *
 * Nothing here throws from a socket or timer callback (DESIGN §7): failures are logged and counted.
 */
import type { Config } from '../config/types.js';
import { IpvsdError } from '../errors.js';
import { emptyDropCounts } from './drop-reasons.js';
import { commitGroup, deliver } from './speaker-dispatch.js';
import { startSpeaker, stopSpeaker } from './speaker-lifecycle.js';
import { reloadSpeaker } from './speaker-reload.js';
import { createSpeakerState, dropsKey, type SpeakerState, stateOf } from './speaker-state.js';
import type {
  VrrpInstanceStatus,
  VrrpSocketStatus,
  VrrpSpeaker,
  VrrpSpeakerDeps,
  VrrpSpeakerStatus,
} from './speaker-types.js';
import { stepGroup } from './sync-group.js';

export {
  DEFAULT_GARP,
  type GarpOptions,
  type OpenSpeakerSocket,
  type SpeakerLinks,
  type SpeakerRtnetlink,
  type SpeakerSocket,
  type TakeoverStep,
  type TakeoverStepHook,
  type VrrpInstanceStatus,
  type VrrpSocketStatus,
  type VrrpSpeaker,
  type VrrpSpeakerDeps,
  type VrrpSpeakerStatus,
  type VrrpStateChange,
  type VrrpStateListener,
  type VrrpStatusState,
  type VrrpTransitionHook,
} from './speaker-types.js';

export function createVrrpSpeaker(initialConfig: Config, deps: VrrpSpeakerDeps): VrrpSpeaker {
  const s = createSpeakerState(initialConfig, deps);
  return {
    start: () => startSpeaker(s),
    stop: () => stopSpeaker(s),
    status: () => status(s),
    failover(name) {
      if (s.phase !== 'running') throw new IpvsdError('IPVSD_ERR_USAGE', 'VRRP speaker is not running');
      const group = s.groups.get(name);
      if (group !== undefined) {
        commitGroup(s, group, stepGroup(group, { type: 'force_backup' }, s.env.clock()));
        return;
      }
      if (!s.runtimes.has(name)) {
        throw new IpvsdError('IPVSD_ERR_NOT_FOUND', `no VRRP instance or sync group named ${name}`);
      }
      deliver(s, name, { type: 'force_backup' });
    },
    onStateChange(listener) {
      s.listeners.add(listener);
      return () => {
        s.listeners.delete(listener);
      };
    },
    reload: (next) => reloadSpeaker(s, next),
  };
}

function status(s: SpeakerState): VrrpSpeakerStatus {
  const instances = s.config.vrrpInstances.map((instance): VrrpInstanceStatus => {
    const rt = s.runtimes.get(instance.name);
    const state = stateOf(s, instance.name);
    return {
      name: instance.name,
      state: state?.state ?? 'INIT',
      priority: state?.effectivePriority ?? instance.priority,
      base_priority: instance.priority,
      faults: [...(state?.faults ?? [])].sort(),
      master_address: state?.master?.address ?? null,
      transitions: rt?.transitions ?? 0,
      adverts: {
        sent: rt?.sent ?? 0,
        received: rt?.received ?? 0,
        dropped: { ...(rt?.dropped ?? emptyDropCounts()) },
      },
    };
  });
  const syncGroups = s.config.vrrpSyncGroups.map((g) => ({
    name: g.name,
    state: s.groups.get(g.name)?.state ?? ('INIT' as const),
  }));
  return { instances, sync_groups: syncGroups, sockets: socketStatus(s) };
}

/** Kernel drops by interface and family: the open sockets' and those of sockets closed before. */
function socketStatus(s: SpeakerState): VrrpSocketStatus[] {
  const out = new Map<string, { interface: string; family: 'inet' | 'inet6'; drops: number }>();
  for (const entry of s.sockets.values()) {
    const key = dropsKey(entry);
    const row = out.get(key) ?? {
      interface: entry.ifname,
      family: entry.family,
      drops: s.closedDrops.get(key) ?? 0,
    };
    row.drops += entry.socket?.drops?.() ?? 0;
    out.set(key, row);
  }
  return [...out.values()];
}
