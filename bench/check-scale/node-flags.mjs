/**
 * How `ipvsd` starts node: its first line is `#!/usr/bin/env -S [NAME=VALUE ...] node FLAGS`. The
 * check-scale benchmark and the VM NAT pair run ipvsd with the same environment and flags, so what
 * they measure is what operators run (test/unit/bin/ipvsd-node-flags.test.ts checks that the line
 * parses and that node accepts the flags).
 */
const SHEBANG = /^#!\/usr\/bin\/env -S((?: [A-Z_][A-Z0-9_]*=\S*)*) node((?: --\S+)*)\s*$/;

/** `{ env: { NAME: VALUE }, flags: [...] }`, or null when the first line is not of that form. */
export function shippedNodeLaunch(source) {
  const m = SHEBANG.exec(source.split('\n', 1)[0] ?? '');
  if (m === null) return null;
  const env = Object.fromEntries(
    m[1]
      .split(' ')
      .filter(Boolean)
      .map((assignment) => [
        assignment.slice(0, assignment.indexOf('=')),
        assignment.slice(assignment.indexOf('=') + 1),
      ]),
  );
  return { env, flags: m[2].split(' ').filter(Boolean) };
}

/** Just the node flags ([] when the first line is not of the expected form). */
export function shippedNodeFlags(source) {
  return shippedNodeLaunch(source)?.flags ?? [];
}
