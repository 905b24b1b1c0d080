/**
 * Once per `vitest run --project netns`: refuse to run without root (a failure, not a skip),
 * remove namespaces left by crashed runs, and compile src/ to dist/, because code that runs
 * inside a namespace is the compiled JavaScript (no TypeScript loader is installed).
 * IPVSD_TEST_SKIP_BUILD=1 skips the build when dist/ is known to be fresh.
 */
import {
  assertNetnsCapable,
  listNamespaces,
  NETNS_PREFIX,
  run,
  sweepStaleNamespaces,
} from '../support/netns.js';
import { PROJECT_ROOT } from '../support/paths.js';

export default async function setup(): Promise<() => Promise<void>> {
  assertNetnsCapable();
  const stale = await sweepStaleNamespaces();
  if (stale.length > 0)
    console.warn(`netns: removed ${stale.length} namespace(s) left by earlier runs: ${stale.join(', ')}`);

  if (process.env.IPVSD_TEST_SKIP_BUILD !== '1') {
    const build = await run('npm', ['run', '--silent', 'build'], { cwd: PROJECT_ROOT, timeoutMs: 300_000 });
    if (build.code !== 0) {
      throw new Error(
        `netns tests run the compiled code in dist/, and \`npm run build\` failed (exit ${build.code}):\n${build.stdout}${build.stderr}`,
      );
    }
  }

  return async () => {
    // Anything a test forgot: remove it, and say so loudly.
    const leaked = await sweepStaleNamespaces();
    const still = (await listNamespaces()).filter((n) => n.startsWith(NETNS_PREFIX));
    if (leaked.length > 0)
      console.warn(`netns: tests leaked namespace(s), now removed: ${leaked.join(', ')}`);
    if (still.length > 0) console.warn(`netns: namespaces of live processes remain: ${still.join(', ')}`);
  };
}
