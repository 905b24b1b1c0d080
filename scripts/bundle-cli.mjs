#!/usr/bin/env node
/**
 * Bundles the `ipvsctl` executable into one file: `npm run build` runs it after tsc, replacing
 * tsc's dist/src/bin/ipvsctl.js (the bin entry, and what every test runs) with the bundle.
 *
 * Why: a short `ipvsctl` command spends most of its time loading modules on a slow machine — node
 * resolves and reads ~120 files (our modules, yaml's 70, commander's), each with several stat and
 * read system calls, and on the VM's 9p file system that is seconds. One file is one read.
 * tsc still type-checks and compiles every module (tests and benchmarks import them from dist/src);
 * the bundle is made from that output, so it is the same code.
 *
 * Not bundled: the `netlink` package (a native addon found through node-gyp-build relative to its
 * own directory), and `ipvsd` (long-running: its startup is not worth a second artefact to keep
 * right, and pino's transports want their own files).
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const outfile = join(root, 'dist/src/bin/ipvsctl.js');

await build({
  // tsc's output (read fully before the same path is written).
  stdin: {
    contents: readFileSync(outfile, 'utf8'),
    resolveDir: dirname(outfile),
    sourcefile: 'dist/src/bin/ipvsctl.js',
    loader: 'js',
  },
  outfile,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['netlink', 'netlink/*'],
  // Whitespace and syntax only: names stay readable in the stack of an unexpected error.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  // yaml and commander are CommonJS: their require() of node built-ins needs a real require.
  banner: {
    js: "import { createRequire as __ipvsctlCreateRequire } from 'node:module'; const require = __ipvsctlCreateRequire(import.meta.url);",
  },
  plugins: [
    {
      // version.ts reads ../../package.json relative to its own file, which a bundle moves: the
      // bundle carries the version it was built from instead.
      name: 'version',
      setup(b) {
        b.onLoad({ filter: /[\\/]dist[\\/]src[\\/]version\.js$/ }, () => ({
          contents: `export const VERSION = ${JSON.stringify(version)};`,
          loader: 'js',
        }));
      },
    },
  ],
});
// tsc's source map described the file the bundle replaced.
rmSync(`${outfile}.map`, { force: true });
