import { describe, expect, it } from 'vitest';
import { diff } from '../../../src/director/diff.js';
import { createReconciler, type ReconcileReport } from '../../../src/director/reconciler.js';
import { createMemoryBackend } from '../../../src/ipvs/memory-backend.js';
import { addressService, type DesiredService, type IpvsOperation } from '../../../src/model/ipvs.js';

const key = addressService('inet', 'tcp', '203.0.113.100', 80);
const table = (...weights: number[]): DesiredService[] => [
  {
    key,
    scheduler: 'wrr',
    persistence: null,
    flags: 0,
    destinations: weights.map((weight, i) => ({
      address: `198.51.100.${11 + i}`,
      port: 8080,
      forwarding: 'nat' as const,
      weight,
      upperThreshold: 0,
      lowerThreshold: 0,
    })),
  },
];
const weightsIn = async (kernel: ReturnType<typeof createMemoryBackend>) =>
  (await kernel.dump())[0]?.destinations.map((d) => d.weight);

function setup(kernel = createMemoryBackend()) {
  const reports: ReconcileReport[] = [];
  const failures: unknown[] = [];
  const reconciler = createReconciler(
    { unmanaged: 'remove' },
    { backend: kernel, onReport: (r) => reports.push(r), onFailure: (e) => failures.push(e) },
  );
  return { kernel, reconciler, reports, failures };
}

describe('reconciler', () => {
  it('makes the kernel match the desired table, then edits only what changed', async () => {
    const { kernel, reconciler, reports } = setup();
    await reconciler.setDesired(table(3, 2, 1), 'start');
    expect(await weightsIn(kernel)).toEqual([3, 2, 1]);
    await reconciler.setDesired(table(3, 0, 1));
    expect(await weightsIn(kernel)).toEqual([3, 0, 1]);
    expect(reports.map((r) => r.operations.map((o) => o.kind))).toEqual([
      ['add-service', 'add-destination', 'add-destination', 'add-destination'],
      ['edit-destination'],
    ]);
  });

  it('adopts an existing kernel table without flushing it', async () => {
    const { kernel, reconciler, reports } = setup();
    await kernel.apply([
      { kind: 'add-service', service: { key, scheduler: 'wrr', persistence: null, flags: 0 } },
      { kind: 'add-destination', key, destination: table(3)[0]?.destinations[0] as never },
    ]);
    await reconciler.setDesired(table(3, 2), 'start');
    expect(reports[0]?.operations.map((o) => o.kind)).toEqual(['add-destination']);
  });

  it('coalesces requests made during a run into one more run with the latest table', async () => {
    const { kernel, reconciler, reports } = setup();
    const first = reconciler.setDesired(table(1, 1, 1), 'start');
    void reconciler.setDesired(table(2, 1, 1));
    void reconciler.setDesired(table(3, 1, 1));
    await first;
    await reconciler.idle();
    expect(await weightsIn(kernel)).toEqual([3, 1, 1]);
    expect(reports).toHaveLength(2);
  });

  it('does not see drift between resyncs, and repairs it on resync (ipvsadm -C)', async () => {
    const { kernel, reconciler } = setup();
    await reconciler.setDesired(table(3, 2), 'start');
    await kernel.flush();
    await reconciler.setDesired(table(3, 2));
    expect(await kernel.dump()).toEqual([]);
    await reconciler.resync();
    expect(await weightsIn(kernel)).toEqual([3, 2]);
  });

  it('re-reads the kernel after a refused operation', async () => {
    const kernel = createMemoryBackend([], { schedulers: ['rr'] });
    const { reconciler, reports } = setup(kernel);
    await reconciler.setDesired(table(1), 'start');
    expect(reports[0]?.errors[0]?.message).toContain('scheduler "wrr" is not available');
    await reconciler.setDesired(table(1));
    // the second run dumped the kernel again (no service there) and tried the add again
    expect(reports[1]?.operations.map((o) => o.kind)).toEqual(['add-service', 'add-destination']);
  });

  it('reports a failed run and recovers on the next one', async () => {
    const kernel = createMemoryBackend();
    let failDump = true;
    const flaky = {
      ...kernel,
      dump: () => (failDump ? Promise.reject(new Error('netlink gone')) : kernel.dump()),
    };
    const { reconciler, failures } = setup(flaky as typeof kernel);
    await reconciler.setDesired(table(1), 'start');
    expect(String(failures[0])).toContain('netlink gone');
    failDump = false;
    await reconciler.resync();
    expect(await weightsIn(kernel)).toEqual([1]);
  });
});

