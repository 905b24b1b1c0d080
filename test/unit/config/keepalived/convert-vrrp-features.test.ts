/**
 * keepalived's VRRP keywords of issue 16, each converted and loaded with the parser `ipvsctl
 * check` uses, with keepalived's meaning (its source cited per case: keepalived/vrrp/
 * vrrp_parser.c, vrrp_track.c, vrrp_iproute.c, vrrp_iprule.c, vrrp_notify.c,
 * keepalived/trackers/track_file.c, keepalived/core/global_data.c).
 */
import { describe, expect, it } from 'vitest';
import { configFrom, convertFile, memoryFs } from './helpers.js';

const F = '/k/keepalived.conf';

function instance(body: string, extra = ''): ReturnType<typeof memoryFs> {
  return memoryFs({
    [F]: `${extra}vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  priority 100\n  virtual_ipaddress {\n    203.0.113.10/24\n  }\n${body}}\n`,
  });
}

const vi = (fs: ReturnType<typeof memoryFs>) => {
  const { config, converted } = configFrom(F, fs);
  const i = config.vrrpInstances[0];
  if (i === undefined) throw new Error('no instance');
  return { i, config, converted };
};

describe('virtual_ipaddress_excluded (vrrp_parser.c vrrp_evip_handler)', () => {
  it('converts to virtual_ipaddresses_excluded, any family, dev kept', () => {
    const { i } = vi(
      instance('  virtual_ipaddress_excluded {\n    203.0.113.11/24\n    2001:db8::11/64 dev eth1\n  }\n'),
    );
    expect(i.virtualIpaddressesExcluded).toEqual([
      { address: '203.0.113.11', family: 'inet', prefixLength: 24 },
      { address: '2001:db8::11', family: 'inet6', prefixLength: 64, dev: 'eth1' },
    ]);
    expect(i.virtualIpaddresses.map((v) => v.address)).toEqual(['203.0.113.10']);
  });
});

describe('a VIP on another interface (vrrp_ipaddress.c parse_ipaddress: dev, label)', () => {
  it('keeps dev and label; the instance interface is no dev', () => {
    const fs = memoryFs({
      [F]: 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    203.0.113.10/24 dev eth0\n    192.0.2.1/24 dev eth1 label eth1:vip\n  }\n}\n',
    });
    const { i } = vi(fs);
    expect(i.virtualIpaddresses).toEqual([
      { address: '203.0.113.10', family: 'inet', prefixLength: 24 },
      { address: '192.0.2.1', family: 'inet', prefixLength: 24, dev: 'eth1', label: 'eth1:vip' },
    ]);
  });

  it('refuses scope host at its position', () => {
    const fs = memoryFs({
      [F]: 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    192.0.2.1/24 dev eth1 scope host\n  }\n}\n',
    });
    expect(convertFile(F, fs).errors).toEqual([
      `${F}:5:27: error: "scope host" of virtual IP 192.0.2.1/24 is not supported by ipvsd`,
    ]);
  });
});

describe('use_vmac / vmac_xmit_base (vrrp_parser.c vrrp_vmac_handler)', () => {
  it('use_vmac alone is the name keepalived picks, vrrp.VRID (vrrp.c create_vmac_name)', () => {
    const { i } = vi(instance('  use_vmac\n'));
    expect(i.useVmac).toBe('vrrp.51');
    expect(i.vmacXmitBase).toBe(false);
  });

  it('keeps a given name and vmac_xmit_base', () => {
    const { i } = vi(instance('  use_vmac vip51\n  vmac_xmit_base\n'));
    expect(i).toMatchObject({ useVmac: 'vip51', vmacXmitBase: true });
  });

  it('sets vmac_xmit_base with unicast peers, as keepalived does, with a warning', () => {
    const { i, converted } = vi(instance('  use_vmac\n  unicast_peer {\n    203.0.113.3\n  }\n'));
    expect(i.vmacXmitBase).toBe(true);
    expect(converted.warnings).toEqual([
      `${F}:8:3: warning: use_vmac with unicast_peer: vmac_xmit_base is set (as keepalived does)`,
    ]);
  });
});

