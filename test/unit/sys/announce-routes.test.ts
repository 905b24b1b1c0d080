import { describe, expect, it } from 'vitest';
import { planLocalRoutes, planRoutes } from '../../../src/sys/announce-routes.js';
import { parseCidr } from '../../../src/sys/ip-address.js';
import type { HostRoute } from '../../../src/sys/rtnetlink.js';
import { hostRouteRequest, toHostRoute } from '../../../src/sys/rtnetlink.js';

const route = (address: string, protocol: number): HostRoute => ({
  family: 'inet',
  address,
  table: 200,
  protocol,
  type: 1,
  ifindex: 1,
});

describe('planRoutes', () => {
  it('adds the missing, removes only its own stale routes, and never takes over another protocol’s', () => {
    const existing = [route('203.0.113.1', 240), route('203.0.113.2', 240), route('203.0.113.3', 4)];
    expect(planRoutes(existing, ['203.0.113.2', '203.0.113.3', '203.0.113.4'], 240)).toEqual({
      add: ['203.0.113.4'],
      remove: ['203.0.113.1'],
      blocked: [{ address: '203.0.113.3', protocol: 4 }],
    });
    expect(planRoutes(existing, [], 4)).toEqual({ add: [], remove: ['203.0.113.3'], blocked: [] });
  });
});

/** A route of the table local: RTN_LOCAL (2) unless said. */
const local = (address: string, protocol: number, ifindex = 1, type = 2): HostRoute => ({
  family: 'inet',
  address,
  table: 255,
  protocol,
  type,
  ifindex,
});

describe('planLocalRoutes', () => {
  const opts = { protocol: 240, ifindex: 1, removeOthers: true };

  it('adds the missing, keeps its own, removes its own stale ones only when told', () => {
    const existing = [local('203.0.113.1', 240), local('203.0.113.2', 240)];
    expect(planLocalRoutes(existing, ['203.0.113.2', '203.0.113.3'], opts)).toEqual({
      add: ['203.0.113.3'],
      remove: [existing[0]],
      alreadyLocal: [],
      blocked: [],
    });
    expect(
      planLocalRoutes(existing, ['203.0.113.2', '203.0.113.3'], { ...opts, removeOthers: false }).remove,
    ).toEqual([]);
  });

  it('leaves the kernel’s local route of an address alone, and another protocol’s other routes', () => {
    // 2 = RTPROT_KERNEL: the VIP is also an address of the host. A broadcast route (3) of a
    // protocol of its own blocks the VIP.
    const existing = [local('203.0.113.1', 2), local('203.0.113.2', 4, 1, 3), local('203.0.113.9', 2)];
    expect(planLocalRoutes(existing, ['203.0.113.1', '203.0.113.2'], opts)).toEqual({
      add: [],
      remove: [],
      alreadyLocal: ['203.0.113.1'],
      blocked: [{ address: '203.0.113.2', protocol: 4, type: 3 }],
    });
    // Nothing of another protocol is ever removed, even with an empty wanted set.
    expect(planLocalRoutes(existing, [], opts).remove).toEqual([]);
  });

  it('moves its own route to the announce interface and to a new protocol (remove, then add)', () => {
    const elsewhere = local('203.0.113.1', 240, 7);
    const old = local('203.0.113.2', 239);
    const oldUnwanted = local('203.0.113.3', 239);
    expect(
      planLocalRoutes([elsewhere, old, oldUnwanted], ['203.0.113.1', '203.0.113.2'], {
        ...opts,
        previousProtocol: 239,
      }),
    ).toEqual({
      add: ['203.0.113.1', '203.0.113.2'],
      remove: [elsewhere, old, oldUnwanted],
      alreadyLocal: [],
      blocked: [],
    });
    // Without the previous protocol, a local route of 239 is another's: left alone, and it
    // makes the VIP local already.
    expect(planLocalRoutes([old], ['203.0.113.2'], opts)).toEqual({
      add: [],
      remove: [],
      alreadyLocal: ['203.0.113.2'],
      blocked: [],
    });
  });
});

describe('host route messages', () => {
  it('puts a table above 255 only in RTA_TABLE, as iproute2 does', () => {
    const v4 = hostRouteRequest(
      { address: '203.0.113.1', table: 200, protocol: 240 },
      parseCidr('203.0.113.1'),
    );
    expect(v4.data).toMatchObject({ family: 2, dstLen: 32, table: 200, protocol: 240, type: 1 });
    expect(v4.attrs).toEqual({ dst: Buffer.from([203, 0, 113, 1]), table: 200 });
    const big = hostRouteRequest(
      { address: '2001:db8::1', table: 4000, protocol: 240 },
      parseCidr('2001:db8::1'),
    );
    expect(big.data).toMatchObject({ family: 10, dstLen: 128, table: 0 });
    const localRoute = hostRouteRequest(
      { address: '203.0.113.1', table: 255, protocol: 240, type: 'local' },
      parseCidr('203.0.113.1'),
    );
    expect(localRoute.data).toMatchObject({ table: 255, protocol: 240, type: 2 });
    expect(big.attrs.table).toBe(4000);
  });

  it('reads host routes back, with enum names as node-netlink gives them, and skips other prefixes', () => {
    const dst = Buffer.from([203, 0, 113, 1]);
    expect(
      toHostRoute({
        kind: 'route',
        data: { family: 2, dstLen: 32, table: 200, protocol: 'STATIC', type: 'UNICAST' },
        attrs: { dst, table: 200, oif: 1 },
      }),
    ).toEqual({ family: 'inet', address: '203.0.113.1', table: 200, protocol: 4, type: 1, ifindex: 1 });
    expect(
      toHostRoute({ kind: 'route', data: { family: 2, dstLen: 24, table: 200 }, attrs: { dst, table: 200 } }),
    ).toBeNull();
  });
});
