import { describe, expect, it } from 'vitest';
import {
  createInstanceState,
  type InstanceParams,
  type InstanceState,
} from '../../../src/vrrp/state-machine.js';
import {
  createSyncGroupState,
  type MemberActions,
  type SyncGroupAction,
  type SyncGroupEvent,
  type SyncGroupState,
  stepGroup,
  syncFaultReason,
} from '../../../src/vrrp/sync-group.js';
import { timerEvent } from '../../../src/vrrp/timers.js';
import type { NotifyState, TimerKind, VrrpAction, VrrpEvent, VrrpState } from '../../../src/vrrp/types.js';

// A NAT director's group: the client-side VIP and the real servers' gateway VIP.
const NOW = 10_000;
const MDI = 3610; // priority 100 at 100 cs
const SKEW = 610;
const SYNC = syncFaultReason('VG1');

const CLIENT: InstanceParams = {
  name: 'VI_client',
  version: 3,
  virtualRouterId: 51,
  priority: 100,
  advertIntervalCs: 100,
  preempt: true,
  preemptDelayMs: 0,
  initialState: 'backup',
  primaryAddress: '203.0.113.2',
};
const SERVER: InstanceParams = {
  ...CLIENT,
  name: 'VI_server',
  virtualRouterId: 52,
  primaryAddress: '198.51.100.2',
};

type Patch = Partial<Omit<InstanceState, 'timers' | 'params'>> & {
  readonly timers?: Partial<Record<TimerKind, number | null>>;
  readonly params?: Partial<InstanceParams>;
};

function member(base: InstanceParams, patch: Patch = {}): InstanceState {
  const { params, timers, ...rest } = patch;
  const s = createInstanceState({ ...base, ...params });
  return {
    ...s,
    ...(params?.priority !== undefined ? { effectivePriority: params.priority } : {}),
    ...rest,
    timers: { ...s.timers, ...timers },
  };
}

const asBackup = (p: InstanceParams, patch: Patch = {}) =>
  member(p, { state: 'BACKUP', ...patch, timers: { master_down: NOW + 2000, ...patch.timers } });
const asMaster = (p: InstanceParams, patch: Patch = {}) =>
  member(p, {
    state: 'MASTER',
    master: { address: p.primaryAddress, priority: patch.params?.priority ?? p.priority },
    ...patch,
    timers: { advert: NOW + 500, ...patch.timers },
  });
const asFault = (p: InstanceParams, faults: string[], patch: Patch = {}) =>
  member(p, { state: 'FAULT', faults, ...patch });

function group(state: VrrpState, client: InstanceState, server: InstanceState): SyncGroupState {
  return { name: 'VG1', state, members: [client, server] };
}

const send = (priority: number): VrrpAction => ({ type: 'send_advert', priority });
const set = (kind: TimerKind, at: number): VrrpAction => ({ type: 'set_timer', kind, at });
const cancel = (kind: TimerKind): VrrpAction => ({ type: 'cancel_timer', kind });
const notify = (state: NotifyState, priority = 100): VrrpAction => ({ type: 'notify', state, priority });
const BECOME_MASTER: VrrpAction = { type: 'become_master' };
const BECOME_BACKUP: VrrpAction = { type: 'become_backup' };
const BECOME_FAULT: VrrpAction = { type: 'become_fault' };
const STOP: VrrpAction = { type: 'stop' };
const groupNotify = (state: NotifyState): SyncGroupAction[] => [{ type: 'notify', state }];

const TO_MASTER = [
  cancel('master_down'),
  send(100),
  set('advert', NOW + 1000),
  BECOME_MASTER,
  notify('MASTER'),
];
const TO_BACKUP_AT_STARTUP = [BECOME_BACKUP, set('master_down', NOW + MDI), notify('BACKUP')];
const RELEASE = [cancel('advert'), send(0), BECOME_BACKUP, set('master_down', NOW + MDI), notify('BACKUP')];
const MASTER_TO_FAULT = [cancel('advert'), send(0), BECOME_FAULT, notify('FAULT')];

function on(name: 'VI_client' | 'VI_server', event: VrrpEvent): SyncGroupEvent {
  return { type: 'member', member: name, event };
}

function higherAdvert(vrid: number, src: string): VrrpEvent {
  return {
    type: 'advert_received',
    advert: { version: 3, vrid, priority: 150, advertIntervalCs: 100, srcAddress: src, addresses: [] },
  };
}

