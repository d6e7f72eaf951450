import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

/**
 * Bench worker on BullMQ: a Worker at concurrency 100 returning each result (which BullMQ
 * stores and announces on its events stream). Args: url prefix queue concurrency.
 */
const [url, prefix, queueName, concurrency] = process.argv.slice(2) as [string, string, string, string];

const connection = new Redis(url, { maxRetriesPerRequest: null });
const worker = new Worker<{ n: number }, { n: number; r: number }>(
  queueName,
  async (job) => ({ n: job.data.n, r: job.data.n * 2 }),
  { connection, prefix, concurrency: Number(concurrency) },
);
await worker.waitUntilReady();
process.on('message', async (message) => {
  if (message !== 'stop') return;
  await worker.close();
  connection.disconnect();
  process.exit(0);
});
process.send?.('ready');
