// Driver for node-agent.mjs: our compiled VRRP speaker, built from a YAML config with the real
// native socket, rtnetlink and gratuitous ARP. One speaker at a time; start() after stop() makes
// a fresh one (a restart of the daemon, as far as VRRP is concerned). Logs go to stderr.
import { parseConfig } from '../../../dist/src/config/index.js';
import { createLogger } from '../../../dist/src/sys/logger.js';
import { createVrrpSpeaker } from '../../../dist/src/vrrp/speaker.js';

let speaker = null;
const changes = [];
const logger = createLogger({ destination: process.stderr, level: process.env.IPVSD_LOG_LEVEL ?? 'info' });

export async function start(yaml, garp) {
  if (speaker !== null) throw new Error('speaker already running');
  const { config, issues } = parseConfig(yaml, 'speaker.yaml', { hostname: 'netns' });
  if (config === null) throw new Error(`bad config: ${JSON.stringify(issues)}`);
  const created = createVrrpSpeaker(config, { logger, ...(garp ? { garp } : {}) });
  created.onStateChange((change) => changes.push({ ...change, at: Date.now() }));
  await created.start();
  speaker = created;
  return null;
}

export async function stop() {
  if (speaker === null) return null;
  const s = speaker;
  speaker = null;
  await s.stop();
  return s.status();
}

export function status() {
  if (speaker === null) throw new Error('no speaker running');
  return speaker.status();
}

/** Applies a new config to the running speaker (speaker.reload). */
export async function reload(yaml) {
  if (speaker === null) throw new Error('no speaker running');
  const { config, issues } = parseConfig(yaml, 'speaker.yaml', { hostname: 'netns' });
  if (config === null) throw new Error(`bad config: ${JSON.stringify(issues)}`);
  await speaker.reload(config);
  return speaker.status();
}

export function failover(name) {
  if (speaker === null) throw new Error('no speaker running');
  speaker.failover(name);
  return null;
}

export function takeChanges() {
  return changes.splice(0);
}

export async function close() {
  await stop();
}