/** [title, before, event, after, member actions, group actions] */
type Row = [string, SyncGroupState, SyncGroupEvent, SyncGroupState, MemberActions[], SyncGroupAction[]];

describe('stepGroup', () => {
  const client = (actions: VrrpAction[]): MemberActions => ({ member: 'VI_client', actions });
  const server = (actions: VrrpAction[]): MemberActions => ({ member: 'VI_server', actions });
  const backupsHearingMasters = group(
    'BACKUP',
    asBackup(CLIENT, { master: { address: '203.0.113.3', priority: 150 } }),
    asBackup(SERVER, { master: { address: '198.51.100.3', priority: 150 } }),
  );
  const bothMaster = group('MASTER', asMaster(CLIENT), asMaster(SERVER));

  const rows: Row[] = [
    [
      'startup: both members BACKUP, the group BACKUP',
      createSyncGroupState('VG1', [member(CLIENT), member(SERVER)]),
      { type: 'startup' },
      group(
        'BACKUP',
        asBackup(CLIENT, { timers: { master_down: NOW + MDI } }),
        asBackup(SERVER, { timers: { master_down: NOW + MDI } }),
      ),
      [client(TO_BACKUP_AT_STARTUP), server(TO_BACKUP_AT_STARTUP)],
      groupNotify('BACKUP'),
    ],
    [
      'startup of address owners only: MASTER together at once',
      createSyncGroupState('VG1', [
        member(CLIENT, { params: { priority: 255 } }),
        member(SERVER, { params: { priority: 255 } }),
      ]),
      { type: 'startup' },
      group(
        'MASTER',
        asMaster(CLIENT, { params: { priority: 255 }, timers: { advert: NOW + 1000 } }),
        asMaster(SERVER, { params: { priority: 255 }, timers: { advert: NOW + 1000 } }),
      ),
      [
        client([send(255), set('advert', NOW + 1000), BECOME_MASTER, notify('MASTER', 255)]),
        server([send(255), set('advert', NOW + 1000), BECOME_MASTER, notify('MASTER', 255)]),
      ],
      groupNotify('MASTER'),
    ],
    [
      'startup of an owner with a non-owner: the owner is held in BACKUP until the other can be master',
      createSyncGroupState('VG1', [member(CLIENT, { params: { priority: 255 } }), member(SERVER)]),
      { type: 'startup' },
      group(
        'BACKUP',
        asBackup(CLIENT, {
          params: { priority: 255 },
          wantsMaster: true,
          timers: { master_down: NOW + 3004 },
        }),
        asBackup(SERVER, { timers: { master_down: NOW + MDI } }),
      ),
      [
        client([BECOME_BACKUP, set('master_down', NOW + 3004), notify('BACKUP', 255)]),
        server(TO_BACKUP_AT_STARTUP),
      ],
      groupNotify('BACKUP'),
    ],
    [
      'one member’s master-down timer fires while the other still hears its master: held in BACKUP',
      group(
        'BACKUP',
        asBackup(CLIENT, { timers: { master_down: NOW } }),
        backupsHearingMasters.members[1] as InstanceState,
      ),
      on('VI_client', { type: 'master_down_timer_expired' }),
      group(
        'BACKUP',
        asBackup(CLIENT, { wantsMaster: true, timers: { master_down: NOW + MDI } }),
        backupsHearingMasters.members[1] as InstanceState,
      ),
      [client([set('master_down', NOW + MDI)])],
      [],
    ],
    [
      'both master-down timers fired: the group goes MASTER, both members together',
      group(
        'BACKUP',
        asBackup(CLIENT, { wantsMaster: true, timers: { master_down: NOW + 3000 } }),
        asBackup(SERVER, { timers: { master_down: NOW } }),
      ),
      on('VI_server', { type: 'master_down_timer_expired' }),
      group(
        'MASTER',
        asMaster(CLIENT, { timers: { advert: NOW + 1000 } }),
        asMaster(SERVER, { timers: { advert: NOW + 1000 } }),
      ),
      [client(TO_MASTER), server(TO_MASTER)],
      groupNotify('MASTER'),
    ],
    [
      'a held member hears a master again: it no longer wants to be master',
      group('BACKUP', asBackup(CLIENT, { wantsMaster: true }), asBackup(SERVER)),
      on('VI_client', higherAdvert(51, '203.0.113.3')),
      group(
        'BACKUP',
        asBackup(CLIENT, {
          master: { address: '203.0.113.3', priority: 150 },
          timers: { master_down: NOW + MDI },
        }),
        asBackup(SERVER),
      ),
      [client([set('master_down', NOW + MDI)])],
      [],
    ],
    [
      'MASTER group, one member gets a higher-priority advert: both go BACKUP',
      bothMaster,
      on('VI_client', higherAdvert(51, '203.0.113.3')),
      group(
        'BACKUP',
        asBackup(CLIENT, {
          master: { address: '203.0.113.3', priority: 150 },
          timers: { master_down: NOW + MDI },
        }),
        asBackup(SERVER, { timers: { master_down: NOW + MDI } }),
      ),
      [
        client([cancel('advert'), BECOME_BACKUP, set('master_down', NOW + MDI), notify('BACKUP')]),
        server(RELEASE),
      ],
      groupNotify('BACKUP'),
    ],
    [
      'MASTER group, a tracked interface of one member goes down: both FAULT, both send priority 0',
      bothMaster,
      on('VI_server', { type: 'fault', reason: 'interface eth1' }),
      group('FAULT', asFault(CLIENT, [SYNC]), asFault(SERVER, ['interface eth1', SYNC])),
      [client(MASTER_TO_FAULT), server(MASTER_TO_FAULT)],
      groupNotify('FAULT'),
    ],
    [
      'BACKUP group, a tracked script of one member fails: both FAULT',
      backupsHearingMasters,
      on('VI_client', { type: 'fault', reason: 'script chk_web' }),
      group('FAULT', asFault(CLIENT, ['script chk_web', SYNC]), asFault(SERVER, [SYNC])),
      [
        client([cancel('master_down'), BECOME_FAULT, notify('FAULT')]),
        server([cancel('master_down'), BECOME_FAULT, notify('FAULT')]),
      ],
      groupNotify('FAULT'),
    ],
    [
      'the interface comes back: both members leave FAULT together',
      group('FAULT', asFault(CLIENT, [SYNC]), asFault(SERVER, ['interface eth1', SYNC])),
      on('VI_server', { type: 'fault_cleared', reason: 'interface eth1' }),
      group(
        'BACKUP',
        asBackup(CLIENT, { timers: { master_down: NOW + MDI } }),
        asBackup(SERVER, { timers: { master_down: NOW + MDI } }),
      ),
      [client(TO_BACKUP_AT_STARTUP), server(TO_BACKUP_AT_STARTUP)],
      groupNotify('BACKUP'),
    ],
    [
      'two members down, one recovers: the group stays FAULT',
      group('FAULT', asFault(CLIENT, ['script chk_web', SYNC]), asFault(SERVER, ['interface eth1', SYNC])),
      on('VI_server', { type: 'fault_cleared', reason: 'interface eth1' }),
      group('FAULT', asFault(CLIENT, ['script chk_web', SYNC]), asFault(SERVER, [SYNC])),
      [],
      [],
    ],
    [
      'graceful handover of the group (ipvsctl failover VG1): both send priority 0 and yield',
      bothMaster,
      { type: 'force_backup' },
      group(
        'BACKUP',
        asBackup(CLIENT, { yielded: true, timers: { master_down: NOW + MDI } }),
        asBackup(SERVER, { yielded: true, timers: { master_down: NOW + MDI } }),
      ),
      [client(RELEASE), server(RELEASE)],
      groupNotify('BACKUP'),
    ],
    [
      'handover of one member (ipvsctl failover VI_client): the whole group follows',
      bothMaster,
      on('VI_client', { type: 'force_backup' }),
      group(
        'BACKUP',
        asBackup(CLIENT, { yielded: true, timers: { master_down: NOW + MDI } }),
        asBackup(SERVER, { timers: { master_down: NOW + MDI } }),
      ),
      [client(RELEASE), server(RELEASE)],
      groupNotify('BACKUP'),
    ],
    [
      'shutdown of a MASTER group: priority 0 and VIPs released on both, group STOP',
      bothMaster,
      { type: 'shutdown' },
      group('INIT', member(CLIENT), member(SERVER)),
      [
        client([cancel('advert'), send(0), STOP, notify('STOP')]),
        server([cancel('advert'), send(0), STOP, notify('STOP')]),
      ],
      groupNotify('STOP'),
    ],
    [
      'priority 0 on one link only: that member waits Skew_Time, the group does not move',
      backupsHearingMasters,
      on('VI_client', {
        type: 'advert_received',
        advert: {
          version: 3,
          vrid: 51,
          priority: 0,
          advertIntervalCs: 100,
          srcAddress: '203.0.113.3',
          addresses: [],
        },
      }),
      group(
        'BACKUP',
        asBackup(CLIENT, { timers: { master_down: NOW + SKEW } }),
        backupsHearingMasters.members[1] as InstanceState,
      ),
      [client([set('master_down', NOW + SKEW)])],
      [],
    ],
    [
      'a member’s own advert timer: only that member acts',
      bothMaster,
      on('VI_server', { type: 'advert_timer_expired' }),
      bothMaster,
      [],
      [],
    ],
    [
      'an unknown member: nothing happens',
      bothMaster,
      on('VI_other' as 'VI_client', { type: 'shutdown' }),
      bothMaster,
      [],
      [],
    ],
  ];

  it.each(rows)('%s', (_title, before, event, after, actions, groupActions) => {
    expect(stepGroup(before, event, NOW)).toEqual({ group: after, actions, groupActions });
  });

  it('a member’s advert timer that is due: advert and re-arm, on that member only', () => {
    const g = group('MASTER', asMaster(CLIENT), asMaster(SERVER, { timers: { advert: NOW } }));
    const result = stepGroup(g, on('VI_server', { type: 'advert_timer_expired' }), NOW);
    expect(result.actions).toEqual([server([send(100), set('advert', NOW + 1000)])]);
    expect(result.groupActions).toEqual([]);
    expect(result.group.state).toBe('MASTER');
  });
});

