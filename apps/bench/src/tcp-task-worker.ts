// A bench worker on the task layer: a taskwire Worker squaring integers from `bench.tl`.
// Forked by tcp.ts with the server URL; the authkey comes from TASKWIRE_AUTHKEY.
import { Worker } from '@taskwire/core';
import { createTcpTransport } from '@taskwire/transport-tcp';

const [url, queue = 'bench.tl', prefetch] = process.argv.slice(2);
const connection = await createTcpTransport().connect({ url });
const worker = await Worker.start({
  connection,
  queue,
  handler: (n: number) => n * n,
  prefetch: prefetch ? Number(prefetch) : undefined,
  concurrency: process.env.CONC ? Number(process.env.CONC) : undefined,
});
process.send?.('ready');
process.on('message', async (message) => {
  if (message !== 'stop') return;
  await worker.stop();
  await connection.close();
  process.exit(0);
});
