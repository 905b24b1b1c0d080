// Scrapes a metrics endpoint back to back until stdin closes, for the process-isolation test:
//   node scrape-loop.mjs URL
// Prints one line per scrape ("scrape BYTES MS") and "done N" at the end.
import { get } from 'node:http';

const [url] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: scrape-loop.mjs URL\n');
  process.exit(2);
}
let running = true;
let scrapes = 0;
process.stdin.on('end', () => {
  running = false;
});
process.stdin.resume();

function once() {
  if (!running) {
    process.stdout.write(`done ${scrapes}\n`);
    process.exit(0);
  }
  const start = performance.now();
  get(url, (res) => {
    let bytes = 0;
    res.on('data', (chunk) => {
      bytes += chunk.length;
    });
    res.on('end', () => {
      scrapes += 1;
      process.stdout.write(`scrape ${bytes} ${Math.round(performance.now() - start)}\n`);
      setImmediate(once);
    });
  }).on('error', (err) => {
    process.stdout.write(`error ${err.message}\n`);
    setTimeout(once, 100);
  });
}
once();
