/**
 * The director of ipvsd (from dist/) on an in-memory kernel, with every real server of a generated
 * check-scale config reported up by a stand-in monitor: what the director-cost benchmarks
 * (health-change-cost.mjs, resync-cost.mjs) measure against. Build first (`npm run build`).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ipvsdConfig } from './configs.mjs';

const dist = (p) => new URL(`../../dist/src/${p}`, import.meta.url).href;
const { parseConfig } = await import(dist('config/load.js'));
const { createDirector } = await import(dist('director/director.js'));
const { createMetrics } = await import(dist('metrics/metrics.js'));
const { createMemoryBackend } = await import(dist('ipvs/memory-backend.js'));
const { createLogger } = await import(dist('sys/logger.js'));
const pino = (await import('pino')).default;

/** `--name N` from argv, or `def`. */
export const numberArg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? def : Number(process.argv[i + 1]);
};

/**
 * A director for `servers` real servers (5/6 TCP, the rest HTTP), not started. `wrapBackend` may
 * replace methods of the in-memory backend (to time applies). The monitor's health changes go to
 * `emitChange(id, state)` once the director has subscribed.
 */
export function createDirectorHarness(servers, wrapBackend = (b) => b) {
  const tcp = Math.round((servers * 5) / 6);
  const dir = mkdtempSync(join(tmpdir(), 'ipvsd-director-bench-'));
  const file = join(dir, 'ipvsd.yaml');
  writeFileSync(file, ipvsdConfig(tcp, servers - tcp));
  const { config, issues } = parseConfig(readFileSync(file, 'utf8'), file);
  rmSync(dir, { recursive: true, force: true });
  if (!config || issues.length) throw new Error(`config refused: ${JSON.stringify(issues.slice(0, 3))}`);

  const states = new Map();
  let onChange = () => {};
  const monitor = {
    update(targets) {
      for (const t of targets)
        states.set(t.id, {
          health: 'up',
          consecutiveOk: 1,
          consecutiveFail: 0,
          lastResult: null,
          lastCheckedAt: null,
        });
    },
    status: (id) => states.get(id),
    snapshot: () => states,
    onChange(listener) {
      onChange = listener;
      return () => {};
    },
    onResult: () => () => {},
    stop: async () => {},
  };
  const backend = wrapBackend(createMemoryBackend());
  const metrics = createMetrics({ dumpIpvs: () => backend.dump(), version: 'bench' });
  const logger = createLogger({ destination: pino.destination({ dest: '/dev/null', sync: true }) });
  const director = createDirector(config, { backend: () => backend, monitor, metrics, logger });
  return { config, states, backend, director, emitChange: (...args) => onChange(...args) };
}
