import { describe, expect, it } from 'vitest';
import { configOf, issuesOf, yaml } from './helpers.js';

describe('director', () => {
  it('reads the IPVS timeouts in whole seconds, each optional', () => {
    const config = configOf(yaml('director:', '  ipvs: { timeouts: { tcp: 2m, udp: null } }'));
    expect(config.director.ipvs.timeouts).toEqual({ tcpS: 120, tcpFinS: null, udpS: null });
    expect(issuesOf(yaml('director:', '  ipvs: { timeouts: { tcp_fin: 0 } }'))).toEqual([
      'test.yaml:2:32: tcp_fin must be at least 1s, got 0',
    ]);
  });

  it('requires interface and follow for the sync daemon, with sync_id 0 by default', () => {
    const text = yaml(
      'director:',
      '  sync_daemon: { interface: eth1, follow: VI_1 }',
      'vrrp_instances:',
      '  VI_1: { interface: eth0, virtual_router_id: 1 }',
    );
    expect(configOf(text).director.syncDaemon).toEqual({
      interface: 'eth1',
      syncId: 0,
      follow: 'VI_1',
      source: { line: 2, col: 16 },
    });
    expect(issuesOf(yaml('director:', '  sync_daemon: { sync_id: 1 }'))).toEqual([
      'test.yaml:2:16: director.sync_daemon is missing required key "interface"',
      'test.yaml:2:16: director.sync_daemon is missing required key "follow"',
    ]);
  });
});

describe('vrrp instances', () => {
  it('default state backup, priority 100, 1s adverts, version 2, preempt', () => {
    const [vi] = configOf(
      yaml('vrrp_instances:', '  VI_1: { interface: eth0, virtual_router_id: 7 }'),
    ).vrrpInstances;
    expect(vi).toEqual({
      name: 'VI_1',
      state: 'backup',
      interface: 'eth0',
      virtualRouterId: 7,
      priority: 100,
      advertIntervalCs: 100,
      version: 2,
      preempt: true,
      preemptDelayMs: 0,
      authentication: null,
      virtualIpaddresses: [],
      unicastSrcIp: null,
      unicastPeers: [],
      trackInterfaces: [],
      trackScripts: [],
      notify: { master: null, backup: null, fault: null },
      source: { line: 2, col: 3 },
    });
  });

  it('take VRRPv3 centisecond adverts and IPv6 addresses', () => {
    const text = yaml(
      'vrrp_instances:',
      '  VI_6:',
      '    interface: eth0',
      '    virtual_router_id: 9',
      '    version: 3',
      '    advert_int: 0.35s',
      '    virtual_ipaddresses: ["2001:db8::1/64", "2001:DB8::2"]',
    );
    const [vi] = configOf(text).vrrpInstances;
    expect(vi?.advertIntervalCs).toBe(35);
    expect(vi?.virtualIpaddresses).toEqual([
      { address: '2001:db8::1', family: 'inet6', prefixLength: 64 },
      { address: '2001:db8::2', family: 'inet6', prefixLength: 128 },
    ]);
  });

  it('report what the protocol version cannot carry', () => {
    const text = yaml(
      'vrrp_instances:',
      '  VI_1:',
      '    interface: eth0',
      '    virtual_router_id: 1',
      '    advert_int: 0.5s',
      '    authentication: { type: pass, password: "much too long" }',
      '    virtual_ipaddresses: ["2001:db8::1", 192.0.2.1/33]',
      '  VI_2:',
      '    version: 3',
      '    advert_int: 41s',
      '    authentication: { type: ah, password: x }',
      '    virtual_ipaddresses: [192.0.2.1, "2001:db8::1"]',
    );
    expect(issuesOf(text)).toEqual([
      'test.yaml:5:17: advert_int must be a whole number of seconds, got "0.5s"',
      'test.yaml:6:45: password must be at most 8 bytes (it is sent in the VRRP packet)',
      'test.yaml:7:27: virtual IP address 2001:db8::1 is IPv6, which needs VRRP version 3',
      'test.yaml:7:42: virtual IP address must be "address" or "address/prefix", got "192.0.2.1/33"',
      'test.yaml:9:5: vrrp instance "VI_2" is missing required key "interface"',
      'test.yaml:9:5: vrrp instance "VI_2" is missing required key "virtual_router_id"',
      'test.yaml:10:17: advert_int must be at most 40950ms, got "41s"',
      'test.yaml:11:21: authentication is VRRP version 2 only (RFC 5798 removed it)',
      "test.yaml:12:38: virtual IP address 2001:db8::1 is IPv6 but the instance's first is IPv4",
    ]);
  });
});

describe('vrrp references', () => {
  it('check tracked scripts, sync group members and the sync daemon', () => {
    const text = yaml(
      'director:',
      '  sync_daemon: { interface: eth1, follow: VG2 }',
      'vrrp_scripts:',
      '  chk: { script: [/bin/chk, web] }',
      'vrrp_instances:',
      '  VI_1: { interface: eth0, virtual_router_id: 1, track_scripts: [chk, chk2] }',
      '  VI_2: { interface: eth0, virtual_router_id: 2 }',
      'vrrp_sync_groups:',
      '  VG1: { instances: [VI_1, VI_3] }',
      '  VG3: { instances: [VI_1, VI_2] }',
      '  VG4: { instances: [] }',
      '  VG1: { instances: [VI_2] }',
    );
    expect(issuesOf(text)).toEqual([
      'test.yaml:2:43: follow "VG2" is not a vrrp sync group or instance',
      'test.yaml:6:71: tracked script "chk2" is not defined in vrrp_scripts',
      'test.yaml:9:28: instance "VI_3" is not defined in vrrp_instances',
      'test.yaml:10:22: instance "VI_1" is already in sync group "VG1" (at line 9)',
      'test.yaml:11:21: instances must list at least one vrrp instance',
      'test.yaml:12:3: duplicate name "VG1" in vrrp_sync_groups (first at line 9)',
    ]);
  });

  it('read scripts with their defaults', () => {
    const text = yaml('vrrp_scripts:', '  chk: { script: [/bin/chk, web], interval: 3s }');
    expect(configOf(text).vrrpScripts).toEqual([
      {
        name: 'chk',
        argv: ['/bin/chk', 'web'],
        intervalMs: 3000,
        timeoutMs: 3000,
        rise: 1,
        fall: 1,
        weight: 0,
        source: { line: 2, col: 3 },
      },
    ]);
  });
});
