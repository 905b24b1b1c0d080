/**
 * The node flags `ipvsd` ships with: its first line is `#!/usr/bin/env -S node FLAGS`. The
 * check-scale benchmark runs ipvsd's checker process with the same flags, so what it measures is
 * what operators run (test/unit/bin/ipvsd-node-flags.test.ts checks node accepts them).
 */
export function shippedNodeFlags(source) {
  const first = source.split('\n', 1)[0] ?? '';
  const m = /^#!\/usr\/bin\/env -S node((?: --\S+)*)\s*$/.exec(first);
  if (m === null) return [];
  return m[1].split(' ').filter(Boolean);
}
