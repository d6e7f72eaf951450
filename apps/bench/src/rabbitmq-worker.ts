import { createRabbitMQTransport } from '@taskwire/transport-rabbitmq';

/**
 * Bench worker on taskwire: consume tasks with prefetch 100, put each result (confirmed), then
 * ack the task. Args: url tasksQueue resultsQueue durable|transient. Tells the parent `ready`.
 */
const [url, tasksName, resultsName, mode] = process.argv.slice(2) as [string, string, string, string];

const connection = await createRabbitMQTransport().connect({ url, durable: mode === 'durable' });
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
