// Run as a script: prints its network namespace. Loaded by node-agent.mjs: `crash` exits the agent.
import { readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function crash() {
  process.exit(3);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(readlinkSync('/proc/self/ns/net'));
}
