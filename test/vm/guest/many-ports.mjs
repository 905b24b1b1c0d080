// Many real servers on one host, for the process-isolation test (test/vm/process-isolation.test.ts):
//   node many-ports.mjs HOST FIRST_PORT COUNT
// Listens on COUNT consecutive TCP ports of HOST (TCP checks only connect; a connection that does
// get accepted is closed at once). Prints "listening COUNT" once every port is open; exits on SIGTERM.
import { createServer } from 'node:net';

const [host, firstArg, countArg] = process.argv.slice(2);
const first = Number(firstArg);
const count = Number(countArg);
if (!host || !(first > 0) || !(count > 0)) {
  process.stderr.write('usage: many-ports.mjs HOST FIRST_PORT COUNT\n');
  process.exit(2);
}
let open = 0;
for (let port = first; port < first + count; port++) {
  const server = createServer((socket) => socket.destroy());
  server.on('error', (err) => {
    process.stderr.write(`port ${port}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen({ host, port, backlog: 64 }, () => {
    open += 1;
    if (open === count) process.stdout.write(`listening ${count}\n`);
  });
}
process.on('SIGTERM', () => process.exit(0));
