import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

/**
 * The BullMQ worker of the latency bench, configured as BullMQ's docs advise (a connection with
 * `maxRetriesPerRequest: null`; finished jobs removed): squares `job.data`. Args: url prefix queue.
 */
const [url, prefix, queueName] = process.argv.slice(2) as [string, string, string];

const connection = new Redis(url, { maxRetriesPerRequest: null });
const worker = new Worker<number, number>(queueName, async (job) => job.data * job.data, {
  connection,
  prefix,
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 1000 },
});
await worker.waitUntilReady();
process.on('message', async (message) => {
  if (message !== 'stop') return;
  await worker.close();
  connection.disconnect();
  process.exit(0);
});
process.send?.('ready');
