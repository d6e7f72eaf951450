#!/usr/bin/env node
// `pnpm bench <name> [args…]` runs apps/bench/src/<name>.ts (built to dist/<name>.js).
const BENCHMARKS = [
  'memory',
  'tcp',
  'redis',
  'rabbitmq',
  'nats',
  'postgres',
  'demo',
  'cpu',
  'latency',
] as const;

const [name, ...args] = process.argv.slice(2);
if (!name || !(BENCHMARKS as readonly string[]).includes(name)) {
  console.error(`usage: pnpm bench <${BENCHMARKS.join('|')}> [options]`);
  process.exit(2);
}
const mod = (await import(`./${name}.js`)) as { main(args: string[]): Promise<void> };
await mod.main(args);
// Done: a client library's stray handle (a MONITOR or events connection) must not keep the bench alive.
process.exit(0);
