import { describe, expect, it } from 'vitest';
import {
  type AnnouncedService,
  type AnnounceInputs,
  announceReason,
  createAnnounceState,
} from '../../../src/director/announce-state.js';

const vip = '203.0.113.100';
const service = (name: string, met: boolean, address = vip): AnnouncedService => ({
  name,
  address,
  quorum: { met, liveWeight: met ? 1 : 0, required: 1 },
});
const healthy: AnnounceInputs = {
  running: true,
  fault: null,
  notReconciled: null,
  services: [service('tcp/203.0.113.100:80', true), service('tcp/203.0.113.100:443', true)],
  withdrawnAll: false,
  withdrawn: new Set(),
};

describe('announceReason', () => {
  it.each<[string, Partial<AnnounceInputs>, string]>([
    ['everything fine', {}, 'announced'],
    [
      'quorum lost on one service of the address',
      { services: [service('tcp/203.0.113.100:80', true), service('tcp/203.0.113.100:443', false)] },
      'quorum lost: tcp/203.0.113.100:443 has 0 of 1',
    ],
    [
      'kernel table not reconciled',
      { notReconciled: 'no reconcile yet' },
      'not reconciled: no reconcile yet',
    ],
    ['withdrawn address', { withdrawn: new Set([vip]) }, 'withdrawn by operator'],
    ['withdrawn node', { withdrawnAll: true, withdrawn: new Set([vip]) }, 'withdrawn by operator (node)'],
    [
      'a fault beats a withdrawal',
      { fault: 'checks process down', withdrawnAll: true },
      'fault: checks process down',
    ],
    ['stopping beats everything', { running: false, fault: 'x', withdrawnAll: true }, 'stopping'],
  ])('%s', (_what, change, reason) => {
    const inputs = { ...healthy, ...change };
    expect(announceReason(vip, inputs.services, inputs)).toBe(reason);
  });

  it('names every service without quorum', () => {
    const lost = [service('a', false), service('b', false)];
    expect(announceReason(vip, lost, { ...healthy, services: lost })).toBe(
      'quorum lost: a has 0 of 1, b has 0 of 1',
    );
  });
});

describe('createAnnounceState (fake clock)', () => {
  it('groups services by address, keeps config order and reports only changes', () => {
    const state = createAnnounceState();
    const inputs: AnnounceInputs = {
      ...healthy,
      services: [...healthy.services, service('tcp/203.0.113.101:53', true, '203.0.113.101')],
    };
    const first = state.update(inputs, 1000);
    expect(first.announcements).toEqual([
      { address: vip, announced: true, reason: 'announced', since: 1000 },
      { address: '203.0.113.101', announced: true, reason: 'announced', since: 1000 },
    ]);
    expect(first.changed).toHaveLength(2);

    const same = state.update(inputs, 2000);
    expect(same.changed).toEqual([]);
    expect(same.announcements[0]?.since).toBe(1000);

    const lost = state.update(
      { ...inputs, services: inputs.services.map((s, i) => (i === 1 ? service(s.name, false) : s)) },
      3000,
    );
    expect(lost.changed).toEqual([
      {
        address: vip,
        announced: false,
        reason: 'quorum lost: tcp/203.0.113.100:443 has 0 of 1',
        since: 3000,
      },
    ]);
    expect(state.current()[1]).toEqual({
      address: '203.0.113.101',
      announced: true,
      reason: 'announced',
      since: 1000,
    });
  });

  it('a new reason while withdrawn is a change but keeps `since`', () => {
    const state = createAnnounceState();
    state.update({ ...healthy, withdrawn: new Set([vip]) }, 1000);
    const next = state.update({ ...healthy, running: false }, 5000);
    expect(next.changed).toEqual([{ address: vip, announced: false, reason: 'stopping', since: 1000 }]);
  });

  it('reports addresses that left the config', () => {
    const state = createAnnounceState();
    state.update(healthy, 1000);
    const next = state.update({ ...healthy, services: [] }, 2000);
    expect(next).toEqual({ announcements: [], changed: [], removed: [vip] });
  });
});