/**
 * Two directors, each with the group VG1 of VI_client (link "client") and VI_server (link
 * "server"). Adverts of a member reach the same-named member of the other director 1 ms later.
 */
class Pair {
  now = 0;
  readonly nodes = new Map<string, { group: SyncGroupState; up: boolean; history: [number, VrrpState][] }>();
  private deliveries: { at: number; node: string; member: string; event: VrrpEvent }[] = [];

  constructor(priorities: Record<string, number>) {
    let host = 2;
    for (const [node, priority] of Object.entries(priorities)) {
      const members = [
        createInstanceState({ ...CLIENT, priority, primaryAddress: `203.0.113.${host}` }),
        createInstanceState({ ...SERVER, priority, primaryAddress: `198.51.100.${host}` }),
      ];
      this.nodes.set(node, { group: createSyncGroupState('VG1', members), up: true, history: [] });
      host++;
    }
  }

  send(node: string, event: SyncGroupEvent): void {
    const n = this.nodes.get(node);
    if (n === undefined || !n.up) return;
    const result = stepGroup(n.group, event, this.now);
    n.group = result.group;
    if (result.groupActions.length > 0) n.history.push([this.now, result.group.state]);
    for (const { member: name, actions } of result.actions) {
      const m = n.group.members.find((x) => x.params.name === name);
      if (m === undefined) continue;
      for (const action of actions) {
        if (action.type !== 'send_advert') continue;
        for (const [other, o] of this.nodes) {
          if (other === node || !o.up) continue;
          const advert = {
            version: m.params.version,
            vrid: m.params.virtualRouterId,
            priority: action.priority,
            advertIntervalCs: m.params.advertIntervalCs,
            srcAddress: m.params.primaryAddress,
            addresses: [],
          };
          this.deliveries.push({
            at: this.now + 1,
            node: other,
            member: name,
            event: { type: 'advert_received', advert },
          });
        }
      }
    }
  }

