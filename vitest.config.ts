import { defineConfig } from 'vitest/config';

// Three tiers (DESIGN §6): unit runs anywhere; netns needs root and real namespaces;
// vm tests run inside the qemu guest through test/vm/run-vm-tests.sh (a kernel with IPVS).
export default defineConfig({
  // Inside the VM the repository is read-only: keep Vite's cache on the guest's tmpfs.
  ...(process.env.IPVSD_VM === '1' ? { cacheDir: '/tmp/ipvsd-vite-cache' } : {}),
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Property tests run hundreds of cases: on a busy 2-core machine one took 9.6 s. The limit
          // only catches hangs; nothing in the unit tier judges time.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'netns',
          include: ['test/netns/**/*.test.ts'],
          // Root check (fails, never skips), stale-namespace sweep, and `npm run build`: code under
          // test runs inside namespaces as the compiled JavaScript in dist/.
          globalSetup: ['test/netns/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'vm',
          include: ['test/vm/**/*.test.ts'],
          // Runs inside the qemu guest (test/vm/run-vm-tests.sh); the setup refuses to run elsewhere.
          globalSetup: ['test/vm/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
