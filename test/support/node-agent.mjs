// Runs inside a network namespace (`ip netns exec NS node node-agent.mjs DRIVER`) and serves calls
// from the test over stdin/stdout, one JSON object per line. DRIVER is a module whose exports are
// the callable functions; it imports our compiled code from dist/. Replies are prefixed so that
// anything else the code prints (logs) cannot be mistaken for one. Built-ins start with `$`.
import { readlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const PREFIX = '@@ipvsd-rpc ';
const driverPath = process.argv[2];
if (driverPath === undefined) {
  process.stderr.write('usage: node-agent.mjs DRIVER\n');
  process.exit(2);
}

const driver = await import(pathToFileURL(driverPath).href);
const builtins = {
  $netns: () => readlinkSync('/proc/self/ns/net'),
  $pid: () => process.pid,
};

function reply(message) {
  process.stdout.write(`${PREFIX}${JSON.stringify(message)}\n`);
}

function serializeError(err) {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  return {
    name: err.name,
    message: err.message,
    code: typeof err.code === 'string' ? err.code : undefined,
    errno: typeof err.errno === 'number' ? err.errno : undefined,
    errnoName: typeof err.errnoName === 'string' ? err.errnoName : undefined,
    stack: err.stack,
  };
}

async function handle(line) {
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    process.stderr.write(`node-agent: not JSON: ${line}\n`);
    return;
  }
  const { id, fn, args = [] } = request;
  const target = builtins[fn] ?? driver[fn];
  if (typeof target !== 'function') {
    reply({
      id,
      ok: false,
      error: { name: 'Error', message: `node-agent: the driver exports no function ${fn}` },
    });
    return;
  }
  try {
    const result = await target(...args);
    reply({ id, ok: true, result: result === undefined ? null : result });
  } catch (err) {
    reply({ id, ok: false, error: serializeError(err) });
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  void handle(line);
});
lines.on('close', async () => {
  try {
    if (typeof driver.close === 'function') await driver.close();
  } finally {
    process.exit(0);
  }
});
reply({ ready: true });
