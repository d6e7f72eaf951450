import { createRedisTransport } from '@taskwire/transport-redis';

/**
 * Bench worker on taskwire: consume tasks with `prefetch`, put each result, then ack the task.
 * Args: url prefix tasksQueue resultsQueue prefetch. Tells the parent `ready`; exits on `stop`.
 */
const [url, prefix, tasksName, resultsName, prefetch] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];

const connection = await createRedisTransport().connect({ url, prefix });
const tasks = await connection.queue<{ n: number }>(tasksName);
const results = await connection.queue<{ n: number; r: number }>(resultsName);
await tasks.consume(
  async (delivery) => {
    await results.put({ n: delivery.body.n, r: delivery.body.n * 2 });
    await delivery.ack();
  },
  { prefetch: Number(prefetch) },
);
process.on('message', async (message) => {
  if (message !== 'stop') return;
  await connection.close();
  process.exit(0);
});
process.send?.('ready');