describe('track_interface with weights and dont_track_primary (vrrp_track.c alloc_track_if)', () => {
  it('converts weights and reverse; ±254 becomes ±253 with a warning', () => {
    const { i, converted } = vi(
      instance(
        '  dont_track_primary\n  track_interface {\n    eth1\n    eth2 weight -20\n    eth3 weight 10 reverse\n    eth4 weight -254\n  }\n',
      ),
    );
    expect(i.dontTrackPrimary).toBe(true);
    expect(i.trackInterfaces).toEqual(['eth1', 'eth2', 'eth3', 'eth4']);
    expect(i.trackedInterfaces).toEqual([
      { name: 'eth1', weight: 0, reverse: false },
      { name: 'eth2', weight: -20, reverse: false },
      { name: 'eth3', weight: 10, reverse: true },
      { name: 'eth4', weight: -253, reverse: false },
    ]);
    expect(converted.warnings).toEqual([
      `${F}:13:17: warning: weight -254 is taken as -253 (as keepalived does)`,
    ]);
  });

  it('refuses a word other than weight at its position', () => {
    expect(convertFile(F, instance('  track_interface {\n    eth1 wieght -20\n  }\n')).errors).toEqual([
      `${F}:9:10: error: expected "weight N" after the interface name, got "wieght"`,
    ]);
  });
});

describe('vrrp_mcast_group4/6 (global_data.c) and mcast_dst_ip', () => {
  it('puts the global group of the instance family on it; mcast_dst_ip wins', () => {
    const fs = instance('', 'global_defs {\n  vrrp_mcast_group4 224.0.0.99\n}\n');
    expect(vi(fs).i.mcastGroup).toBe('224.0.0.99');
    const own = instance('  mcast_dst_ip 224.0.0.77\n', 'global_defs {\n  vrrp_mcast_group4 224.0.0.99\n}\n');
    expect(vi(own).i.mcastGroup).toBe('224.0.0.77');
  });

  it('refuses a group that is not multicast, at its position', () => {
    const fs = instance('', 'global_defs {\n  vrrp_mcast_group4 192.0.2.9\n}\n');
    expect(convertFile(F, fs).errors).toEqual([
      `${F}:2:21: error: vrrp_mcast_group4 must be an IPv4 multicast address, got 192.0.2.9`,
    ]);
  });
});

describe('virtual_routes / virtual_rules (vrrp_iproute.c alloc_route, vrrp_iprule.c alloc_rule)', () => {
  it('converts the common subset', () => {
    const { i } = vi(
      instance(
        '  virtual_routes {\n    src 203.0.113.10 to 192.0.2.0/25 via 203.0.113.1 dev eth0 table 100 metric 5\n    blackhole 192.0.2.128/25\n    default gw 203.0.113.1 table main\n  }\n  virtual_rules {\n    from 203.0.113.10/32 table 100 priority 1000\n    to 192.0.2.0/24 fwmark 0x10/0xff lookup 100\n    from all iif eth1 type blackhole preference 10\n  }\n',
      ),
    );
    expect(i.virtualRoutes).toEqual([
      {
        family: 'inet',
        to: '192.0.2.0/25',
        via: '203.0.113.1',
        dev: 'eth0',
        src: '203.0.113.10',
        table: 100,
        metric: 5,
        scope: null,
        type: 'unicast',
      },
      {
        family: 'inet',
        to: '192.0.2.128/25',
        via: null,
        dev: null,
        src: null,
        table: null,
        metric: null,
        scope: null,
        type: 'blackhole',
      },
      {
        family: 'inet',
        to: '0.0.0.0/0',
        via: '203.0.113.1',
        dev: null,
        src: null,
        table: 254,
        metric: null,
        scope: null,
        type: 'unicast',
      },
    ]);
    expect(i.virtualRules).toEqual([
      {
        family: 'inet',
        from: '203.0.113.10/32',
        to: null,
        table: 100,
        priority: 1000,
        fwmark: null,
        fwmask: null,
        iif: null,
        oif: null,
        action: 'table',
      },
      {
        family: 'inet',
        from: null,
        to: '192.0.2.0/24',
        table: 100,
        priority: null,
        fwmark: 16,
        fwmask: 255,
        iif: null,
        oif: null,
        action: 'table',
      },
      {
        family: 'inet',
        from: null,
        to: null,
        table: null,
        priority: 10,
        fwmark: null,
        fwmask: null,
        iif: 'eth1',
        oif: null,
        action: 'blackhole',
      },
    ]);
  });

  it('refuses the rest with its position and what to do', () => {
    const errors = convertFile(
      F,
      instance(
        '  virtual_routes {\n    192.0.2.0/24 via 203.0.113.1 mtu 1400\n    192.0.2.0/24 table wan\n  }\n  virtual_rules {\n    from 192.0.2.0/24 goto 5\n  }\n',
      ),
    ).errors;
    expect(errors.map((e) => e.split(': error: ')[0])).toEqual([`${F}:9:34`, `${F}:10:24`, `${F}:13:23`]);
    expect(errors[0]).toContain('"mtu" in virtual_routes is not supported by ipvsd');
    expect(errors[1]).toContain('ipvsd takes table numbers');
  });
});