describe('reconciler: event runs look only at services whose desired object changed', () => {
  const service = (port: number, weights: number[]): DesiredService => ({
    ...(table(...weights)[0] as DesiredService),
    key: addressService('inet', 'tcp', '203.0.113.100', port),
  });

  it('keeps the kernel equal to the desired table through a random walk of changes', async () => {
    const { kernel, reconciler, reports } = setup();
    const ports = [80, 81, 82, 83];
    let services = ports.map((p) => service(p, [1, 1, 1]));
    await reconciler.setDesired(services, 'start');
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let step = 0; step < 40; step++) {
      // One service gets a new object (a health change there); the others keep theirs.
      const i = random(ports.length);
      const weights = [random(3), random(3), random(3)].filter((_, j) => random(4) !== 0 || j === 0);
      services = services.map((s, j) => (j === i ? service(ports[j] as number, weights) : s));
      await reconciler.setDesired(services);
      const kernelNow = await kernel.dump();
      for (const wanted of services) {
        const got = kernelNow.find((s) => s.key.port === wanted.key.port);
        expect(got?.destinations.map((d) => `${d.address}:${d.weight}`)).toEqual(
          wanted.destinations.map((d) => `${d.address}:${d.weight}`),
        );
      }
      // Only the service that changed was diffed: no operation names another one.
      const touched = new Set(
        reports
          .at(-1)
          ?.operations.map((o) =>
            'key' in o ? o.key.port : o.kind === 'set-timeouts' ? -1 : o.service.key.port,
          ),
      );
      for (const port of touched) expect(port).toBe(ports[i]);
    }
  });

  it('an unchanged object is not diffed again: drift there waits for the resync', async () => {
    const { kernel, reconciler } = setup();
    const a = service(80, [1, 1]);
    let b = service(81, [1, 1]);
    await reconciler.setDesired([a, b], 'start');
    // Someone edits service a behind our back; then a health change in b.
    await kernel.apply([{ kind: 'delete-service', key: a.key }]);
    b = service(81, [1, 0]);
    await reconciler.setDesired([a, b]);
    expect((await kernel.dump()).map((s) => s.key.port)).toEqual([81]);
    await reconciler.resync();
    expect((await kernel.dump()).map((s) => s.key.port).sort()).toEqual([80, 81]);
  });
});

describe('reconciler: a resync skips only what the diff would find nothing in', () => {
  const service = (port: number, weights: number[], scheduler = 'wrr'): DesiredService => ({
    ...(table(...weights)[0] as DesiredService),
    key: addressService('inet', 'tcp', '203.0.113.100', port),
    scheduler,
  });

  it('repairs drift behind the back of services whose desired object did not change', async () => {
    const { kernel, reconciler, reports } = setup();
    const a = service(80, [3, 2]);
    const b = service(81, [1, 1]);
    await reconciler.setDesired([a, b], 'start');
    const destination = a.destinations[1] as never;
    const drift: IpvsOperation[][] = [
      [
        {
          kind: 'edit-destination',
          key: a.key,
          destination: { ...(a.destinations[0] as object), weight: 9 } as never,
        },
      ],
      [{ kind: 'delete-destination', key: a.key, destination }],
      [{ kind: 'edit-service', service: { key: b.key, scheduler: 'rr', persistence: null, flags: 0 } }],
      [
        {
          kind: 'add-destination',
          key: b.key,
          destination: { ...(b.destinations[0] as object), address: '198.51.100.99' } as never,
        },
      ],
      [
        {
          kind: 'add-service',
          service: { key: service(82, []).key, scheduler: 'rr', persistence: null, flags: 0 },
        },
      ],
    ];
    const repairs = [
      ['edit-destination'],
      ['add-destination'],
      ['edit-service'],
      ['delete-destination'],
      ['delete-service'],
    ];
    for (const [i, ops] of drift.entries()) {
      expect((await kernel.apply(ops)).map((r) => r.error)).toEqual(ops.map(() => null));
      await reconciler.resync();
      expect(reports.at(-1)?.operations.map((o) => o.kind)).toEqual(repairs[i]);
      expect(diff([a, b], await kernel.dump(), { unmanaged: 'remove' })).toEqual([]);
      // And the next resync, with nothing changed anywhere, has nothing to do.
      await reconciler.resync();
      expect(reports.at(-1)?.operations).toEqual([]);
    }
  });

  it('gives the operations diffing the whole table gives, through random drift and desired changes', async () => {
    const ports = [80, 81, 82, 83, 84];
    let seed = 11;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const weights = () => [random(3), random(3), random(3)].filter((_, j) => random(4) !== 0 || j === 0);
    for (const unmanaged of ['remove', 'keep'] as const) {
      const kernel = createMemoryBackend();
      const reports: ReconcileReport[] = [];
      const reconciler = createReconciler(
        { unmanaged },
        { backend: kernel, onReport: (r) => reports.push(r) },
      );
      let services = ports.slice(0, 4).map((p) => service(p, weights()));
      await reconciler.setDesired(services, 'start');
      for (let step = 0; step < 60; step++) {
        // Drift: an operation on a random service (80..84, so sometimes one nobody manages), which
        // the kernel may refuse; and sometimes a new desired object for one service.
        const port = ports[random(ports.length)] as number;
        const target = service(port, weights(), random(2) ? 'wrr' : 'rr');
        const dest = target.destinations[0] as never;
        const drift: IpvsOperation[] = [
          [{ kind: 'add-service', service: target }],
          [{ kind: 'delete-service', key: target.key }],
          [{ kind: 'edit-service', service: target }],
          [{ kind: 'add-destination', key: target.key, destination: dest }],
          [{ kind: 'edit-destination', key: target.key, destination: dest }],
          [{ kind: 'delete-destination', key: target.key, destination: dest }],
        ][random(6)] as IpvsOperation[];
        await kernel.apply(drift);
        if (random(3) === 0) {
          const i = random(services.length);
          services = services.map((s, j) => (j === i ? service(s.key.port as number, weights()) : s));
          await reconciler.setDesired(services);
        }
        const expected = diff(services, await kernel.dump(), { unmanaged });
        await reconciler.resync();
        expect(reports.at(-1)?.kind).toBe('resync');
        expect(reports.at(-1)?.operations).toEqual(expected);
        expect(diff(services, await kernel.dump(), { unmanaged })).toEqual([]);
      }
    }
  });
});