  kill(node: string): void {
    const n = this.nodes.get(node);
    if (n !== undefined) n.up = false;
  }

  runUntil(end: number): void {
    for (let guard = 0; guard < 100_000; guard++) {
      let next: { at: number; run: () => void } | undefined;
      const consider = (at: number, run: () => void) => {
        if (at <= end && (next === undefined || at < next.at)) next = { at, run };
      };
      this.deliveries.forEach((d, i) => {
        consider(d.at, () => {
          this.deliveries.splice(i, 1);
          this.send(d.node, { type: 'member', member: d.member, event: d.event });
        });
      });
      for (const [node, n] of this.nodes) {
        if (!n.up) continue;
        for (const m of n.group.members) {
          for (const kind of Object.keys(m.timers) as TimerKind[]) {
            const at = m.timers[kind];
            if (at !== null) {
              consider(at, () =>
                this.send(node, { type: 'member', member: m.params.name, event: timerEvent(kind) }),
              );
            }
          }
        }
      }
      if (next === undefined) {
        this.now = end;
        return;
      }
      this.now = Math.max(this.now, next.at);
      next.run();
    }
    throw new Error(`no progress at ${this.now}`);
  }

  states(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [node, n] of this.nodes) {
      out[node] = `${n.group.state} ${n.group.members.map((m) => m.state).join('/')}`;
    }
    return out;
  }

  last(node: string): [number, VrrpState] | undefined {
    return this.nodes.get(node)?.history.at(-1);
  }
}

