/**
 * Where keepalived 2.2.7 forgives or reinterprets a config, the conversion means what keepalived
 * does, and says so in a warning at the line. Each case cites the keepalived function that decides
 * it; each was also run through Debian's keepalived 2.2.7 (`keepalived -d` in a network namespace,
 * config dump and log): "lvs_sync_daemon has already been specified ... - ignoring", "state
 * previously set as MASTER - ignoring BACKUP", "unknown state 'master', defaulting to BACKUP",
 * "unknown authentication type 'pass'", "unknown [dr] routing method", "persistence_timeout
 * invalid", "Invalid alpha parameter 1", "Unknown keyword 'lb_kind'" (in real_server), "no
 * protocol set - defaulting to UDP", "reducing quorum to 2", "setting hysteresis to 1", "has no
 * real servers - ignoring", and the dump's "Priority = 255", "Preempt = enabled".
 */
import { describe, expect, it } from 'vitest';
import { configFrom, memoryFs } from './helpers.js';

function convert(text: string) {
  return configFrom('/k/k.conf', memoryFs({ '/k/k.conf': text }));
}

const at = (warnings: readonly string[], needle: string) => {
  const found = warnings.filter((w) => w.includes(needle));
  expect(found, `a warning containing ${needle} in:\n${warnings.join('\n')}`).toHaveLength(1);
  return found[0] as string;
};

const vrrp = (name: string, vrid: number, body: string) =>
  `vrrp_instance ${name} {\n  interface eth0\n  virtual_router_id ${vrid}\n${body}\n  virtual_ipaddress {\n    203.0.113.${vrid}/24\n  }\n}\n`;

describe('VRRP instances', () => {
  it('state: exact words; MASTER wins over BACKUP; anything else is BACKUP (vrrp_parser.c vrrp_state_handler)', () => {
    const { config, converted } = convert(
      [
        vrrp('A', 1, '  state MASTER\n  state BACKUP\n  priority 150'),
        vrrp('B', 2, '  state master\n  priority 150'),
        vrrp('C', 3, '  state SLAVE\n  priority 150'),
        vrrp('D', 4, '  state BACKUP\n  state MASTER\n  priority 150'),
      ].join(''),
    );
    expect(config.vrrpInstances.map((i) => [i.name, i.state])).toEqual([
      ['A', 'master'],
      ['B', 'backup'],
      ['C', 'backup'],
      ['D', 'master'],
    ]);
    expect(at(converted.warnings, 'state BACKUP after state MASTER')).toMatch(/^\/k\/k\.conf:5:9: warning: /);
    expect(at(converted.warnings, '"master"')).toContain('unknown state "master" is taken as BACKUP');
    expect(at(converted.warnings, '"SLAVE"')).toContain('unknown state "SLAVE" is taken as BACKUP');
  });

  it('state MASTER clears nopreempt and preempt_delay; priority 255 clears nopreempt; no priority with MASTER is 255 (vrrp.c vrrp_complete_instance)', () => {
    const { config, converted } = convert(
      [
        vrrp('A', 1, '  state MASTER\n  nopreempt 1\n  preempt_delay 5'),
        vrrp('B', 2, '  state BACKUP\n  priority 255\n  nopreempt'),
        vrrp('C', 3, '  state BACKUP\n  priority 100\n  nopreempt\n  preempt_delay 5'),
      ].join(''),
    );
    const [a, b, c] = config.vrrpInstances;
    expect([a?.priority, a?.preempt, a?.preemptDelayMs]).toEqual([255, true, 0]);
    expect([b?.priority, b?.preempt]).toEqual([255, true]);
    expect([c?.preempt, c?.preemptDelayMs]).toEqual([false, 0]);
    expect(at(converted.warnings, '"1" after nopreempt')).toMatch(
      /^\/k\/k\.conf:5:13: warning: "1" after nopreempt is ignored/,
    );
    expect(converted.warnings.filter((w) => w.includes('nopreempt is cleared'))).toHaveLength(2);
    expect(converted.warnings.filter((w) => w.includes('preempt_delay is cleared'))).toHaveLength(2);
  });

  it('auth_type is case-sensitive: "pass" leaves the instance without authentication (vrrp_parser.c vrrp_auth_type_handler)', () => {
    const { config, converted } = convert(
      vrrp('A', 1, '  authentication {\n    auth_type pass\n    auth_pass secret\n  }'),
    );
    expect(config.vrrpInstances[0]?.authentication).toBeNull();
    expect(at(converted.warnings, 'unknown auth_type "pass"')).toMatch(/^\/k\/k\.conf:5:15: /);
  });

  it('a repeated lvs_sync_daemon keeps the first (global_parser.c lvs_syncd_handler, vrrp_parser.c vrrp_lvs_syncd_handler)', () => {
    const { config, converted } = convert(
      [
        'global_defs {\n  lvs_sync_daemon eth1 A\n  lvs_sync_daemon eth2 B\n}\n',
        vrrp('A', 1, ''),
        vrrp('B', 2, '  lvs_sync_daemon_interface eth3'),
      ].join(''),
    );
    expect(config.director.syncDaemon).toMatchObject({ interface: 'eth1', follow: 'A', syncId: 1 });
    expect(converted.warnings.filter((w) => w.includes('a second lvs_sync_daemon is ignored'))).toEqual([
      expect.stringMatching(/^\/k\/k\.conf:3:3: /),
      expect.stringMatching(/^\/k\/k\.conf:16:29: /),
    ]);
  });
});

