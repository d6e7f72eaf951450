import { createNatsTransport } from '@taskwire/transport-nats';

/**
 * Bench worker on taskwire: consume tasks with prefetch 100, put each result (stored), then ack the task.
 * Args: url prefix tasksQueue resultsQueue. Tells the parent `ready`.
 */
const [url, prefix, tasksName, resultsName] = process.argv.slice(2) as [string, string, string, string];

const connection = await createNatsTransport().connect({ url, prefix });
const tasks = await connection.queue<{ n: number }>(tasksName);
const results = await connection.queue<{ n: number; r: number }>(resultsName);
await tasks.consume(
  async (delivery) => {
    await results.put({ n: delivery.body.n, r: delivery.body.n * 2 });
    await delivery.ack();
  },
  { prefetch: 100 },
);
process.on('message', async (message) => {
  if (message !== 'stop') return;
  await connection.close();
  process.exit(0);
});
process.send?.('ready');
