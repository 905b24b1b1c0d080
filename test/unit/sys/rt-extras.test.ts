/**
 * The rtnetlink requests of virtual routes, rules and the VMAC (src/sys/rt-extras.ts), against
 * the kernel's structures (<linux/rtnetlink.h>, <linux/fib_rules.h>, <linux/if_link.h>) and
 * keepalived's choices (vrrp_iproute.c: table main and scope universe by default;
 * vrrp_vmac.c: macvlan mode private, MAC 00:00:5e:00:01:VRID).
 */
import { describe, expect, it } from 'vitest';
import { macvlanLinkInfo, routeRequest, ruleRequest, vrrpVirtualMac } from '../../../src/sys/rt-extras.js';

const route = {
  family: 'inet' as const,
  to: '192.0.2.0/25',
  via: null,
  dev: null,
  src: null,
  table: null,
  metric: null,
  scope: null,
  type: 'unicast' as const,
};

describe('routeRequest', () => {
  it('a plain route: main table, static protocol, universe scope, unicast', () => {
    const { data, attrs } = routeRequest({ ...route, via: '203.0.113.1', src: '203.0.113.10', metric: 5 }, 3);
    expect(data).toEqual({ family: 2, dstLen: 25, table: 254, protocol: 4, scope: 0, type: 1 });
    expect(attrs).toEqual({
      table: 254,
      dst: Buffer.from([192, 0, 2, 0]),
      gateway: Buffer.from([203, 0, 113, 1]),
      prefsrc: Buffer.from([203, 0, 113, 10]),
      oif: 3,
      priority: 5,
    });
  });

  it('a table above 255 goes in RTA_TABLE with RT_TABLE_COMPAT in the header; default has no dst', () => {
    const { data, attrs } = routeRequest({ ...route, to: '0.0.0.0/0', table: 1000, type: 'blackhole' }, null);
    expect(data).toMatchObject({ dstLen: 0, table: 252, type: 6 });
    expect(attrs).toEqual({ table: 1000 });
  });
});

describe('ruleRequest', () => {
  it('from, fwmark/mask, iif and table', () => {
    const { data, attrs } = ruleRequest({
      family: 'inet',
      from: '203.0.113.10/32',
      to: null,
      table: 100,
      priority: 1000,
      fwmark: 16,
      fwmask: 255,
      iif: 'eth1',
      oif: null,
      action: 'table',
    });
    expect(data).toEqual({ family: 2, action: 1, srcLen: 32, table: 100 });
    expect(attrs).toEqual({
      src: Buffer.from([203, 0, 113, 10]),
      table: 100,
      priority: 1000,
      fwmark: 16,
      fwmask: 255,
      iifname: 'eth1',
    });
  });
});

describe('the VMAC', () => {
  it('IFLA_LINKINFO: kind "macvlan", nested data with mode private (1)', () => {
    expect(macvlanLinkInfo(1).toString('hex')).toBe(
      // len 12, type 1 "macvlan\0" | len 12, type 2|NLA_F_NESTED { len 8, type 1, u32 1 }
      '0c0001006d6163766c616e000c0002800800010001000000',
    );
  });

  it('RFC 5798 §7.3 virtual MACs', () => {
    expect(vrrpVirtualMac('inet', 71).toString('hex')).toBe('00005e000147');
    expect(vrrpVirtualMac('inet6', 255).toString('hex')).toBe('00005e0002ff');
  });
});
