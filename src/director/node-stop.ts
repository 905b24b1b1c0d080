/**
 * The order of a director's stop (DESIGN §6), apart from the daemon's wiring so a test can watch
 * it: with `on_stop: remove`, forwarding goes off on the server-side interfaces first (a real
 * server's reply is then dropped and retransmitted to the new master, never forwarded un-NATed);
 * then VRRP stops (priority 0, VIPs removed, sync daemon to backup after them); then the
 * services go; then the sync daemon. With `keep`, forwarding, services and the backup sync daemon
 * all stay, so a restart drops nothing.
 */
import type { Logger } from '../sys/logger.js';
import type { VrrpFollower } from './vrrp-follower.js';

export interface NodeStopParts {
  readonly follower: Pick<VrrpFollower, 'prepareStop' | 'finishStop'>;
  readonly speaker: { stop(): Promise<void> } | null;
  /** Control socket, metrics endpoint: closed once the VIPs are gone. */
  readonly closeEndpoints: () => Promise<void>;
  readonly director: { stop(options: { removeServices: boolean }): Promise<void> };
  readonly logger: Logger;
}

export async function stopNode(parts: NodeStopParts, removeServices: boolean): Promise<void> {
  await parts.follower.prepareStop(removeServices);
  await parts.speaker
    ?.stop()
    .catch((err: unknown) => parts.logger.error({ err: (err as Error).message }, 'vrrp stop failed'));
  await parts.closeEndpoints().catch(() => undefined);
  await parts.director.stop({ removeServices });
  await parts.follower.finishStop(removeServices);
}
