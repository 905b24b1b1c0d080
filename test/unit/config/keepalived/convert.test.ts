/**
 * keepalived.conf files written for these tests, converted and loaded with the parser `ipvsctl
 * check` uses: the result must validate and mean what the keepalived file meant, with keepalived's
 * defaults written out where ipvsd's differ. Every dropped keyword is listed with its position.
 */
import { describe, expect, it } from 'vitest';
import type { HttpCheck, ScriptCheck, TcpCheck } from '../../../../src/config/types.js';
import { configFrom, convertFile, fixture, memoryFs } from './helpers.js';

describe('the classic LVS-NAT director pair', () => {
  const file = fixture('lvs-nat-pair.conf');
  const { config, converted } = configFrom(file);

  it('keeps both VIPs in one sync group, with connection sync following the server side', () => {
    expect(config.vrrpSyncGroups.map((g) => [g.name, g.instances])).toEqual([
      ['VG1', ['VI_client', 'VI_server']],
    ]);
    const [client, server] = config.vrrpInstances;
    expect(client).toMatchObject({
      name: 'VI_client',
      state: 'master',
      interface: 'eth0',
      virtualRouterId: 51,
      priority: 150,
      advertIntervalCs: 100,
      version: 2,
      authentication: { type: 'pass', password: 's3cret' },
      virtualIpaddresses: [{ address: '203.0.113.100', family: 'inet', prefixLength: 24 }],
    });
    expect(server?.virtualIpaddresses).toEqual([
      { address: '198.51.100.1', family: 'inet', prefixLength: 24 },
    ]);
    // keepalived's sync id defaults to the followed instance's virtual router id.
    expect(config.director.syncDaemon).toMatchObject({ interface: 'eth1', syncId: 52, follow: 'VI_server' });
    expect(config.director.routerId).toBe('lb1');
  });

  it("keeps the group's notify script on the group (keepalived vrrp_notify.c send_group_notifies)", () => {
    expect(config.vrrpSyncGroups[0]?.notify?.master).toEqual(['/etc/keepalived/notify.sh', 'master']);
    expect(config.vrrpInstances.map((i) => i.notify.master)).toEqual([null, null]);
  });

  it('writes keepalived check timing out in full (ipvsd retry = keepalived retry + 1)', () => {
    const web = config.virtualServers[0];
    expect(web).toMatchObject({ scheduler: 'wrr', forwarding: 'nat', persistence: { timeoutS: 50 } });
    expect(web?.realServers.map((rs) => [rs.address, rs.port, rs.weight])).toEqual([
      ['198.51.100.11', 80, 3],
      ['198.51.100.12', 80, 1],
      ['198.51.100.13', 80, 1],
    ]);
    const check = web?.realServers[0]?.check as TcpCheck;
    expect(check).toMatchObject({
      type: 'tcp',
      intervalMs: 6000,
      timeoutMs: 3000,
      retry: 4,
      delayBeforeRetryMs: 3000,
      warmupMs: 6000,
      initialState: 'up',
    });
    // keepalived defaults where the block says nothing: retry 1 (→ 2), delay_before_retry 1 s.
    const tls = config.virtualServers[1];
    expect(tls?.realServers[0]?.check).toMatchObject({
      type: 'tcp',
      retry: 2,
      delayBeforeRetryMs: 1000,
      connectPort: 443,
    });
    expect(tls?.sorryServer).toMatchObject({ address: '198.51.100.99', port: 443 });
    expect(config.director.ipvs.unmanaged).toBe('keep');
  });

  it('lists the dropped mail settings with their lines', () => {
    expect(converted.errors).toEqual([]);
    expect(converted.warnings.map((w) => w.split(': warning: ')[0])).toEqual([
      `${file}:6:4`,
      `${file}:9:4`,
      `${file}:10:4`,
      `${file}:11:4`,
    ]);
  });

  it('names the source line of every block in a comment', () => {
    expect(converted.yaml).toContain(`  # ${file}:24 vrrp_instance VI_client\n  VI_client:\n`);
    expect(converted.yaml).toContain(
      `  # ${file}:55 virtual_server 203.0.113.100 80\n  - address: 203.0.113.100\n`,
    );
    expect(converted.yaml).toContain(
      `      # ${file}:62 real_server 198.51.100.11 80\n      - address: 198.51.100.11\n`,
    );
  });

  it('prints the same bytes every time', () => {
    expect(convertFile(file).yaml).toBe(converted.yaml);
  });
});

