/**
 * The three-director ECMP examples in config/ cannot rot: every ipvsd file passes `ipvsctl check`,
 * every BIRD file `bird -p`, every FRR file `vtysh --dryrun`; and the routing configs do their job
 * as written: director 1's daemon, fed a host route in table 200 the way ipvsd writes it, announces
 * the VIP to the router's daemon, which installs a route to it through director 1, and takes it
 * back when the route goes. The VIP is local on director 1 as ipvsd keeps it: a `local` route of
 * ipvsd's protocol in the table local, not an address on lo (of which FRR 8.4 would make a
 * connected route and prefer it over the imported one, announcing nothing).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsLab, run } from '../support/netns.js';
import { IPVSCTL, PROJECT_ROOT } from '../support/paths.js';
import { startBird, startFrr } from '../support/routing-daemon.js';
import { waitFor } from '../support/wait.js';

const CONFIG = join(PROJECT_ROOT, 'config');
const yamls = readdirSync(CONFIG).filter((f) => /^ecmp-director-\d\.yaml$/.test(f));
const confs = (daemon: string) =>
  readdirSync(join(CONFIG, 'ecmp', daemon)).map((f) => join('ecmp', daemon, f));
const VIP = '203.0.113.100';
// ipvsd's defaults: director.announce.table and .protocol
const TABLE = '200';
const PROTOCOL = '240';

describe('the ECMP example files are valid', () => {
  it('has three directors and a BIRD and an FRR config per director plus one for the router', () => {
    expect(yamls.sort()).toEqual(['ecmp-director-1.yaml', 'ecmp-director-2.yaml', 'ecmp-director-3.yaml']);
    for (const d of ['bird', 'frr'])
      expect(confs(d).sort()).toEqual(
        ['director-1.conf', 'director-2.conf', 'director-3.conf', 'router.conf'].map((f) =>
          join('ecmp', d, f),
        ),
      );
  });

  it.each(yamls)('ipvsctl check %s', async (f) => {
    const r = await run(process.execPath, [IPVSCTL, 'check', join(CONFIG, f)]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(': valid (2 virtual servers, 6 real servers)');
    expect(r.code).toBe(0);
  });

  it.each(confs('bird'))('bird -p -c %s', async (f) => {
    const r = await run('bird', ['-p', '-c', join(CONFIG, f)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it.each(confs('frr'))('vtysh --dryrun -f %s', async (f) => {
    const r = await run('vtysh', ['--dryrun', '-f', join(CONFIG, f)]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe.each(['bird', 'frr'] as const)('the %s examples announce what ipvsd puts in table 200', (daemon) => {
  const lab = createNetnsLab();
  let router = '';
  let lb1 = '';
  let dir = '';

  beforeAll(async () => {
    router = await lab.namespace('router');
    lb1 = await lab.namespace('lb1');
    dir = await lab.tempDir('ipvsd-ecmp-examples-');
    await lab.veth(
      { ns: router, ifname: 't0', cidr: '192.0.2.129/25' },
      { ns: lb1, ifname: 't0', cidr: '192.0.2.131/25' },
    );
    // the VIP as ipvsd keeps it: a local route of its protocol
    await lab.execOk(lb1, 'ip', [
      'route',
      'add',
      'local',
      `${VIP}/32`,
      'dev',
      'lo',
      'table',
      'local',
      'proto',
      PROTOCOL,
    ]);
    if (daemon === 'bird') {
      startBird(lab, router, dir, 'router', join(CONFIG, 'ecmp/bird/router.conf'));
      startBird(lab, lb1, dir, 'lb1', join(CONFIG, 'ecmp/bird/director-1.conf'));
    } else {
      await startFrr(lab, router, dir, 'router', join(CONFIG, 'ecmp/frr/router.conf'), true);
      await startFrr(lab, lb1, dir, 'lb1', join(CONFIG, 'ecmp/frr/director-1.conf'), true);
    }
  });
  afterAll(() => lab.cleanup());

  const routerRoute = async () =>
    lab.ipJson<{ gateway?: string; nexthops?: { gateway?: string }[] }[]>(router, [
      'route',
      'show',
      `${VIP}/32`,
    ]);

  it('the router learns the VIP through director 1 while the route is in the table, and drops it after', async () => {
    await lab.execOk(lb1, 'ip', [
      'route',
      'add',
      `${VIP}/32`,
      'dev',
      'lo',
      'table',
      TABLE,
      'proto',
      PROTOCOL,
    ]);
    const learned = await waitFor(
      'the router to learn the VIP',
      async () => {
        const routes = await routerRoute();
        return routes.length > 0 ? routes : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(learned[0]?.gateway ?? learned[0]?.nexthops?.[0]?.gateway).toBe('192.0.2.131');
    await lab.execOk(lb1, 'ip', ['route', 'del', `${VIP}/32`, 'table', TABLE, 'proto', PROTOCOL]);
    await waitFor('the router to drop the VIP', async () => (await routerRoute()).length === 0, {
      timeoutMs: 10_000,
    });
  });
});
