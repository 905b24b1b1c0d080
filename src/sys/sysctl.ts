/**
 * Kernel settings through /proc/sys, the same files sysctl(8) writes: no binary to shell out to.
 * Writes are skipped when the value is already right, so a read-only /proc/sys (a container, or a
 * systemd sandbox) only matters when something really has to change.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IpvsdError } from '../errors.js';

export interface Sysctl {
  read(name: string): Promise<string>;
  /** Sets `name` (dotted, e.g. `net.ipv4.ip_forward`); resolves true when it changed it. */
  ensure(name: string, value: string): Promise<boolean>;
}

export function createSysctl(root = '/proc/sys'): Sysctl {
  const path = (name: string) => join(root, ...name.split('.'));
  const read = async (name: string) => (await readFile(path(name), 'utf8')).trim();
  return {
    read,
    async ensure(name, value) {
      try {
        if ((await read(name)) === value) return false;
        await writeFile(path(name), `${value}\n`);
        return true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        throw new IpvsdError(
          code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
            ? 'IPVSD_ERR_PERMISSION'
            : 'IPVSD_ERR_CONFIG_IO',
          `setting ${name}=${value} through ${path(name)}: ${code}${code === 'EROFS' ? ' (/proc/sys is read-only here)' : ''}`,
          { cause: err },
        );
      }
    },
  };
}