describe('two directors with a sync group each', () => {
  function started(): Pair {
    const pair = new Pair({ A: 200, B: 100 });
    pair.send('A', { type: 'startup' });
    pair.send('B', { type: 'startup' });
    pair.runUntil(10_000);
    return pair;
  }

  it('election: the higher-priority director is MASTER on both links', () => {
    const pair = started();
    expect(pair.states()).toEqual({ A: 'MASTER MASTER/MASTER', B: 'BACKUP BACKUP/BACKUP' });
    expect(pair.last('A')).toEqual([3219, 'MASTER']);
  });

  it('the master dies: the other group takes both VIPs', () => {
    const pair = started();
    pair.kill('A');
    pair.runUntil(20_000);
    expect(pair.states().B).toBe('MASTER MASTER/MASTER');
  });

  it('a tracked interface fails on the master: its whole group goes FAULT, the peer takes over after Skew_Time', () => {
    const pair = started();
    pair.send('A', {
      type: 'member',
      member: 'VI_server',
      event: { type: 'fault', reason: 'interface eth1' },
    });
    pair.runUntil(15_000);
    expect(pair.states()).toEqual({ A: 'FAULT FAULT/FAULT', B: 'MASTER MASTER/MASTER' });
    expect(pair.last('B')).toEqual([10_000 + 1 + 610, 'MASTER']);
    // Back up: A preempts again (priority 200 over 100), both members together.
    pair.send('A', {
      type: 'member',
      member: 'VI_server',
      event: { type: 'fault_cleared', reason: 'interface eth1' },
    });
    pair.runUntil(30_000);
    expect(pair.states()).toEqual({ A: 'MASTER MASTER/MASTER', B: 'BACKUP BACKUP/BACKUP' });
  });

  it('graceful handover of the group sticks, and a handover back returns it', () => {
    const pair = started();
    pair.send('A', { type: 'force_backup' });
    pair.runUntil(40_000);
    expect(pair.states()).toEqual({ A: 'BACKUP BACKUP/BACKUP', B: 'MASTER MASTER/MASTER' });
    expect(pair.last('B')).toEqual([10_611, 'MASTER']);
    pair.send('B', { type: 'force_backup' });
    pair.runUntil(60_000);
    expect(pair.states()).toEqual({ A: 'MASTER MASTER/MASTER', B: 'BACKUP BACKUP/BACKUP' });
    // A's skew at priority 200: 218.75 → 219 ms.
    expect(pair.last('A')).toEqual([40_000 + 1 + 219, 'MASTER']);
  });

  it('a graceful stop of the master: the peer group takes over after Skew_Time', () => {
    const pair = started();
    pair.send('A', { type: 'shutdown' });
    pair.runUntil(20_000);
    expect(pair.states()).toEqual({ A: 'INIT INIT/INIT', B: 'MASTER MASTER/MASTER' });
    expect(pair.last('B')).toEqual([10_611, 'MASTER']);
  });

  it('the master director loses only its server-side link (adverts there stop): the groups never split', () => {
    const pair = started();
    // Simulate: A's VI_server adverts no longer reach B (B's VI_server times out and wants master),
    // while VI_client still hears A. B's group must stay BACKUP: no split of the VIPs.
    const b = pair.nodes.get('B');
    if (b === undefined) throw new Error('no B');
    const server = b.group.members[1] as InstanceState;
    pair.now = (server.timers.master_down ?? 0) + 0;
    pair.send('B', { type: 'member', member: 'VI_server', event: { type: 'master_down_timer_expired' } });
    expect(pair.states().B).toBe('BACKUP BACKUP/BACKUP');
    expect(pair.nodes.get('B')?.group.members[1]?.wantsMaster).toBe(true);
  });
});
