/**
 * keepalived itself as the oracle of `convert` (issue 16 items 2 and 3): Debian's keepalived 2.2.7
 * reads a keepalived.conf written for this test (config language and the cases where keepalived
 * forgives) in a network namespace with `--dump-conf`, and what it dumps for every VRRP instance
 * (wanted state, priority, preempt, preempt delay, authentication, virtual IPs) must be what the
 * converted config says. Same config id on both sides (keepalived -i, convert's configId).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeSourceFs } from '../../src/cli/convert.js';
import { convertKeepalived } from '../../src/config/keepalived/index.js';
import { parseConfig } from '../../src/config/parse.js';
import { KEEPALIVED } from '../support/keepalived.js';
import { createNetnsLab, type NetnsLab } from '../support/netns.js';

/** `%{` stands for keepalived's `${` (a template literal would take it). */
const CONFIG = String.raw`
$PRIO=150
$IF_MAIN=@lb1
$VIPS= \
  203.0.113.10/24 \
  203.0.113.11/24
vrrp_instance VI_1 {
  state MASTER
  state BACKUP
  interface kc0
  virtual_router_id 51
  nopreempt 1
  preempt_delay 5
  virtual_ipaddress {
    $VIPS
    ~SEQ(N, 20, 22) 203.0.113.%{N}/24
  }
}
vrrp_instance VI_2 {
  state master
  interface kc0
  virtual_router_id 52
  priority $PRIO
  $IF_MAIN priority 200
  authentication {
    auth_type pass
    auth_pass secret
  }
  virtual_ipaddress {
    203.0.113.2/24
  }
}
vrrp_instance VI_3 {
  state SLAVE
  interface kc0
  virtual_router_id 53
  priority 255
  nopreempt
  virtual_ipaddress {
    203.0.113.3/24
  }
}
vrrp_instance VI_4 {
  state BACKUP
  interface kc0
  virtual_router_id 54
  @^lb1 priority 10
  nopreempt
  preempt_delay 3
  authentication {
    auth_type PASS
    auth_pass pw
  }
  virtual_ipaddress {
    ~SEQx(H, 0xa, 0xb) 2001:db8::%{H}/64
  }
}
vrrp_instance VI_5 {
  interface kc0
  virtual_router_id 55
  priority 120
  preempt_delay 2
  virtual_ipaddress {
    203.0.113.5/24
  }
}
`.replace(/%\{/g, '${');

interface Dumped {
  wantstate: string;
  priority: number;
  preempt: boolean;
  preemptDelayS: number;
  auth: string;
  vips: string[];
}

/** keepalived's dump_vrrp (vrrp/vrrp_data.c) lines, per instance. */
function parseDump(log: string): Map<string, Dumped> {
  const out = new Map<string, Dumped>();
  let current: Dumped | null = null;
  let inVips = false;
  for (const raw of log.split('\n')) {
    const line = raw.replace(/^.*?: {1,}(?=\S)/, (m) => (/\d{4}: /.test(m) ? '' : m)).trimEnd();
    const body = line.trim();
    const instance = /^VRRP Instance = (\S+)$/.exec(body);
    if (instance !== null) {
      // a version 3 instance has no authentication line
      current = { wantstate: '', priority: 0, preempt: false, preemptDelayS: 0, auth: 'none', vips: [] };
      out.set(instance[1] as string, current);
      inVips = false;
      continue;
    }
    if (current === null) continue;
    const value = (re: RegExp) => re.exec(body)?.[1];
    const wantstate = value(/^Wantstate = (\S+)/);
    const priority = value(/^Priority = (\d+)/);
    const preempt = value(/^Preempt = (\S+)/);
    const delay = value(/^Preempt delay = ([\d.]+)/);
    const auth = value(/^Authentication type = (.+)$/);
    if (wantstate !== undefined) current.wantstate = wantstate;
    else if (priority !== undefined) current.priority = Number(priority);
    else if (preempt !== undefined) current.preempt = preempt === 'enabled';
    else if (delay !== undefined) current.preemptDelayS = Number(delay);
    else if (auth !== undefined) current.auth = auth;
    else if (/^Virtual IP \(\d+\):$/.test(body)) inVips = true;
    else if (inVips && /^[0-9a-f:.]+\/\d+ dev /.test(body)) current.vips.push(body.split(' ')[0] as string);
    else inVips = false;
  }
  return out;
}

describe('convert means what keepalived 2.2.7 does (keepalived --dump-conf as the oracle)', () => {
  let lab: NetnsLab;
  let dumped: Map<string, Dumped>;
  let file: string;

  beforeAll(async () => {
    lab = createNetnsLab();
    const ns = await lab.namespace('kconv');
    await lab.veth({ ns, ifname: 'kc0' }, { ns, ifname: 'kc1' });
    const dir = await lab.tempDir('ipvsd-kconv-');
    file = join(dir, 'keepalived.conf');
    await writeFile(file, CONFIG);
    const proc = lab.spawn(ns, KEEPALIVED, [
      '--dont-fork',
      '--log-console',
      '--vrrp',
      '--dump-conf',
      '--config-id',
      'lb1',
      '--use-file',
      file,
      '--pid',
      join(dir, 'k.pid'),
      '--vrrp_pid',
      join(dir, 'v.pid'),
    ]);
    await proc.waitForOutput('VRRP Instance = VI_5', 30_000);
    await proc.waitForOutput(
      /Notify priority changes[^\n]*\n(.|\n)*VRRP Instance = VI_5(.|\n)*Notify priority changes/,
      30_000,
    );
    dumped = parseDump(proc.stdout() + proc.stderr());
    await proc.kill('SIGTERM');
  }, 60_000);

  afterAll(async () => {
    await lab?.cleanup();
  });

  it('every instance: wanted state, priority, preempt, preempt delay, authentication and VIPs', () => {
    const result = convertKeepalived(file, nodeSourceFs, { configId: 'lb1' });
    expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const { config, issues } = parseConfig(result.yaml ?? '', 'converted.yaml', { hostname: 'lb1' });
    expect(issues).toEqual([]);
    const converted = new Map(
      (config?.vrrpInstances ?? []).map((i) => [
        i.name,
        {
          wantstate: i.state.toUpperCase(),
          priority: i.priority,
          preempt: i.preempt,
          preemptDelayS: i.preemptDelayMs / 1000,
          auth:
            i.authentication === null
              ? 'none'
              : i.authentication.type === 'pass'
                ? 'SIMPLE_PASSWORD'
                : 'IPSEC_AH',
          vips: i.virtualIpaddresses.map((v) => `${v.address}/${v.prefixLength}`),
        },
      ]),
    );
    expect([...dumped.keys()]).toEqual(['VI_1', 'VI_2', 'VI_3', 'VI_4', 'VI_5']);
    // the dump was read, not defaulted: values only keepalived's own reading can give
    expect(dumped.get('VI_1')).toMatchObject({ wantstate: 'MASTER', priority: 255, preempt: true });
    expect(dumped.get('VI_1')?.vips).toHaveLength(5);
    expect(dumped.get('VI_2')).toMatchObject({ wantstate: 'BACKUP', priority: 200, auth: 'none' });
    expect(dumped.get('VI_5')?.preemptDelayS).toBe(2);
    for (const [name, fromKeepalived] of dumped) {
      expect({ name, ...converted.get(name) }).toEqual({ name, ...fromKeepalived });
    }
  });
});
