/** `ipvsctl list [--json] [--stats]`: the kernel's IPVS table, read over netlink. */
import type { IpvsBackend } from '../ipvs/backend.js';
import { formatListText, listJson, sortTable } from './format-table.js';
import { type CliOutput, EXIT_OK } from './output.js';

export interface ListOptions {
  readonly json: boolean;
  readonly stats: boolean;
}

export async function listCommand(
  options: ListOptions,
  openBackend: () => Promise<IpvsBackend>,
  io: CliOutput,
): Promise<number> {
  const backend = await openBackend();
  try {
    const services = sortTable(await backend.dump());
    if (options.json) io.out(`${JSON.stringify(listJson(services, options.stats))}\n`);
    else io.out(formatListText(await backend.info(), services, options.stats));
    return EXIT_OK;
  } finally {
    backend.close();
  }
}
