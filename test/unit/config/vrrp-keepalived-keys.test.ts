/**
 * The VRRP keys issue 16 added to the config language: what they read into, and every refusal at
 * its file:line:col.
 */
import { describe, expect, it } from 'vitest';
import { configOf, FILE, issuesOf, yaml } from './helpers.js';

const base = (...extra: string[]) =>
  yaml(
    'vrrp_instances:',
    '  VI_1:',
    '    interface: eth0',
    '    virtual_router_id: 51',
    '    virtual_ipaddresses: ["203.0.113.10/24", {address: 192.0.2.1/24, dev: eth1, label: "eth1:vip"}]',
    ...extra,
  );

describe('the VRRP keys from keepalived', () => {
  it('reads every one', () => {
    const config = configOf(
      yaml(
        'vrrp_track_files:',
        '  tf: {file: /run/tf, weight: -10, init_file: 3}',
        'vrrp_sync_groups:',
        '  VG1: {instances: [VI_1], notify: {any: /bin/g}}',
        base(
          '    virtual_ipaddresses_excluded: ["2001:db8::1/64"]',
          '    use_vmac: true',
          '    dont_track_primary: true',
          '    track_interfaces: [eth2, {interface: eth3, weight: -20}]',
          '    track_files: [tf, {name: tf, weight: 0}]',
          '    mcast_group: 224.0.0.99',
          '    virtual_routes: [{to: default, via: 203.0.113.1}, {to: 192.0.2.0/25, type: blackhole}]',
          '    virtual_rules: [{from: 203.0.113.10, table: 100}]',
          '    notify: {stop: /bin/s, any: [/bin/a, x]}',
        ),
      ),
    );
    const i = config.vrrpInstances[0];
    expect(i?.virtualIpaddresses[1]).toEqual({
      address: '192.0.2.1',
      family: 'inet',
      prefixLength: 24,
      dev: 'eth1',
      label: 'eth1:vip',
    });
    expect(i?.virtualIpaddressesExcluded).toEqual([
      { address: '2001:db8::1', family: 'inet6', prefixLength: 64 },
    ]);
    expect(i).toMatchObject({
      useVmac: 'vrrp.51',
      vmacXmitBase: false,
      dontTrackPrimary: true,
      trackInterfaces: ['eth2', 'eth3'],
      trackedInterfaces: [
        { name: 'eth2', weight: 0, reverse: false },
        { name: 'eth3', weight: -20, reverse: false },
      ],
      trackFiles: [
        { name: 'tf', weight: -10, reverse: false },
        { name: 'tf', weight: 0, reverse: false },
      ],
      mcastGroup: '224.0.0.99',
      notify: { master: null, backup: null, fault: null, stop: ['/bin/s'], any: ['/bin/a', 'x'] },
    });
    expect(i?.virtualRoutes?.map((r) => [r.to, r.via, r.type])).toEqual([
      ['0.0.0.0/0', '203.0.113.1', 'unicast'],
      ['192.0.2.0/25', null, 'blackhole'],
    ]);
    expect(i?.virtualRules?.[0]).toMatchObject({ from: '203.0.113.10/32', table: 100, action: 'table' });
    expect(config.vrrpTrackFiles?.[0]).toMatchObject({
      path: '/run/tf',
      weight: -10,
      init: { value: 3, overwrite: false },
    });
    expect(config.vrrpSyncGroups[0]?.notify?.any).toEqual(['/bin/g']);
  });

  it('refuses what cannot work, each at its position', () => {
    expect(
      issuesOf(
        base(
          '    mcast_group: 192.0.2.9',
          '    track_files: [nope]',
          '    virtual_routes: [{to: 192.0.2.0/25, via: "2001:db8::1"}, {to: 192.0.2.0/25, type: blackhole, dev: eth1}]',
          '    virtual_rules: [{from: 192.0.2.0/24}, {fwmask: 3, table: 5}]',
          '    unicast_peers: [203.0.113.3]',
          '    use_vmac: vip0',
          '    track_interfaces: [{interface: eth1, weight: 300}]',
        ),
      ),
    ).toEqual([
      `${FILE}:6:18: mcast_group 192.0.2.9 is not a multicast address`,
      `${FILE}:7:19: tracked file "nope" is not defined in vrrp_track_files`,
      `${FILE}:8:22: virtual route to 192.0.2.0/25: via 2001:db8::1 is not of the destination's family`,
      `${FILE}:8:62: virtual route to 192.0.2.0/25: a blackhole route has no via or dev`,
      `${FILE}:9:21: virtual rule: action table needs a table`,
      `${FILE}:9:43: virtual rule: fwmask needs fwmark`,
      `${FILE}:11:15: use_vmac with unicast_peers needs vmac_xmit_base: true (as keepalived sets it)`,
      `${FILE}:12:50: weight must be an integer from -254 to 254, got 300`,
    ]);
  });

  it('refuses use_vmac on an IPv6 instance', () => {
    expect(
      issuesOf(
        yaml(
          'vrrp_instances:',
          '  VI_6:',
          '    interface: eth0',
          '    virtual_router_id: 52',
          '    version: 3',
          '    virtual_ipaddresses: ["2001:db8::10/64"]',
          '    use_vmac: true',
        ),
      ),
    ).toEqual([
      `${FILE}:7:15: use_vmac is IPv4 only in ipvsd (an IPv6 VMAC needs the base link-local address moved onto it, which ipvsd does not do)`,
    ]);
  });
});