describe('an nginx pair (VRRP only) with track_script', () => {
  const file = fixture('nginx-pair.conf');
  const { config, converted } = configFrom(file);

  it('converts the scripts, with keepalived PATH lookups kept through /usr/bin/env', () => {
    expect(config.virtualServers).toEqual([]);
    expect(
      config.vrrpScripts.map((s) => [s.name, s.argv, s.intervalMs, s.timeoutMs, s.fall, s.weight]),
    ).toEqual([
      ['chk_nginx', ['/usr/bin/env', 'killall', '-0', 'nginx'], 2000, 2000, 2, -20],
      ['chk_health', ['/usr/local/bin/check-nginx', '--url', 'http://127.0.0.1/healthz'], 5000, 3000, 1, 0],
    ]);
  });

  it('keeps nopreempt, unicast peers, tracking and notify scripts', () => {
    expect(config.vrrpInstances[0]).toMatchObject({
      state: 'backup',
      interface: 'ens192',
      preempt: false,
      unicastSrcIp: '192.0.2.11',
      unicastPeers: ['192.0.2.12'],
      trackInterfaces: ['ens192'],
      trackScripts: ['chk_nginx', 'chk_health'],
      // keepalived sends only the first 8 bytes of auth_pass.
      authentication: { type: 'pass', password: 'nginxpai' },
      notify: {
        master: ['/usr/local/bin/nginx-notify.sh'],
        backup: ['/usr/local/bin/nginx-notify.sh'],
        fault: ['/usr/local/bin/nginx-notify.sh', 'fault'],
      },
    });
    expect(config.director.ipvs.unmanaged).toBe('remove'); // no IPVS: the section stays out, ipvsd's default
    expect(converted.yaml).not.toContain('virtual_servers');
  });

  it('keeps the label (keepalived vrrp_ipaddress.c parse_ipaddress) and warns about the truncated password', () => {
    expect(config.vrrpInstances[0]?.virtualIpaddresses[0]).toMatchObject({
      address: '192.0.2.10',
      prefixLength: 24,
      label: 'ens192:vip',
    });
    expect(converted.warnings.some((w) => w.startsWith(`${file}:35:19: warning: auth_pass`))).toBe(true);
  });
});

describe('three directors, each master of one VIP', () => {
  const configs = [1, 2, 3].map((n) => configFrom(fixture(`three-directors/lb${n}.conf`)).config);

  it('gives every VIP exactly one master, which also has the highest priority', () => {
    for (const vip of ['VI_1', 'VI_2', 'VI_3']) {
      const holders = configs.map((c) => c.vrrpInstances.find((i) => i.name === vip));
      expect(holders.filter((i) => i?.state === 'master')).toHaveLength(1);
      const master = holders.findIndex((i) => i?.state === 'master');
      const priorities = holders.map((i) => i?.priority ?? 0);
      expect(Math.max(...priorities)).toBe(priorities[master]);
      expect(new Set(priorities).size).toBe(3);
    }
    expect(configs.map((c) => c.vrrpInstances.find((i) => i.state === 'master')?.name)).toEqual([
      'VI_1',
      'VI_2',
      'VI_3',
    ]);
  });

  it('takes vrrp_version 3 from global_defs, so a 0.5 s advert interval fits', () => {
    for (const c of configs) {
      expect(c.vrrpInstances.map((i) => [i.version, i.advertIntervalCs])).toEqual([
        [3, 50],
        [3, 50],
        [3, 50],
      ]);
    }
  });

  it('maps lvs_method DR, lvs_sched mh and mh-port, and one-line real_server blocks', () => {
    const vs = configs[0]?.virtualServers[2];
    expect(vs).toMatchObject({ scheduler: 'mh', schedulerFlags: ['mh-port'], forwarding: 'dr' });
    expect(vs?.realServers.map((rs) => [rs.address, rs.port, rs.forwarding, rs.check.type])).toEqual([
      ['198.51.100.23', 443, 'dr', 'tcp'],
      ['198.51.100.33', 443, 'dr', 'tcp'],
    ]);
    expect(vs?.realServers[0]?.check).toMatchObject({ intervalMs: 2000, timeoutMs: 1000 });
  });
});

describe('HTTP_GET with a digest, SSL_GET and MISC_CHECK', () => {
  const { config, converted } = configFrom(fixture('http-digest.conf'));
  const [web, tls, mark] = config.virtualServers;

  it('carries url { path digest status_code }, virtualhost and alpha', () => {
    expect(converted.messages).toEqual([]);
    for (const rs of web?.realServers ?? []) {
      expect(rs.check).toMatchObject({
        type: 'http',
        path: '/health',
        digest: '9b3a0c85a887a256d6939da88aabd8cd',
        status: [{ min: 200, max: 200 }],
        host: 'www.example.com',
        intervalMs: 10_000,
        timeoutMs: 2000,
        retry: 3, // nb_get_retry 2
        delayBeforeRetryMs: 1000,
        initialState: 'down', // alpha
      } satisfies Partial<HttpCheck>);
    }
    expect(web).toMatchObject({ quorum: 2, hysteresis: 1, inhibitOnFailure: true });
  });

  it('fills in keepalived defaults: 60 s delay_loop, 5 s timeout, 3 s HTTP retry delay, any 2xx', () => {
    expect(tls?.persistence).toEqual({ timeoutS: 360, netmask: '255.255.255.0' });
    expect(tls?.realServers[0]?.check).toMatchObject({
      type: 'https',
      intervalMs: 60_000,
      timeoutMs: 5000,
      retry: 2,
      delayBeforeRetryMs: 3000,
      warmupMs: 60_000,
      status: [
        { min: 200, max: 299 },
        { min: 301, max: 301 },
      ],
      host: 'secure.example.com',
      sni: 'secure.example.com',
    });
    const script = tls?.realServers[1]?.check as ScriptCheck;
    expect(script).toMatchObject({
      type: 'script',
      argv: ['/usr/local/bin/check-tls', '198.51.100.32', '8443'],
    });
    expect([script.timeoutMs, script.retry]).toEqual([4000, 1]); // MISC_CHECK retry defaults to 0
  });

  it('leaves a real server without a checker unchecked, and maps lvs_flush and lvs_timeouts', () => {
    expect(mark?.key).toMatchObject({ family: 'inet', fwmark: 7 });
    expect(mark?.realServers[0]?.check.type).toBe('none');
    expect(config.director.ipvs).toMatchObject({
      unmanaged: 'remove',
      timeouts: { tcpS: 7200, tcpFinS: 60, udpS: 120 },
    });
  });
});