describe('track_file (track_file.c)', () => {
  const files =
    'track_file tf1 {\n  file /run/tf1\n  weight -10 reverse\n  init_file 5 overwrite\n}\nvrrp_track_file tf2 {\n  file /run/tf2\n}\n';

  it('converts the blocks and the references, with reference weights', () => {
    const fs = instance('  track_file {\n    tf1\n    tf2 weight 0 reverse\n  }\n', files);
    const { i, config, converted } = vi(fs);
    expect(config.vrrpTrackFiles).toEqual([
      {
        name: 'tf1',
        path: '/run/tf1',
        weight: -10,
        reverse: true,
        init: { value: 5, overwrite: true },
        source: expect.anything(),
      },
      { name: 'tf2', path: '/run/tf2', weight: 1, reverse: false, init: null, source: expect.anything() },
    ]);
    expect(i.trackFiles).toEqual([
      { name: 'tf1', weight: -10, reverse: true },
      { name: 'tf2', weight: 0, reverse: true },
    ]);
    expect(converted.warnings).toEqual([
      `${F}:6:1: warning: vrrp_track_file is deprecated in keepalived (track_file); converted the same`,
    ]);
  });

  it('drops an unknown or repeated reference with a warning, as keepalived ignores it', () => {
    const fs = instance('  track_file {\n    tf1\n    tf1\n    nope\n  }\n', files);
    const { i, converted } = vi(fs);
    expect(i.trackFiles).toEqual([{ name: 'tf1', weight: -10, reverse: true }]);
    expect(converted.warnings.slice(1)).toEqual([
      `${F}:18:5: warning: duplicate track_file tf1: ignored (as keepalived does)`,
      `${F}:19:5: warning: track file nope is not defined: not tracked (as keepalived does)`,
    ]);
  });
});

describe('notify_stop and notify (vrrp_notify.c send_instance_notifies, send_group_notifies)', () => {
  it('keeps every script of the instance and of the group', () => {
    const fs = memoryFs({
      [F]: 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  notify_master /bin/m\n  notify_stop "/bin/s x"\n  notify /bin/any\n}\nvrrp_sync_group VG1 {\n  group {\n    VI_1\n  }\n  notify_stop /bin/gs\n  notify /bin/gany\n}\n',
    });
    const { i, config } = vi(fs);
    expect(i.notify).toEqual({
      master: ['/bin/m'],
      backup: null,
      fault: null,
      stop: ['/bin/s', 'x'],
      any: ['/bin/any'],
    });
    expect(config.vrrpSyncGroups[0]?.notify).toEqual({
      master: null,
      backup: null,
      fault: null,
      stop: ['/bin/gs'],
      any: ['/bin/gany'],
    });
  });
});
