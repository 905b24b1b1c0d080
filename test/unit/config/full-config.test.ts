import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/parse.js';
import type { Config } from '../../../src/config/types.js';

const fixture = (name: string): string => fileURLToPath(new URL(`fixtures/${name}`, import.meta.url));

describe('the DESIGN §5 example (full.yaml)', () => {
  const { config, issues } = parseConfig(readFileSync(fixture('full.yaml'), 'utf8'), 'full.yaml', {
    hostname: 'x',
  });
  const c = config as Config;

  it('validates', () => {
    expect(issues).toEqual([]);
    expect(config).not.toBeNull();
    expect(c.file).toBe('full.yaml');
  });

  it('reads the director section', () => {
    expect(c.director).toEqual({
      routerId: 'lb1',
      ipForward: true,
      ipvs: {
        unmanaged: 'remove',
        onStop: 'keep',
        resyncIntervalMs: 10_000,
        timeouts: { tcpS: 900, tcpFinS: 120, udpS: 300 },
      },
      controlSocket: '/run/ipvsd/control.sock',
      metrics: { listen: { host: '127.0.0.1', port: 9469 } },
      syncDaemon: { interface: 'eth1', syncId: 51, follow: 'VG1', source: { line: 8, col: 16 } },
      announce: { withdrawDelayMs: 5000, table: 200, protocol: 240, interface: 'lo' },
    });
  });

  it('reads VRRP scripts, instances and sync groups with their defaults', () => {
    expect(c.vrrpScripts).toEqual([
      {
        name: 'chk_web',
        argv: ['/usr/local/bin/chk-web'],
        intervalMs: 2000,
        timeoutMs: 2000,
        rise: 1,
        fall: 2,
        weight: -20,
        source: { line: 13, col: 3 },
      },
    ]);
    expect(c.vrrpInstances[0]).toEqual({
      name: 'VI_client',
      state: 'backup',
      interface: 'eth0',
      virtualRouterId: 51,
      priority: 100,
      advertIntervalCs: 100,
      version: 2,
      preempt: true,
      preemptDelayMs: 0,
      authentication: { type: 'pass', password: 'secret' },
      virtualIpaddresses: [{ address: '203.0.113.100', family: 'inet', prefixLength: 24 }],
      unicastSrcIp: '203.0.113.2',
      unicastPeers: [],
      trackInterfaces: ['eth1'],
      trackScripts: ['chk_web'],
      notify: { master: ['/path/to/script'], backup: ['/path/to/script'], fault: ['/path/to/script'] },
      source: { line: 16, col: 3 },
    });
    expect(c.vrrpInstances[1]).toMatchObject({
      name: 'VI_server',
      state: 'backup',
      priority: 100,
      advertIntervalCs: 100,
      version: 2,
      preempt: true,
      authentication: null,
      notify: { master: null, backup: null, fault: null },
    });
    expect(c.vrrpSyncGroups).toEqual([
      { name: 'VG1', instances: ['VI_client', 'VI_server'], source: { line: 38, col: 3 } },
    ]);
  });

  it('reads the web virtual server, merging the real server check over the service check', () => {
    const web = c.virtualServers[0];
    expect(web).toMatchObject({
      name: 'web',
      key: { family: 'inet', protocol: 'tcp', address: '203.0.113.100', port: 80, fwmark: null },
      scheduler: 'wrr',
      schedulerFlags: [],
      forwarding: 'nat',
      persistence: { timeoutS: 300, netmask: '255.255.255.255' },
      quorum: 1,
      hysteresis: 0,
      sorryServer: { address: '198.51.100.99', port: 80, source: { line: 50, col: 19 } },
      inhibitOnFailure: false,
      announce: false,
      source: { line: 41, col: 5 },
    });
    expect(web?.realServers[0]).toEqual({
      address: '198.51.100.11',
      port: 8080,
      weight: 3,
      forwarding: 'nat',
      upperThreshold: 0,
      lowerThreshold: 0,
      check: {
        type: 'http',
        intervalMs: 1000,
        timeoutMs: 1000,
        retry: 2,
        delayBeforeRetryMs: 1000,
        rise: 1,
        warmupMs: 0,
        initialState: 'up',
        connectIp: '198.51.100.11',
        connectPort: 8080,
        bindIp: null,
        path: '/health',
        status: [{ min: 200, max: 200 }],
        digest: null,
        host: null,
        sni: null,
        verifyTls: false,
        source: { line: 57, col: 16 },
      },
      source: { line: 54, col: 9 },
    });
    expect(web?.realServers[1]).toEqual({
      address: '198.51.100.12',
      port: 8080,
      weight: 1,
      forwarding: 'nat',
      upperThreshold: 0,
      lowerThreshold: 0,
      check: {
        type: 'tcp',
        intervalMs: 2000,
        timeoutMs: 1000,
        retry: 2,
        delayBeforeRetryMs: 1000,
        rise: 1,
        warmupMs: 0,
        initialState: 'up',
        connectIp: '198.51.100.12',
        connectPort: 8080,
        bindIp: null,
        source: { line: 52, col: 12 },
      },
      source: { line: 58, col: 9 },
    });
  });

  it('defaults the second virtual server: name from its key, port of the real server, no check for udp', () => {
    const dns = c.virtualServers[1];
    expect(dns).toMatchObject({
      name: 'udp/203.0.113.101:53',
      key: { family: 'inet', protocol: 'udp', address: '203.0.113.101', port: 53, fwmark: null },
      scheduler: 'sh',
      schedulerFlags: ['sh-fallback', 'sh-port', 'ops'],
      forwarding: 'nat',
      persistence: null,
      quorum: 1,
      hysteresis: 0,
      sorryServer: null,
      inhibitOnFailure: false,
    });
    expect(dns?.realServers).toEqual([
      {
        address: '198.51.100.21',
        port: 53,
        weight: 0,
        forwarding: 'nat',
        upperThreshold: 100,
        lowerThreshold: 50,
        check: { type: 'none', source: { line: 67, col: 9 } },
        source: { line: 67, col: 9 },
      },
    ]);
  });
});

describe('defaults', () => {
  it('fills every director default, including router_id from the host name', () => {
    const { config } = parseConfig('virtual_servers: []\n', 'x.yaml', { hostname: 'node7' });
    expect(config?.director).toEqual({
      routerId: 'node7',
      ipForward: true,
      ipvs: {
        unmanaged: 'remove',
        onStop: 'keep',
        resyncIntervalMs: 10_000,
        timeouts: { tcpS: null, tcpFinS: null, udpS: null },
      },
      controlSocket: '/run/ipvsd/control.sock',
      metrics: { listen: { host: '127.0.0.1', port: 9469 } },
      syncDaemon: null,
      announce: { withdrawDelayMs: 5000, table: 200, protocol: 240, interface: 'lo' },
    });
    expect(config?.virtualServers).toEqual([]);
    expect(config?.vrrpInstances).toEqual([]);
  });
});
