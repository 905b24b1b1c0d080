/**
 * Issue 16's LVS features end to end, on the VM's kernel IPVS: a keepalived.conf written for this
 * test, converted by `ipvsctl convert`, run by ipvsd in the NAT topology (test/vm/nat-topology.ts).
 * What counts is the kernel table (`ipvsadm -Sn` / `-Ln` in the director), what a client gets
 * through the VIP, and the marker files the notify scripts write. One boot, one daemon, cases in
 * order, each leaving every real server up. keepalived's meaning of each feature is cited where
 * it is asserted (keepalived/check/*.c of github.com/acassen/keepalived).
 */
import { existsSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createNetnsLab, run, type SpawnedProcess } from '../support/netns.js';
import { IPVSCTL, IPVSD, PROJECT_ROOT } from '../support/paths.js';
import { waitFor } from '../support/wait.js';
import { ipvsadmSave } from './ipvs-lab.js';
import { createNatTopology, type NatTopology, startServer, waitForLog } from './nat-topology.js';

const lab = createNetnsLab();
const DIR = `/tmp/ipvsd-vm-lvs-features-${process.pid}`;
const WWW = join(DIR, 'www');
const SOCKET = join(DIR, 'control.sock');
const PATH_SERVER = join(PROJECT_ROOT, 'test/vm/fixtures/path-server.mjs');
const ALL_PORTS_VIP = '203.0.113.120';
const touch = (name: string) => `"/usr/bin/touch ${join(DIR, name)}"`;

/** Fast checks (1 s, one retry, a timeout that allows for TCG) so each case settles in seconds. */
const KEEPALIVED_CONF = `
virtual_server_group WEB {
    203.0.113.100-101 80
    203.0.113.110 8080
    fwmark 7
}

virtual_server group WEB {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.11 8080 {
        notify_up ${touch('rs1-up')}
        notify_down ${touch('rs1-down')}
        HTTP_GET {
            url {
                path /a
                status_code 200
            }
            url {
                path /b
                status_code 200
            }
            connect_timeout 5
            retry 1
        }
        TCP_CHECK {
            connect_port 9000
            connect_timeout 5
            retry 1
        }
    }
    real_server 198.51.100.12 8080 {
        TCP_CHECK {
            connect_timeout 5
            retry 1
        }
    }
}

virtual_server ${ALL_PORTS_VIP} 0 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.12 {
        TCP_CHECK {
            connect_port 8080
            connect_timeout 5
            retry 1
        }
    }
}

virtual_server fwmark 9 {
    lb_algo rr
    lb_kind NAT
    persistence_timeout 60
    real_server 198.51.100.13 {
    }
}

virtual_server 203.0.113.130 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 2
    quorum_up ${touch('quorum-up')}
    quorum_down ${touch('quorum-down')}
    real_server 198.51.100.12 8080 {
        TCP_CHECK {
            connect_timeout 5
            retry 1
        }
    }
    real_server 198.51.100.13 8080 {
        inhibit_on_failure
        HTTP_GET {
            url {
                path /q
                status_code 200
            }
            connect_timeout 5
            retry 1
        }
    }
}
`;

const GROUP_SERVICES = ['-t 203.0.113.100:80', '-t 203.0.113.101:80', '-t 203.0.113.110:8080', '-f 7'];

let topo: NatTopology;
let ipvsd: SpawnedProcess;
let echo: SpawnedProcess;
let convertWarnings = '';

/** `ipvsadm -Sn` as a set of lines. */
async function kernelLines(): Promise<string[]> {
  return (await ipvsadmSave(lab, topo.director)).trim().split('\n');
}