describe('include', () => {
  it('reads globs relative to the including file, nested, and names those files in messages', () => {
    const main = fixture('includes/keepalived.conf');
    const { config, converted } = configFrom(main);
    expect(config.vrrpInstances.map((i) => i.name)).toEqual(['VI_1']);
    expect(config.virtualServers.map((vs) => vs.name)).toEqual(['tcp/203.0.113.70:80']);
    expect(converted.yaml).toContain(`# ${fixture('includes/conf.d/10-vrrp.conf')}:1 vrrp_instance VI_1`);
    expect(converted.yaml).toContain(
      `# ${fixture('includes/services/web-80.conf')}:1 virtual_server 203.0.113.70 80`,
    );
  });

  it('includes inside a block, reports a loop and a glob that matches nothing', () => {
    const fs = memoryFs({
      '/k/keepalived.conf':
        'vrrp_instance VI_1 {\n  include body.conf\n}\ninclude none/*.conf\ninclude loop.conf\n',
      '/k/body.conf': 'interface eth0\nvirtual_router_id 9\nvirtual_ipaddress {\n 203.0.113.9\n}\n',
      '/k/loop.conf': 'include keepalived.conf\n',
    });
    const converted = convertFile('/k/keepalived.conf', fs);
    expect(converted.messages).toEqual([
      '/k/keepalived.conf:4:9: warning: include "none/*.conf" matches no file (/k/none/*.conf)',
      '/k/loop.conf:1:9: error: include of /k/keepalived.conf includes itself (through /k/keepalived.conf → /k/loop.conf)',
    ]);
  });
});

describe('keywords ipvsd does not carry over', () => {
  it('lists each harmless one as a warning with its file:line:col, and still converts', () => {
    const file = fixture('unsupported.conf');
    const { converted } = configFrom(file);
    expect(converted.errors).toEqual([]);
    expect(converted.warnings.map((w) => w.replace(/ is dropped: .*/, ''))).toEqual([
      `${file}:3:5: warning: "notification_email" in global_defs`,
      `${file}:6:5: warning: "smtp_server" in global_defs`,
      `${file}:7:5: warning: "enable_snmp_checker" in global_defs`,
      `${file}:8:5: warning: "vrrp_garp_master_delay" in global_defs`,
      `${file}:15:5: warning: "smtp_alert" in vrrp_instance VI_1`,
      `${file}:16:5: warning: "garp_master_refresh" in vrrp_instance VI_1`,
      `${file}:18:25: warning: "brd 203.0.113.255" of virtual IP 203.0.113.90/24`,
      `${file}:24:5: warning: "ha_suspend" in virtual_server 203.0.113.90 25`,
      `${file}:25:5: warning: "smtp_alert" in virtual_server 203.0.113.90 25`,
      `${file}:27:9: warning: "snmp_name" in real_server 198.51.100.91 25`,
      `${file}:29:13: warning: "log_all_failures" in TCP_CHECK`,
    ]);
  });

  it('refuses the conversion when leaving a keyword out would change behaviour, listing every one', () => {
    const file = fixture('refused.conf');
    const converted = convertFile(file);
    expect(converted.yaml).toBeNull();
    // vrrp_mcast_group4, use_vmac, a weighted track_interface, a VIP on another interface and
    // notify_stop (lines 3–16) convert since issue 16 (convert-vrrp.test.ts), and so does
    // virtual_server_group (line 19, lvs-features.test.ts).
    expect(converted.errors.map((e) => e.split(': error: ')[0])).toEqual([
      `${file}:26:17`, // TUN type gue
      `${file}:29:9`, // unknown keyword
      `${file}:35:13`, // misc_dynamic
    ]);
    expect(converted.errors[1]).toBe(
      `${file}:29:9: error: unknown keyword "misc_dynamic_weights" in real_server 198.51.100.81 80: not converted`,
    );
    // smtp_alert, and notify_stop's arguments: still listed next to the errors
    expect(converted.warnings).toHaveLength(2);
  });
});
