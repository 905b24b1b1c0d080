/**
 * The entry point of `ipvsd`'s children (forked by ./fork.ts, never run by hand): names the
 * process after its role (`ipvsd: checks`, `ipvsd: vrrp` in ps, as keepalived's children name
 * themselves), says it is alive every HEARTBEAT_MS, exits when the parent goes away (the IPC
 * channel closes), and leaves SIGTERM, SIGINT and SIGHUP to the parent: a Ctrl-C in a terminal
 * reaches the whole process group, and the stop order (DESIGN §6) is the parent's to run.
 */
import { createLogger } from '../sys/logger.js';
import { HEARTBEAT_MS } from './protocol.js';

const role = process.argv[2];

async function main(): Promise<void> {
  if (role !== 'checks' && role !== 'vrrp') {
    process.stderr.write(`ipvsd child: unknown role ${String(role)}\n`);
    process.exit(2);
  }
  if (typeof process.send !== 'function') {
    process.stderr.write('ipvsd child: started without an IPC channel (only ipvsd starts it)\n');
    process.exit(2);
  }
  process.title = `ipvsd: ${role}`;
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => undefined);
  process.on('disconnect', () => process.exit(0));
  const log = createLogger().child({ process: role });
  const send = (message: object): void => {
    if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
  };
  setInterval(() => send({ t: 'hb' }), HEARTBEAT_MS);
  if (role === 'checks') (await import('./checks-child.js')).runChecksChild({ send, logger: log });
  else (await import('./vrrp-child.js')).runVrrpChild({ send, logger: log });
  send({ t: 'ready' });
}

void main();
