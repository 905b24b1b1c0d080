/**
 * Where the repository and the built files are, for every tier, the demo and the benchmarks. Found by
 * walking up to package.json, so the answer is the same whether this runs as TypeScript from test/ or
 * compiled under dist/ (the demo and the takeover benchmark run it compiled inside the VM).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('test/support: cannot find the repository root (package.json)');
    dir = up;
  }
  return dir;
}

export const PROJECT_ROOT = findRoot();
export const DIST_DIR = resolve(PROJECT_ROOT, 'dist');
/** The compiled daemon and CLI: the files the package's `bin` entries run. */
export const IPVSD = resolve(DIST_DIR, 'src/bin/ipvsd.js');
export const IPVSCTL = resolve(DIST_DIR, 'src/bin/ipvsctl.js');
