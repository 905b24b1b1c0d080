/**
 * `ipvsd: vrrp`: the VRRP speaker and the sync-daemon follower, and nothing else, on this event
 * loop: no check engine, no config parsing (the parent sends the validated Config), no metrics
 * scrape, no control request. What the parent's status and metrics show is pushed from here (on
 * every change and once a second); the parent never asks and waits. The parent's orders (start,
 * reload, failover, the steps of a stop) are requests with replies. The sync daemon is the only
 * IPVS this process touches, through its own generic-netlink socket.
 */
import type { Config } from '../config/types.js';
import { createInterfaceForwarding } from '../director/forwarding.js';
import { followedState } from '../director/sync-daemon-plan.js';
import { createVrrpFollower, type VrrpFollower } from '../director/vrrp-follower.js';
import { IpvsdError } from '../errors.js';
import type { IpvsBackend } from '../ipvs/backend.js';
import { createKernelBackend } from '../ipvs/kernel-backend.js';
import { settleChildren } from '../sys/child-process.js';
import { componentLogger, type Logger } from '../sys/logger.js';
import { createVrrpSpeaker, type VrrpSpeaker } from '../vrrp/speaker.js';
import type { FromVrrp, ToVrrp, VrrpRequest } from './protocol.js';

/** How long a stop waits for running scripts (a STOP notify) before killing them (TimeoutStopSec=15s). */
const STOP_SCRIPT_GRACE_MS = 3000;

export interface VrrpChildDeps {
  readonly send: (message: FromVrrp) => void;
  readonly logger: Logger;
}

/** How often the snapshot goes to the parent when nothing changed. */
const SNAPSHOT_MS = 1000;

export function runVrrpChild(deps: VrrpChildDeps): void {
  const log = deps.logger;
  let config: Config | null = null;
  let speaker: VrrpSpeaker | null = null;
  let follower: VrrpFollower | null = null;
  let kernel: IpvsBackend | null = null;
  let timers: NodeJS.Timeout[] = [];
  let pushQueued = false;

  const push = (): void => {
    pushQueued = false;
    if (speaker === null) return;
    deps.send({
      t: 'snapshot',
      snapshot: { speaker: speaker.status(), syncDaemon: follower?.status() ?? null },
    });
  };
  const pushSoon = (): void => {
    if (pushQueued) return;
    pushQueued = true;
    setImmediate(push);
  };

  async function start(c: Config): Promise<void> {
    if (speaker !== null) throw new IpvsdError('IPVSD_ERR_USAGE', 'vrrp already started');
    config = c;
    const f = createVrrpFollower(c, {
      kernel: async () => {
        kernel ??= await createKernelBackend();
        return kernel;
      },
      setForwarding: createInterfaceForwarding(),
      currentState: (name) => followedState(speaker?.status() ?? null, name),
      logger: componentLogger(log, 'sync-daemon'),
    });
    follower = f;
    const s = createVrrpSpeaker(c, { logger: log, transitionHook: (change) => f.onTransition(change) });
    speaker = s;
    s.onStateChange((change) => {
      deps.send({ t: 'change', change, at: Date.now() });
      pushSoon();
    });
    // Nothing is master before the first election: the backup sync daemon runs first.
    await f.start();
    await s.start();
    timers = [
      setInterval(() => {
        if (config?.director.syncDaemon) void f.resync().then(pushSoon);
      }, c.director.ipvs.resyncIntervalMs),
      setInterval(push, SNAPSHOT_MS),
    ];
    push();
  }

  async function handle(req: VrrpRequest): Promise<Partial<Extract<FromVrrp, { t: 'reply' }>>> {
    if (req.op === 'start') {
      await start(req.config);
      return {};
    }
    if (speaker === null || follower === null) throw new IpvsdError('IPVSD_ERR_USAGE', 'vrrp not started');
    switch (req.op) {
      case 'reload':
        config = req.config;
        // The follower first, so transitions the speaker's reload causes are judged by the new `follow`.
        await follower.reload(req.config);
        await speaker.reload(req.config);
        return {};
      case 'failover': {
        speaker.failover(req.name);
        const after = speaker.status();
        const unit =
          after.sync_groups.find((g) => g.name === req.name) ??
          after.instances.find((i) => i.name === req.name);
        return { state: unit?.state ?? 'INIT' };
      }
      case 'prepare-stop':
        await follower.prepareStop(req.removeServices);
        return {};
      case 'stop-speaker':
        for (const t of timers) clearInterval(t);
        timers = [];
        await speaker.stop();
        // The STOP notify scripts get a moment to finish; then every script and what it left goes.
        await settleChildren(STOP_SCRIPT_GRACE_MS);
        return {};
      case 'finish-stop':
        await follower.finishStop(req.removeServices);
        kernel?.close();
        kernel = null;
        return {};
    }
  }

  process.on('message', (raw) => {
    const message = raw as ToVrrp;
    if (message?.t !== 'req' || typeof message.id !== 'number') return;
    void handle(message.req).then(
      (reply) => {
        deps.send({ t: 'reply', id: message.id, ok: true, ...reply });
        pushSoon();
      },
      (err: unknown) => {
        const e = err as Error & { code?: unknown };
        const code = typeof e.code === 'string' ? e.code : 'IPVSD_ERR_INTERNAL';
        deps.send({ t: 'reply', id: message.id, ok: false, error: { code, message: e.message } });
        // A speaker that could not start is no use: exit, and the parent decides (refuse to
        // start the daemon, or restart this process after its backoff).
        if (message.req.op === 'start') {
          log.error({ err: e.message }, 'vrrp could not start');
          setTimeout(() => process.exit(1), 50);
        }
      },
    );
  });
}
