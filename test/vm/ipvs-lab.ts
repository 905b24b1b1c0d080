/**
 * What the VM tests share: a director namespace that can route to the real servers' networks (the
 * kernel refuses unroutable NAT destinations), ipvsctl and ipvsadm run inside it, and a "twin"
 * namespace where ipvsadm builds the expected table so `ipvsadm -Sn` of both can be compared.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandResult, NetnsLab } from '../support/netns.js';
import { IPVSCTL } from '../support/paths.js';

/** A namespace with a dummy link holding 198.51.100.254/24 and 2001:db8:1::fe/64, so both route. */
export async function directorNamespace(
  lab: NetnsLab,
  tag: string,
  options: { routes?: boolean } = {},
): Promise<string> {
  const ns = await lab.namespace(tag);
  if (options.routes ?? true) {
    await lab.execOk(ns, 'ip', ['link', 'add', 'name', 'rs0', 'type', 'dummy']);
    await lab.addAddress(ns, 'rs0', '198.51.100.254/24');
    await lab.addAddress(ns, 'rs0', '2001:db8:1::fe/64');
    await lab.linkUp(ns, 'rs0');
  }
  return ns;
}

export function ipvsctl(lab: NetnsLab, ns: string, args: readonly string[]): Promise<CommandResult> {
  return lab.exec(ns, process.execPath, [IPVSCTL, ...args], { timeoutMs: 300_000 });
}

export async function ipvsctlJson<T>(lab: NetnsLab, ns: string, args: readonly string[]): Promise<T> {
  const r = await ipvsctl(lab, ns, [...args, '--json']);
  if (r.code !== 0) throw new Error(`ipvsctl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export const ipvsadmSave = (lab: NetnsLab, ns: string): Promise<string> => lab.execOk(ns, 'ipvsadm', ['-Sn']);

/** Builds a table with `ipvsadm -R` (the reference tool) from rules in ipvsadm -S syntax. */
export async function ipvsadmRestore(lab: NetnsLab, ns: string, rules: string): Promise<void> {
  await lab.execOk(ns, 'ipvsadm', ['-R'], { input: rules });
}

let configCounter = 0;
export async function writeConfig(yaml: string): Promise<string> {
  const path = join('/tmp', `ipvsd-vm-${process.pid}-${++configCounter}.yaml`);
  await writeFile(path, yaml);
  return path;
}

/** `ipvsadm -Sn` with each service's lines sorted: for tables built in a different order. */
export function normalizedSave(save: string): string {
  const blocks: string[][] = [];
  for (const line of save.trim().split('\n')) {
    if (line.startsWith('-A')) blocks.push([line]);
    else blocks[blocks.length - 1]?.push(line);
  }
  return blocks
    .map((b) => [b[0], ...b.slice(1).sort()].join('\n'))
    .sort()
    .join('\n');
}