/** Waits until every line of `present` is in the kernel table and none of `absent` is. */
async function waitForKernel(what: string, present: string[], absent: string[] = []): Promise<void> {
  let last: string[] = [];
  await waitFor(
    what,
    async () => {
      last = await kernelLines();
      return present.every((l) => last.includes(l)) && absent.every((l) => !last.includes(l));
    },
    { timeoutMs: 90_000, intervalMs: 200 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; ipvsadm -Sn:\n${last.join('\n')}\n${ipvsd.stdout().slice(-4000)}`);
  });
}

const groupDest = (rs: string) => GROUP_SERVICES.map((svc) => `-a ${svc} -r ${rs} -m -w 1`);

async function waitForFile(name: string): Promise<void> {
  await waitFor(`${name} written by its notify script`, async () => existsSync(join(DIR, name)), {
    timeoutMs: 60_000,
    intervalMs: 200,
  });
}

beforeAll(async () => {
  rmSync(DIR, { recursive: true, force: true });
  for (const [rs, files] of [
    ['rs1', ['a', 'b', 'name']],
    ['rs2', ['name']],
    ['rs3', ['q', 'name']],
  ] as const) {
    mkdirSync(join(WWW, rs), { recursive: true });
    for (const f of files) writeFileSync(join(WWW, rs, f), rs);
  }
  writeFileSync(join(DIR, 'keepalived.conf'), KEEPALIVED_CONF);
  const converted = await run(process.execPath, [IPVSCTL, 'convert', join(DIR, 'keepalived.conf')], {
    timeoutMs: 300_000,
  });
  if (converted.code !== 0) throw new Error(`convert failed:\n${converted.stderr}`);
  convertWarnings = converted.stderr;
  const config = parse(converted.stdout) as { director?: Record<string, unknown> };
  config.director = { ...config.director, control_socket: SOCKET, metrics: { listen: '127.0.0.1:9470' } };
  writeFileSync(join(DIR, 'ipvsd.yaml'), stringify(config));

  topo = await createNatTopology(lab);
  await lab.addAddress(topo.director, 'out0', `${ALL_PORTS_VIP}/24`);
  await Promise.all(
    topo.realServers.map(async (h) => {
      const proc = lab.spawn(h.ns, process.execPath, [PATH_SERVER, join(WWW, h.name), `${h.address}:8080`]);
      await proc.waitForOutput('listening', 120_000);
    }),
  );
  echo = await startServer(lab, topo.realServers[0] as NatTopology['realServers'][0], 'echo', 9000);
  ipvsd = lab.spawn(topo.director, process.execPath, [IPVSD, '--config', join(DIR, 'ipvsd.yaml')]);
  await waitForLog(ipvsd, (e) => e.msg === 'ipvsd started', { timeoutMs: 180_000, what: '"ipvsd started"' });
});

afterAll(async () => {
  try {
    await lab.cleanup();
  } finally {
    rmSync(DIR, { recursive: true, force: true });
  }
});

describe('keepalived LVS features through convert, in ipvsd, on kernel IPVS', () => {
  it('virtual_server_group: every member (range expanded, fwmark too) is a service with the same real servers', async () => {
    await waitForKernel('the group in the kernel', [
      ...GROUP_SERVICES.map((svc) => `-A ${svc} -s rr`),
      ...groupDest('198.51.100.11:8080'),
      ...groupDest('198.51.100.12:8080'),
    ]);
    const status = JSON.parse(
      await lab.execOk(topo.director, process.execPath, [IPVSCTL, '--socket', SOCKET, 'status', '--json']),
    ) as { virtual_servers: { name: string; members?: { address: string | null; in_kernel: boolean }[] }[] };
    const group = status.virtual_servers.find((v) => v.name === 'group/WEB/tcp');
    expect(group?.members?.map((m) => [m.address, m.in_kernel])).toEqual([
      ['203.0.113.100', true],
      ['203.0.113.101', true],
      ['203.0.113.110', true],
      [null, true],
    ]);
  });

  it('port 0: a persistent all-ports service (keepalived sets persistence, with a warning) forwards any port to port-less real servers', async () => {
    // check_data.c validate_check_config: "zero port only valid for persistent services - setting"
    // (IPVS_SVC_PERSISTENT_TIMEOUT, 360 s).
    expect(convertWarnings).toContain('persistence timeout 360s is set, as keepalived does');
    await waitForKernel('the all-ports service and the port-less fwmark real server', [
      `-A -t ${ALL_PORTS_VIP}:0 -s rr -p 360`,
      `-a -t ${ALL_PORTS_VIP}:0 -r 198.51.100.12:0 -m -w 1`,
      '-A -f 9 -s rr -p 60',
      '-a -f 9 -r 198.51.100.13:0 -m -w 1',
    ]);
    // The kernel sends each connection to the port the client asked for (destination port 0).
    const answer = await lab.execOk(topo.client, 'curl', [
      '-sS',
      '--max-time',
      '20',
      `http://${ALL_PORTS_VIP}:8080/name`,
    ]);
    expect(answer).toBe('rs2');
  });

  it('several urls: one failing url takes the real server out of every member; notify_down, then notify_up', async () => {
    unlinkSync(join(WWW, 'rs1', 'b'));
    await waitForKernel(
      'rs1 out of the group',
      groupDest('198.51.100.12:8080'),
      groupDest('198.51.100.11:8080'),
    );
    // ipwrapper.c do_rs_notifies: the script as configured, no arguments added.
    await waitForFile('rs1-down');
    expect(existsSync(join(DIR, 'rs1-up'))).toBe(false);
    writeFileSync(join(WWW, 'rs1', 'b'), 'rs1');
    await waitForKernel('rs1 back in the group', groupDest('198.51.100.11:8080'));
    await waitForFile('rs1-up');
  });

  it('several checkers: the tcp checker failing alone (http still passing) takes the real server out', async () => {
    await echo.kill('SIGKILL');
    await waitForKernel(
      'rs1 out of the group',
      groupDest('198.51.100.12:8080'),
      groupDest('198.51.100.11:8080'),
    );
    echo = await startServer(lab, topo.realServers[0] as NatTopology['realServers'][0], 'echo', 9000);
    await waitForKernel('rs1 back in the group', groupDest('198.51.100.11:8080'));
  });

  it('inhibit_on_failure on one real server: weight 0 while the other would be removed; quorum_down then quorum_up', async () => {
    unlinkSync(join(WWW, 'rs3', 'q'));
    await waitForKernel('rs3 inhibited', [
      '-a -t 203.0.113.130:80 -r 198.51.100.13:8080 -m -w 0',
      '-a -t 203.0.113.130:80 -r 198.51.100.12:8080 -m -w 1',
    ]);
    // Live weight 1 < quorum 2 (ipwrapper.c update_quorum_state).
    await waitForFile('quorum-down');
    expect(existsSync(join(DIR, 'quorum-up'))).toBe(false);
    writeFileSync(join(WWW, 'rs3', 'q'), 'rs3');
    await waitForKernel('rs3 back at weight 1', ['-a -t 203.0.113.130:80 -r 198.51.100.13:8080 -m -w 1']);
    await waitForFile('quorum-up');
  });
});
