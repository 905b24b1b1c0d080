/** The pure decision: which sync daemon runs for a VRRP state, the kernel steps to get there, the server side. */
import { describe, expect, it } from 'vitest';
import {
  desiredSyncDaemon,
  followedState,
  inPrefix,
  planSyncDaemons,
  serverSideInterfaces,
} from '../../../src/director/sync-daemon-plan.js';
import type { SyncDaemon } from '../../../src/ipvs/backend.js';
import { configFrom } from '../vrrp/speaker-harness.js';

const SYNC = { interface: 'eth2', syncId: 51, follow: 'VG1', source: { line: 1, col: 1 } };
const master: SyncDaemon = { state: 'master', interface: 'eth2', syncId: 51 };
const backup: SyncDaemon = { state: 'backup', interface: 'eth2', syncId: 51 };

describe('desiredSyncDaemon', () => {
  it.each([
    ['MASTER', 'master'],
    ['BACKUP', 'backup'],
    ['FAULT', 'backup'],
    ['INIT', 'backup'],
  ] as const)('%s → %s daemon', (state, daemon) => {
    expect(desiredSyncDaemon(SYNC, state)).toEqual({ state: daemon, interface: 'eth2', syncId: 51 });
  });
});

describe('planSyncDaemons', () => {
  it.each([
    ['nothing runs, backup wanted', [], backup, [{ op: 'start', daemon: backup }]],
    [
      'takeover: backup stops before master starts',
      [backup],
      master,
      [
        { op: 'stop', state: 'backup' },
        { op: 'start', daemon: master },
      ],
    ],
    [
      'demotion: master stops before backup starts',
      [master],
      backup,
      [
        { op: 'stop', state: 'master' },
        { op: 'start', daemon: backup },
      ],
    ],
    [
      'both run (ipvsadm by hand), master wanted',
      [master, backup],
      master,
      [{ op: 'stop', state: 'backup' }],
    ],
    ['already right', [backup], backup, []],
    [
      'other interface: restarted',
      [{ ...backup, interface: 'eth0' }],
      backup,
      [
        { op: 'stop', state: 'backup' },
        { op: 'start', daemon: backup },
      ],
    ],
    [
      'other sync id: restarted',
      [{ ...master, syncId: 7 }],
      master,
      [
        { op: 'stop', state: 'master' },
        { op: 'start', daemon: master },
      ],
    ],
    [
      'none wanted (stop with on_stop: remove)',
      [master, backup],
      null,
      [
        { op: 'stop', state: 'master' },
        { op: 'stop', state: 'backup' },
      ],
    ],
    ['none wanted, none runs', [], null, []],
  ] as const)('%s', (_title, running, desired, steps) => {
    expect(planSyncDaemons(running, desired)).toEqual(steps);
  });
});

describe('followedState', () => {
  const status = {
    instances: [
      { name: 'VI_1', state: 'MASTER' as const },
      { name: 'VG1', state: 'FAULT' as const },
    ],
    sync_groups: [{ name: 'VG1', state: 'BACKUP' as const }],
  };
  it('a group wins over an instance of the same name; unknown and no VRRP are INIT', () => {
    expect(followedState(status, 'VG1')).toBe('BACKUP');
    expect(followedState(status, 'VI_1')).toBe('MASTER');
    expect(followedState(status, 'nope')).toBe('INIT');
    expect(followedState(null, 'VG1')).toBe('INIT');
  });
});

describe('inPrefix', () => {
  it.each([
    ['198.51.100.11', '198.51.100.1', 24, true],
    ['198.51.101.11', '198.51.100.1', 24, false],
    ['198.51.100.11', '198.51.100.1', 32, false],
    ['198.51.100.130', '198.51.100.129', 25, true],
    ['198.51.100.11', '198.51.100.129', 25, false],
    ['203.0.113.9', '0.0.0.0', 0, true],
    ['2001:db8:1::5', '2001:db8:1::1', 64, true],
    ['2001:db8:2::5', '2001:db8:1::1', 64, false],
    ['198.51.100.11', '2001:db8:1::1', 0, false],
    ['not an address', '198.51.100.1', 24, false],
  ] as const)('%s in %s/%d: %s', (address, prefix, length, inside) => {
    expect(inPrefix(address, prefix, length)).toBe(inside);
  });
});

const NAT_PAIR = `
director:
  sync_daemon: { interface: eth2, sync_id: 51, follow: VG1 }
vrrp_instances:
  VI_client:
    state: backup
    interface: eth0
    virtual_router_id: 51
    priority: 100
    virtual_ipaddresses: ["203.0.113.100/24"]
  VI_server:
    state: backup
    interface: eth1
    virtual_router_id: 52
    priority: 100
    virtual_ipaddresses: ["198.51.100.1/24"]
  VI_other:
    state: backup
    interface: eth3
    virtual_router_id: 53
    priority: 100
    virtual_ipaddresses: ["198.51.100.254/24"]
vrrp_sync_groups:
  VG1: { instances: [VI_client, VI_server] }
virtual_servers:
  - address: 203.0.113.100
    port: 80
    real_servers:
      - { address: 198.51.100.11, port: 8080 }
`;

describe('serverSideInterfaces', () => {
  it("is the followed group's member whose VIP is the real servers' gateway", () => {
    expect(serverSideInterfaces(configFrom(NAT_PAIR))).toEqual({
      interfaces: [{ ifname: 'eth1', families: ['inet'] }],
      basis: 'gateway',
    });
  });

  it('a sorry server counts like a real server', () => {
    const yaml = NAT_PAIR.replace(
      '      - { address: 198.51.100.11, port: 8080 }',
      '      - { address: 192.0.2.11, port: 8080 }\n    sorry_server: { address: 198.51.100.99 }',
    );
    expect(serverSideInterfaces(configFrom(yaml)).interfaces).toEqual([
      { ifname: 'eth1', families: ['inet'] },
    ]);
  });

  it("every member's interface when no VIP prefix holds a real server (the node is leaving anyway)", () => {
    const yaml = NAT_PAIR.replace('198.51.100.11, port', '192.0.2.11, port');
    expect(serverSideInterfaces(configFrom(yaml))).toEqual({
      interfaces: [
        { ifname: 'eth0', families: ['inet'] },
        { ifname: 'eth1', families: ['inet'] },
      ],
      basis: 'members',
    });
  });

  it('without a sync daemon every instance is a candidate; without VRRP there is none', () => {
    const noSync = NAT_PAIR.replace('  sync_daemon: { interface: eth2, sync_id: 51, follow: VG1 }\n', '');
    expect(serverSideInterfaces(configFrom(noSync)).interfaces.map((i) => i.ifname)).toEqual([
      'eth1',
      'eth3',
    ]);
    const noVrrp = 'virtual_servers:\n  - { address: 203.0.113.100, port: 80 }\n';
    expect(serverSideInterfaces(configFrom(noVrrp))).toEqual({ interfaces: [], basis: 'none' });
  });

  it('follows a single instance', () => {
    const yaml = NAT_PAIR.replace('follow: VG1', 'follow: VI_other');
    expect(serverSideInterfaces(configFrom(yaml)).interfaces).toEqual([
      { ifname: 'eth3', families: ['inet'] },
    ]);
  });
});
