/**
 * Moving a director from keepalived to ipvsd (issue 16): Debian's keepalived runs a keepalived.conf
 * (virtual servers, a virtual_server_group, a VRRP instance) in a director namespace inside the VM;
 * the kernel table (`ipvsadm -Sn`) and the VRRP adverts on the wire (tcpdump in a peer namespace)
 * are captured; keepalived stops, ipvsd runs `ipvsctl convert`'s output of the same file, and the
 * same captures must come out equal: the same services and real servers, and adverts with the same
 * vrid, priority, interval and addresses. Real servers have no checkers (keepalived then keeps them
 * up), so the comparison does not depend on probe timing.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { KEEPALIVED } from '../support/keepalived.js';
import { createNetnsLab, run, type SpawnedProcess } from '../support/netns.js';
import { IPVSCTL, IPVSD } from '../support/paths.js';
import { waitFor } from '../support/wait.js';
import { ipvsadmSave, normalizedSave } from './ipvs-lab.js';
import { waitForLog } from './nat-topology.js';

const lab = createNetnsLab();
const DIR = `/tmp/ipvsd-vm-migration-${process.pid}`;
const CONF = join(DIR, 'keepalived.conf');

const KEEPALIVED_CONF = `
global_defs {
    router_id lb1
}

vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        203.0.113.100/24
        203.0.113.101/24
    }
}

virtual_server_group WEB {
    203.0.113.100-101 80
    fwmark 7
}

virtual_server group WEB {
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.11 8080 {
        weight 3
    }
    real_server 198.51.100.12 8080 {
        weight 1
        inhibit_on_failure
    }
}

virtual_server_group DR_GROUP {
    203.0.113.103 80
    203.0.113.103 443
    fwmark 8
}

virtual_server group DR_GROUP {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 198.51.100.14 80 {
        weight 1
    }
}

virtual_server 203.0.113.100 443 {
    lb_algo sh
    lb_kind NAT
    protocol TCP
    persistence_timeout 300
    persistence_granularity 255.255.255.0
    real_server 198.51.100.11 8443 {
        weight 2
    }
}

virtual_server 203.0.113.102 0 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    persistence_timeout 60
    real_server 198.51.100.13 {
    }
}

virtual_server fwmark 9 {
    lb_algo rr
    lb_kind NAT
    persistence_timeout 60
    real_server 198.51.100.13 {
    }
}
`;

let director: string;
let peer: string;

/** Three adverts as tcpdump -v describes them, without the variable IP header fields. */
async function captureAdverts(): Promise<string[]> {
  const r = await lab.exec(peer, 'tcpdump', ['-i', 'eth0', '-nn', '-l', '-v', '-c', '3', 'vrrp'], {
    timeoutMs: 120_000,
  });
  const adverts = r.stdout
    .split('\n')
    .map((l) => /(\S+ > 224\.0\.0\.18: VRRP.*)$/.exec(l.trim())?.[1])
    .filter((l): l is string => l !== undefined);
  if (adverts.length < 3) throw new Error(`tcpdump saw ${adverts.length} adverts:\n${r.stdout}\n${r.stderr}`);
  return adverts;
}

/** Waits until the kernel table has settled on `lines` services+destinations; returns it normalized. */
async function settledTable(minLines: number): Promise<string> {
  let last = '';
  let same = 0;
  await waitFor(
    'a settled ipvs table',
    async () => {
      const now = await ipvsadmSave(lab, director);
      same = now === last && now.trim().split('\n').length >= minLines ? same + 1 : 0;
      last = now;
      return same >= 3;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last ipvsadm -Sn:\n${last}`);
  });
  return normalizedSave(last);
}

let keepalivedTable = '';
let keepalivedAdverts: string[] = [];
let ipvsdTable = '';
let ipvsdAdverts: string[] = [];

beforeAll(async () => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  writeFileSync(CONF, KEEPALIVED_CONF);
  director = await lab.namespace('director');
  peer = await lab.namespace('peer');
  await lab.veth(
    { ns: director, ifname: 'eth0', cidr: '203.0.113.1/24' },
    { ns: peer, ifname: 'eth0', cidr: '203.0.113.2/24' },
  );
  await lab.execOk(director, 'ip', ['link', 'add', 'name', 'rs0', 'type', 'dummy']);
  await lab.addAddress(director, 'rs0', '198.51.100.1/24');
  await lab.linkUp(director, 'rs0');
  await lab.addRoute(director, 'default', { via: '203.0.113.254' });
  // 2 group addresses + fwmark = 3 services of 2 real servers, then 3 + 3 services of 1.
  const expectedLines = 3 * 3 + 6 * 2;

  const keepalived: SpawnedProcess = lab.spawn(director, KEEPALIVED, [
    '--dont-fork',
    '--log-console',
    '--log-detail',
    '--use-file',
    CONF,
    '--pid',
    join(DIR, 'keepalived.pid'),
    '--vrrp_pid',
    join(DIR, 'vrrp.pid'),
    '--checkers_pid',
    join(DIR, 'checkers.pid'),
  ]);
  try {
    keepalivedTable = await settledTable(expectedLines);
    keepalivedAdverts = await captureAdverts();
  } catch (err) {
    throw new Error(`${(err as Error).message}\nkeepalived:\n${keepalived.stdout()}${keepalived.stderr()}`);
  }
  await keepalived.kill('SIGTERM', 20_000);
  // keepalived removes what it added on the way out; anything left must not count for ipvsd.
  await lab.execOk(director, 'ipvsadm', ['-C']);

  const converted = await run(process.execPath, [IPVSCTL, 'convert', CONF], { timeoutMs: 300_000 });
  if (converted.code !== 0) throw new Error(`convert refused:\n${converted.stderr}`);
  const config = parse(converted.stdout) as { director?: Record<string, unknown> };
  config.director = {
    ...config.director,
    control_socket: join(DIR, 'control.sock'),
    metrics: { listen: '127.0.0.1:9471' },
  };
  writeFileSync(join(DIR, 'ipvsd.yaml'), stringify(config));
  const ipvsd = lab.spawn(director, process.execPath, [IPVSD, '--config', join(DIR, 'ipvsd.yaml')]);
  await waitForLog(ipvsd, (e) => e.msg === 'ipvsd started', { timeoutMs: 180_000, what: '"ipvsd started"' });
  ipvsdTable = await settledTable(expectedLines);
  ipvsdAdverts = await captureAdverts();
});

afterAll(async () => {
  try {
    await lab.cleanup();
  } finally {
    rmSync(DIR, { recursive: true, force: true });
  }
});

describe('keepalived.conf run by keepalived, then its conversion run by ipvsd', () => {
  it('gives the same kernel table (ipvsadm -Sn, groups, port 0 and fwmark included)', () => {
    console.log(`keepalived's table:\n${keepalivedTable}`);
    expect(keepalivedTable).toContain('-A -f 7 -s wrr');
    // A dr real server of a group takes each member's port (ipvswrapper.c ipvs_group_cmd).
    expect(keepalivedTable).toContain('-a -t 203.0.113.103:443 -r 198.51.100.14:443 -g -w 1');
    expect(ipvsdTable).toBe(keepalivedTable);
  });

  it('sends the same VRRP adverts: vrid, priority, interval and addresses', () => {
    console.log(`keepalived's adverts:\n${keepalivedAdverts.join('\n')}`);
    expect(keepalivedAdverts[0]).toContain('vrid 51, prio 150');
    expect(new Set(ipvsdAdverts)).toEqual(new Set(keepalivedAdverts));
  });
});
