#!/usr/bin/env node
// The dashboard's refresh cost on the backend: commands per second a Redis server runs because one dashboard page
// is open. On a private redis-server (nothing else talks to it), with a master and two idle workers on `tasks`:
// INFO commandstats deltas over --seconds without the dashboard, then with `taskwire dashboard` and one Chromium
// page open; the difference is the dashboard's. Needs a build (`pnpm build`), redis-server and /usr/bin/chromium.
//   node apps/admin/scripts/refresh-cost.mjs [--seconds 30] [--interval 2]
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Master, Worker } from '@taskwire/core';
import { startPrivateRedis } from '@taskwire/test-brokers';
import createRedisTransport from '@taskwire/transport-redis';
import { chromium } from 'playwright-core';

const flag = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const seconds = flag('--seconds', 30);
const interval = flag('--interval', 2);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const redis = await startPrivateRedis({ persistent: false });
// Stopped however the run ends: a failed launch (no Chromium) must not leave a redis-server behind.
process.once('exit', () => redis.stop());
const commandStats = () => {
  const info = execFileSync('redis-cli', ['-p', String(redis.port), 'INFO', 'commandstats'], {
    encoding: 'utf8',
  });
  const calls = new Map();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1], Number(match[2]));
  return calls;
};
/** Commands per second by name over `seconds`. */
const measure = async () => {
  const before = commandStats();
  await sleep(seconds * 1000);
  const after = commandStats();
  const rates = new Map();
  for (const [name, calls] of after) {
    const delta = calls - (before.get(name) ?? 0) - (name === 'info' ? 1 : 0);
    if (delta > 0) rates.set(name, delta / seconds);
  }
  return rates;
};

const transport = createRedisTransport();
const connections = await Promise.all([1, 2, 3].map(() => transport.connect({ url: redis.url })));
const master = await Master.start({ connection: connections[0], queue: 'tasks' });
const workers = await Promise.all(
  connections
    .slice(1)
    .map((connection, i) =>
      Worker.start({ connection, queue: 'tasks', name: `w${i + 1}`, handler: (n) => n }),
    ),
);
await Promise.all(Array.from({ length: 10 }, (_, i) => master.submit(i)));
await sleep(2000);
const baseline = await measure();

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const dashboard = spawn(
  process.execPath,
  [
    cli,
    'dashboard',
    '--transport',
    'redis',
    '--url',
    redis.url,
    '--port',
    '0',
    '--interval',
    String(interval),
    '--json',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
process.once('exit', () => dashboard.kill());
const { url } = JSON.parse(
  await new Promise((resolve) => dashboard.stdout.once('data', (chunk) => resolve(String(chunk)))),
);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
  ],
});
const page = await browser.newPage();
await page.goto(url);
await sleep(3000);
const withPage = await measure();

const names = [...new Set([...baseline.keys(), ...withPage.keys()])].sort();
console.log(`commands/s on Redis, ${seconds} s each, dashboard --interval ${interval}`);
console.log(
  `${'command'.padEnd(24)}${'without'.padStart(10)}${'with page'.padStart(12)}${'dashboard'.padStart(12)}`,
);
let total = 0;
for (const name of names) {
  const a = baseline.get(name) ?? 0;
  const b = withPage.get(name) ?? 0;
  total += b - a;
  console.log(
    `${name.padEnd(24)}${a.toFixed(2).padStart(10)}${b.toFixed(2).padStart(12)}${(b - a).toFixed(2).padStart(12)}`,
  );
}
console.log(`${'total'.padEnd(46)}${total.toFixed(2).padStart(12)}`);

await browser.close();
dashboard.kill('SIGINT');
await master.close();
for (const worker of workers) await worker.stop();
for (const connection of connections) await connection.close();
await redis.stop();
