/**
 * `ipvsctl apply FILE [--dry-run] [--json]`: one shot, no checks, no VRRP: the kernel table is made
 * to match the config's virtual servers with every real server at its configured weight, using the
 * fewest operations (diff against a fresh dump), sent in batches.
 */
import { desiredServices } from '../config/desired.js';
import { diff } from '../director/diff.js';
import { timeoutOperation } from '../director/timeouts.js';
import type { IpvsBackend } from '../ipvs/backend.js';
import type { IpvsOperation } from '../model/ipvs.js';
import { operationJson, operationText } from './format-operations.js';
import { readConfigFile } from './load.js';
import { type CliOutput, EXIT_FAILED, EXIT_OK } from './output.js';

export interface ApplyOptions {
  readonly dryRun: boolean;
  readonly json: boolean;
}

/**
 * The backend is opened and the kernel's table read while the config file is read; a bad config
 * is still reported first, whatever the kernel said (no IPVS, no permission).
 */
export async function applyCommand(
  file: string,
  options: ApplyOptions,
  openBackend: () => Promise<IpvsBackend>,
  io: CliOutput,
): Promise<number> {
  const opening = openBackend();
  const table = opening.then((b) => b.dump());
  table.catch(() => {}); // awaited after the config, whose errors come first
  try {
    const config = await readConfigFile(file, io);
    if (typeof config === 'number') return config;
    const backend = await opening;
    const actual = await table;
    const desired = desiredServices(config);
    const operations: IpvsOperation[] = diff(desired, actual, {
      unmanaged: config.director.ipvs.unmanaged,
    });
    const timeouts = await timeoutOperation(() => backend.timeouts(), config.director.ipvs.timeouts);
    if (timeouts) operations.push(timeouts);
    const results = options.dryRun ? [] : await backend.apply(operations);
    const failed = results.filter((r) => r.error !== null);
    if (options.json) {
      io.out(
        `${JSON.stringify({
          operations: operations.map(operationJson),
          ...(options.dryRun ? { dryRun: true } : {}),
          ...(failed.length
            ? { errors: failed.map((r) => ({ ...operationJson(r.operation), error: r.error?.message })) }
            : {}),
        })}\n`,
      );
    } else {
      // One write: an 11,000-line plan written line by line costs seconds.
      io.out(operations.map((op) => `${options.dryRun ? 'would ' : ''}${operationText(op)}\n`).join(''));
      if (operations.length === 0) io.out('no changes: the kernel table already matches\n');
      else if (!options.dryRun)
        io.out(`${operations.length - failed.length} of ${operations.length} operations applied\n`);
    }
    for (const r of failed) io.err(`ipvsctl: ${r.error?.message}\n`);
    return failed.length ? EXIT_FAILED : EXIT_OK;
  } finally {
    // Closed once opened, also when the config was refused before anyone awaited it.
    opening.then(
      (b) => b.close(),
      () => {},
    );
  }
}
