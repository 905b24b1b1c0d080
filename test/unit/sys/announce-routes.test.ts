import { describe, expect, it } from 'vitest';
import { planRoutes } from '../../../src/sys/announce-routes.js';
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
