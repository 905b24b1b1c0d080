/**
 * Routing daemons in test namespaces, in the foreground under the lab (its cleanup ends them):
 * BIRD 2 and FRR (zebra, bfdd, bgpd), each with its own control socket, pid files and zserv path
 * in a directory of the test's, so several run side by side on one machine or in one VM.
 */
import { chown } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetnsLab, SpawnedProcess } from './netns.js';
import { waitFor } from './wait.js';

/** `bird -f -c CONFIG` with its control socket and pid file in `dir`; birdc -s DIR/NAME.ctl talks to it. */
export function startBird(
  lab: NetnsLab,
  ns: string,
  dir: string,
  name: string,
  config: string,
): SpawnedProcess {
  return lab.spawn(ns, 'bird', [
    '-f',
    '-c',
    config,
    '-s',
    join(dir, `${name}.ctl`),
    '-P',
    join(dir, `${name}.pid`),
  ]);
}

/** zebra, (bfdd,) bgpd of one namespace, each with its own pid file, vty and zserv paths in `dir`. */
export async function startFrr(
  lab: NetnsLab,
  ns: string,
  dir: string,
  name: string,
  config: string,
  bfd: boolean,
): Promise<SpawnedProcess[]> {
  const home = join(dir, name);
  await lab.execOk(ns, 'mkdir', ['-p', home]);
  // FRR drops to its own user; its sockets and pid files go where that user can write.
  const frr = await lab.execOk(ns, 'id', ['-u', 'frr']);
  const frrGid = await lab.execOk(ns, 'id', ['-g', 'frr']);
  await chown(home, Number(frr.trim()), Number(frrGid.trim()));
  await chown(dir, Number(frr.trim()), Number(frrGid.trim()));
  const out: SpawnedProcess[] = [];
  for (const d of bfd ? ['zebra', 'bfdd', 'bgpd'] : ['zebra', 'bgpd']) {
    const proc = lab.spawn(ns, `/usr/lib/frr/${d}`, [
      '-u',
      'frr',
      '-g',
      'frr',
      '-f',
      config,
      '-i',
      join(home, `${d}.pid`),
      '--vty_socket',
      home,
      '-z',
      join(home, 'zserv.api'),
      '-A',
      '127.0.0.1',
    ]);
    out.push(proc);
    // bgpd and bfdd connect to zebra's zserv socket: start zebra first.
    if (d === 'zebra')
      await waitFor(`${name}'s zebra socket`, () => socketExists(lab, ns, join(home, 'zserv.api')));
  }
  return out;
}

async function socketExists(lab: NetnsLab, ns: string, path: string): Promise<boolean> {
  return (await lab.exec(ns, 'test', ['-S', path])).code === 0;
}
