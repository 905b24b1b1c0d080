/**
 * The namespace helper itself: what it builds is really there, processes run inside, and cleanup
 * removes everything even with processes still running in the namespaces.
 */
import { describe, expect, it } from 'vitest';
import {
  createNetnsLab,
  listNamespaces,
  NETNS_PREFIX,
  namespaceExists,
  ownNetnsId,
  run,
} from '../support/netns.js';

describe('netns lab', () => {
  it('builds namespaces, veths, a bridge, addresses and routes; cleanup removes them all', async () => {
    const lab = createNetnsLab();
    try {
      const a = await lab.namespace('a');
      const b = await lab.namespace('b');
      const sw = await lab.namespace('switch');
      expect(a.startsWith(`${NETNS_PREFIX}${process.pid}-`)).toBe(true);
      await lab.veth({ ns: a, ifname: 'eth0', cidr: '192.0.2.1/24' }, { ns: sw, ifname: 'a0' });
      await lab.veth({ ns: b, ifname: 'eth0', cidr: '192.0.2.2/24' }, { ns: sw, ifname: 'b0' });
      await lab.bridge(sw, 'br0', ['a0', 'b0']);
      await lab.addAddress(b, 'eth0', '2001:db8::2/64');
      await lab.addAddress(b, 'lo', '198.51.100.2/32');
      await lab.addRoute(a, '198.51.100.0/24', { via: '192.0.2.2' });

      const [bridged] = await lab.ipJson<{ master?: string }[]>(sw, ['link', 'show', 'dev', 'a0']);
      expect(bridged?.master).toBe('br0');
      const routes = await lab.ipJson<{ dst: string; gateway?: string }[]>(a, ['route', 'show']);
      expect(routes).toContainEqual(
        expect.objectContaining({ dst: '198.51.100.0/24', gateway: '192.0.2.2' }),
      );

      // A TCP round trip across the bridge and the route proves the wiring, not just the config.
      const server = lab.spawn(b, process.execPath, [
        '-e',
        "require('node:net').createServer(s=>s.end('hello\\n')).listen(8080,'198.51.100.2',()=>console.log('listening'))",
      ]);
      await server.waitForOutput('listening');
      const client = await lab.exec(a, process.execPath, [
        '-e',
        "require('node:net').connect(8080,'198.51.100.2').on('data',d=>process.stdout.write(d))",
      ]);
      expect(client.stdout).toBe('hello\n');

      const inside = (await lab.execOk(a, 'readlink', ['/proc/self/ns/net'])).trim();
      expect(inside).not.toBe(ownNetnsId());

      // A process the lab did not start itself, left running inside the namespace.
      await lab.execOk(b, 'sh', ['-c', 'sleep 600 >/dev/null 2>&1 & echo $!']);
      const pids = await run('ip', ['netns', 'pids', b]);
      expect(pids.stdout.trim().split(/\s+/).length).toBeGreaterThanOrEqual(2);
    } finally {
      const names = lab.namespaces;
      await lab.cleanup();
      for (const name of names) expect(await namespaceExists(name)).toBe(false);
      await lab.cleanup(); // idempotent
    }
  });

  it('runs a Node script of ours inside a namespace', async () => {
    const lab = createNetnsLab();
    try {
      const ns = await lab.namespace('node');
      const result = await lab.runNode(ns, 'test/netns/drivers/print-netns.mjs');
      expect(result.code).toBe(0);
      const inside = (await lab.execOk(ns, 'readlink', ['/proc/self/ns/net'])).trim();
      expect(result.stdout.trim()).toBe(inside);
    } finally {
      await lab.cleanup();
    }
  });

  it('surfaces an agent crash as a rejected call, not a hang', async () => {
    const lab = createNetnsLab();
    try {
      const ns = await lab.namespace('crash');
      const agent = await lab.nodeAgent(ns, 'test/netns/drivers/print-netns.mjs');
      await expect(agent.call('crash')).rejects.toThrow(/node agent in .* exited \(exit code 3\)/);
      await expect(agent.call('crash')).rejects.toThrow(/has exited/);
    } finally {
      await lab.cleanup();
    }
    expect((await listNamespaces()).filter((n) => n.includes('-crash'))).toEqual([]);
  });
});