const vs = (head: string, body: string, rs = '  real_server 198.51.100.1 80 {\n    weight 2\n  }') =>
  `virtual_server ${head} {\n${body}\n${rs}\n}\n`;

describe('virtual servers', () => {
  it('lb_kind/lvs_method are case-sensitive: "dr" is ignored and NAT stays (check_parser.c forwarding_handler)', () => {
    const { config, converted } = convert(vs('203.0.113.10 80', '  protocol TCP\n  lb_kind dr'));
    expect(config.virtualServers[0]?.forwarding).toBe('nat');
    expect(at(converted.warnings, 'lb_kind "dr" is ignored')).toMatch(/^\/k\/k\.conf:3:11: /);
  });

  it('lb_kind inside a real_server is not a keepalived keyword there: ignored (check_parser.c installs only lvs_method)', () => {
    const { config, converted } = convert(
      vs('203.0.113.10 80', '  protocol TCP', '  real_server 198.51.100.1 80 {\n    lb_kind DR\n  }'),
    );
    expect(config.virtualServers[0]?.realServers[0]?.forwarding).toBe('nat');
    expect(at(converted.warnings, 'lb_kind in a real_server is ignored')).toMatch(/^\/k\/k\.conf:4:5: /);
  });

  it('no protocol means UDP (check_data.c validate_check_config)', () => {
    const { config, converted } = convert(vs('203.0.113.10 53', ''));
    expect(config.virtualServers[0]?.name).toBe('udp/203.0.113.10:53');
    expect(at(converted.warnings, 'has no protocol')).toMatch(/^\/k\/k\.conf:1:1: /);
  });

  it('persistence_timeout 0 is ignored (check_parser.c pto_handler reads 1..LVS_MAX_TIMEOUT)', () => {
    const { config, converted } = convert(vs('203.0.113.10 80', '  protocol TCP\n  persistence_timeout 0'));
    expect(config.virtualServers[0]?.persistence).toBeNull();
    expect(at(converted.warnings, 'persistence_timeout 0 is ignored')).toMatch(/^\/k\/k\.conf:3:23: /);
  });

  it('quorum above the total weight is lowered to it, then hysteresis >= quorum to quorum - 1 (check_data.c validate_check_config)', () => {
    const { config, converted } = convert(
      vs('203.0.113.10 80', '  protocol TCP\n  quorum 5\n  hysteresis 7'),
    );
    expect([config.virtualServers[0]?.quorum, config.virtualServers[0]?.hysteresis]).toEqual([2, 1]);
    at(converted.warnings, 'quorum 5 exceeds');
    at(converted.warnings, 'hysteresis 7 >= quorum 2: lowered to 1');
  });

  it('a virtual server without real servers is dropped (check_data.c validate_check_config)', () => {
    const { config, converted } = convert(
      vs('203.0.113.10 80', '  protocol TCP') + vs('203.0.113.11 80', '  protocol TCP', ''),
    );
    expect(config.virtualServers.map((v) => v.name)).toEqual(['tcp/203.0.113.10:80']);
    expect(at(converted.warnings, 'has no real servers')).toMatch(/^\/k\/k\.conf:7:1: /);
  });

  it('a DR real server on another port gets the service port (check_data.c validate_check_config)', () => {
    const { config, converted } = convert(
      vs('203.0.113.10 80', '  protocol TCP\n  lb_kind DR', '  real_server 198.51.100.1 8080 {\n  }'),
    );
    expect(config.virtualServers[0]?.realServers[0]?.port).toBe(80);
    expect(at(converted.warnings, 'real server port 8080 differs')).toMatch(/^\/k\/k\.conf:4:3: /);
  });

  it('words after the port (a trailing "dev X") are ignored (check_parser.c vs_handler reads two)', () => {
    const { config, converted } = convert(vs('203.0.113.10 80 dev eth0', '  protocol TCP'));
    expect(config.virtualServers[0]?.name).toBe('tcp/203.0.113.10:80');
    expect(at(converted.warnings, '"dev eth0" after virtual_server')).toMatch(/^\/k\/k\.conf:1:32: /);
  });

  it('alpha: any word on a virtual server is alpha; elsewhere only the lower-case booleans (check_parser.c vs_alpha_handler, rs_alpha_handler; check_api.c alpha_handler)', () => {
    const on = convert(
      vs(
        '203.0.113.10 80',
        '  protocol TCP\n  alpha 1',
        '  real_server 198.51.100.1 80 {\n    TCP_CHECK {\n    }\n  }',
      ),
    );
    expect(on.config.virtualServers[0]?.realServers[0]?.check).toMatchObject({ initialState: 'down' });
    at(on.converted.warnings, '"1" after alpha is ignored');
    const off = convert(
      vs(
        '203.0.113.10 80',
        '  protocol TCP',
        '  real_server 198.51.100.1 80 {\n    alpha 1\n    TCP_CHECK {\n      alpha YES\n    }\n  }',
      ),
    );
    expect(off.config.virtualServers[0]?.realServers[0]?.check).toMatchObject({ initialState: 'up' });
    expect(
      off.converted.warnings.filter((w) =>
        w.includes('is ignored, as keepalived ignores it (it takes on|off'),
      ),
    ).toHaveLength(2);
  });
});
