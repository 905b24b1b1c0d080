import { describe, expect, it } from 'vitest';
import { createReconciler, type ReconcileReport } from '../../../src/director/reconciler.js';
import { createMemoryBackend } from '../../../src/ipvs/memory-backend.js';
import { addressService, type DesiredService } from '../../../src/model/ipvs.js';

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
