/** The VRRP section of the status, transitions by state, and when a failover is refused. */
import { describe, expect, it } from 'vitest';
import {
  composeVrrpStatus,
  createVrrpView,
  failoverRefusal,
  recordTransition,
  type SpeakerStatusLike,
  type VrrpControl,
} from '../../../src/director/vrrp-view.js';
import { configFrom } from '../vrrp/speaker-harness.js';

const CONFIG = configFrom(`
vrrp_instances:
  VI_client: { state: backup, interface: eth0, virtual_router_id: 51, priority: 100, virtual_ipaddresses: ["203.0.113.100/24"] }
  VI_server: { state: backup, interface: eth1, virtual_router_id: 52, priority: 100, virtual_ipaddresses: ["198.51.100.1/24"] }
  VI_solo: { state: backup, interface: eth2, virtual_router_id: 53, priority: 100, virtual_ipaddresses: ["192.0.2.1/24"] }
vrrp_sync_groups:
  VG1: { instances: [VI_client, VI_server] }
`);

const adverts = (sent: number) => ({ sent, received: 4, dropped: { bad_ttl: 1, truncated: 0 } });

function speakerStatus(state: 'MASTER' | 'BACKUP', solo: 'MASTER' | 'BACKUP' = 'BACKUP'): SpeakerStatusLike {
  return {
    instances: [
      {
        name: 'VI_client',
        state,
        priority: 100,
        master_address: '203.0.113.2',
        transitions: 2,
        adverts: adverts(9),
      },
      {
        name: 'VI_server',
        state,
        priority: 100,
        master_address: '198.51.100.2',
        transitions: 2,
        adverts: adverts(9),
      },
      {
        name: 'VI_solo',
        state: solo,
        priority: 90,
        master_address: null,
        transitions: 1,
        adverts: adverts(0),
      },
    ],
    sync_groups: [{ name: 'VG1', state }],
  };
}

describe('recordTransition', () => {
  it('counts by the state entered and remembers when', () => {
    let t = recordTransition(new Map(), { kind: 'group', name: 'VG1', state: 'BACKUP' }, 1000);
    t = recordTransition(t, { kind: 'group', name: 'VG1', state: 'MASTER' }, 2000);
    t = recordTransition(t, { kind: 'instance', name: 'VG1', state: 'FAULT' }, 3000);
    expect(t.get('group/VG1')).toEqual({
      byState: { MASTER: 1, BACKUP: 1, FAULT: 0, INIT: 0 },
      lastAt: 2000,
    });
    expect(t.get('instance/VG1')).toEqual({
      byState: { MASTER: 0, BACKUP: 0, FAULT: 1, INIT: 0 },
      lastAt: 3000,
    });
  });
});

describe('composeVrrpStatus', () => {
  it('keeps DESIGN §5 keys and adds the counters, members and the sync daemon', () => {
    const t = recordTransition(
      new Map(),
      { kind: 'group', name: 'VG1', state: 'MASTER' },
      Date.UTC(2025, 0, 1),
    );
    const status = composeVrrpStatus(speakerStatus('MASTER'), CONFIG, t, null);
    expect(status.instances[0]).toEqual({
      name: 'VI_client',
      state: 'MASTER',
      priority: 100,
      master_address: '203.0.113.2',
      transitions: 2,
      transitions_by_state: { MASTER: 0, BACKUP: 0, FAULT: 0, INIT: 0 },
      last_transition: null,
      adverts: { sent: 9, received: 4, dropped: { bad_ttl: 1, truncated: 0 } },
    });
    expect(status.sync_groups).toEqual([
      {
        name: 'VG1',
        state: 'MASTER',
        members: ['VI_client', 'VI_server'],
        transitions: 1,
        transitions_by_state: { MASTER: 1, BACKUP: 0, FAULT: 0, INIT: 0 },
        last_transition: '2025-01-01T00:00:00.000Z',
      },
    ]);
    expect(status.sync_daemon).toBeNull();
    expect(composeVrrpStatus(null, CONFIG, t, null)).toEqual({
      instances: [],
      sync_groups: [],
      sync_daemon: null,
    });
  });
});

describe('failoverRefusal', () => {
  it.each([
    ['VG1', 'MASTER', null],
    ['VI_client', 'MASTER', null],
    ['VG1', 'BACKUP', /^VG1 is BACKUP, not MASTER: there is nothing to hand over/],
    ['VI_solo', 'MASTER', /^VI_solo is BACKUP, not MASTER/],
    [
      'nope',
      'MASTER',
      /^no VRRP instance or sync group named "nope" \(known: VG1, VI_client, VI_server, VI_solo\)$/,
    ],
  ] as const)('%s while VG1 is %s', (name, state, refusal) => {
    const error = failoverRefusal(speakerStatus(state), name);
    if (refusal === null) expect(error).toBeNull();
    else {
      expect(error?.message).toMatch(refusal);
      expect(error?.code).toBe(name === 'nope' ? 'IPVSD_ERR_NOT_FOUND' : 'IPVSD_ERR_USAGE');
    }
  });

  it('a daemon without VRRP says so', () => {
    expect(failoverRefusal(null, 'VG1')?.message).toBe(
      'this ipvsd runs no VRRP (its config has no vrrp_instances)',
    );
  });
});

describe('createVrrpView', () => {
  function fakeSpeaker(): VrrpControl & { calls: string[]; emit: (state: 'MASTER' | 'BACKUP') => void } {
    let state: 'MASTER' | 'BACKUP' = 'MASTER';
    const listeners: Parameters<VrrpControl['onStateChange']>[0][] = [];
    const calls: string[] = [];
    const emit = (next: 'MASTER' | 'BACKUP') => {
      const previous = state;
      state = next;
      for (const l of listeners) l({ kind: 'group', name: 'VG1', previous, state: next });
    };
    return {
      calls,
      emit,
      status: () => speakerStatus(state),
      async failover(name) {
        calls.push(`failover ${name}`);
        emit('BACKUP');
        return state;
      },
      onStateChange(l) {
        listeners.push(l);
        return () => listeners.splice(listeners.indexOf(l), 1);
      },
    };
  }

  it('hands a master over and reports the state after; refuses a backup without touching the speaker', async () => {
    const speaker = fakeSpeaker();
    const view = createVrrpView(CONFIG, { speaker, syncDaemon: () => null, now: () => 0 });
    expect(await view.failover('VG1')).toEqual({
      name: 'VG1',
      kind: 'sync_group',
      previous: 'MASTER',
      state: 'BACKUP',
    });
    await expect(view.failover('VG1')).rejects.toThrow(/VG1 is BACKUP, not MASTER/);
    expect(speaker.calls).toEqual(['failover VG1']);
    expect(view.status().sync_groups[0]?.transitions_by_state).toEqual({
      MASTER: 0,
      BACKUP: 1,
      FAULT: 0,
      INIT: 0,
    });
    view.close();
    speaker.emit('MASTER');
    expect(view.status().sync_groups[0]?.transitions).toBe(1);
  });

  it('no speaker: failover refused, empty VRRP status', async () => {
    const view = createVrrpView(CONFIG, { speaker: null, syncDaemon: () => null });
    await expect(view.failover('VG1')).rejects.toThrow('this ipvsd runs no VRRP');
    expect(view.status()).toEqual({ instances: [], sync_groups: [], sync_daemon: null });
  });
});
