/**
 * A VRRP sync group as a pure function, with keepalived's semantics: the members move together.
 * In NAT mode the client-side VIP and the real servers' gateway VIP must live on the same
 * director, so the group is MASTER only when every member can be, and one member leaving MASTER
 * (a higher-priority advert, a handover, a stop) or entering FAULT takes every member with it.
 *
 * How: every member is stepped with `mayBecomeMaster: false`, so where the RFC would make it
 * master it stays BACKUP and says it `wantsMaster` (its master-down timer fired, or it is the
 * address owner). After each event the group reconciles, in this order:
 *   1. faults travel: while any member has a fault of its own, every member also carries the
 *      group's fault reason, so trackers on one member act on the whole group (and a master
 *      member entering FAULT sends priority 0, so the peer group takes over after Skew_Time);
 *   2. when every member is MASTER or wants to be, the ones that are not are promoted together
 *      (`sync_master`);
 *   3. otherwise, if some members are MASTER and some are not, the masters step down
 *      (`sync_backup`: priority 0, then BACKUP, so the peer takes over the VIP now rather than
 *      after its master-down timer; keepalived leaves silently here).
 * "Prefer backup" (keepalived's phrase) is the rule: a group that cannot agree stays BACKUP.
 *
 * Members' own events must go through `stepGroup`, never straight to `step`.
 */

import type { InstanceState } from './state-machine.js';
import { step } from './state-machine.js';
import type { NotifyState, VrrpAction, VrrpEvent, VrrpState } from './types.js';

export interface SyncGroupState {
  readonly name: string;
  /** MASTER when every member is; FAULT when any is; INIT when all are; BACKUP otherwise. */
  readonly state: VrrpState;
  /** In configuration order; a member's name is `params.name`. */
  readonly members: readonly InstanceState[];
}

export type SyncGroupEvent =
  /** An event of one member (its advert, its timer, its tracker, its handover). */
  | { readonly type: 'member'; readonly member: string; readonly event: VrrpEvent }
  | { readonly type: 'startup' }
  | { readonly type: 'shutdown' }
  /** Graceful handover of the whole group (`ipvsctl failover GROUP`). */
  | { readonly type: 'force_backup' };

export interface MemberActions {
  readonly member: string;
  readonly actions: readonly VrrpAction[];
}

export type SyncGroupAction = { readonly type: 'notify'; readonly state: NotifyState };

export interface SyncGroupStep {
  readonly group: SyncGroupState;
  /** Per member, in member order; members without actions are left out. */
  readonly actions: readonly MemberActions[];
  /**
   * The group's own notify when its state changed. Whatever follows the group (the IPVS sync
   * daemon) should switch to master before the members' become_master actions run, and to
   * backup after their become_backup / become_fault actions (DESIGN §6).
   */
  readonly groupActions: readonly SyncGroupAction[];
}

/** The fault reason a group puts on its members while any member has a fault of its own. */
export function syncFaultReason(groupName: string): string {
  return `sync group ${groupName}`;
}

export function createSyncGroupState(name: string, members: readonly InstanceState[]): SyncGroupState {
  return { name, state: groupStateOf(members), members };
}

function wantsOrIsMaster(m: InstanceState): boolean {
  return m.state === 'MASTER' || (m.state === 'BACKUP' && m.wantsMaster);
}

function groupStateOf(members: readonly InstanceState[]): VrrpState {
  if (members.some((m) => m.state === 'FAULT')) return 'FAULT';
  if (members.every((m) => m.state === 'INIT')) return 'INIT';
  if (members.every((m) => m.state === 'MASTER')) return 'MASTER';
  return 'BACKUP';
}

export function stepGroup(group: SyncGroupState, event: SyncGroupEvent, now: number): SyncGroupStep {
  const members = [...group.members];
  const actions = members.map((): VrrpAction[] => []);
  const apply = (i: number, memberEvent: VrrpEvent, mayBecomeMaster = false): void => {
    const member = members[i];
    if (member === undefined) return;
    const result = step(member, memberEvent, now, { mayBecomeMaster });
    members[i] = result.state;
    actions[i]?.push(...result.actions);
  };
  const applyAll = (memberEvent: VrrpEvent, which: (m: InstanceState) => boolean = () => true): void => {
    members.forEach((m, i) => {
      if (which(m)) apply(i, memberEvent);
    });
  };

  if (event.type === 'member') {
    const index = members.findIndex((m) => m.params.name === event.member);
    if (index === -1) return { group, actions: [], groupActions: [] };
    // When every other member is (or wants to be) master, this one may go straight there; the
    // others follow in step 2. Otherwise it is held in BACKUP.
    const othersWant = members.every((m, i) => i === index || wantsOrIsMaster(m));
    apply(index, event.event, othersWant);
  } else {
    const memberEvent: VrrpEvent = { type: event.type };
    // A group event that takes every member to MASTER at once (startup of owners only) needs no hold.
    const trial = members.map((m) => step(m, memberEvent, now, { mayBecomeMaster: true }));
    const together = trial.length > 0 && trial.every((r) => r.state.state === 'MASTER');
    members.forEach((_, i) => {
      const result = trial[i];
      if (together && result !== undefined) {
        members[i] = result.state;
        actions[i]?.push(...result.actions);
      } else {
        apply(i, memberEvent);
      }
    });
  }

  // 1. Faults travel.
  const reason = syncFaultReason(group.name);
  const faulty = members.some((m) => m.faults.some((r) => r !== reason));
  applyAll(faulty ? { type: 'fault', reason } : { type: 'fault_cleared', reason }, (m) =>
    faulty ? !m.faults.includes(reason) : m.faults.includes(reason),
  );

  // 2. Master together, or 3. backup together.
  if (members.every(wantsOrIsMaster)) {
    applyAll({ type: 'sync_master' }, (m) => m.state === 'BACKUP');
  } else if (members.some((m) => m.state === 'MASTER')) {
    applyAll({ type: 'sync_backup' }, (m) => m.state === 'MASTER');
  }

  const state = groupStateOf(members);
  const groupActions: SyncGroupAction[] =
    state === group.state ? [] : [{ type: 'notify', state: state === 'INIT' ? 'STOP' : state }];
  const memberActions: MemberActions[] = [];
  members.forEach((m, i) => {
    const list = actions[i] ?? [];
    if (list.length > 0) memberActions.push({ member: m.params.name, actions: list });
  });
  return { group: { name: group.name, state, members }, actions: memberActions, groupActions };
}
