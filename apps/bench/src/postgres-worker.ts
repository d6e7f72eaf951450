import { createPostgresTransport } from '@taskwire/transport-postgres';

/**
 * Bench worker on taskwire's PostgreSQL transport: `consumers` consumers (as the SKIP LOCKED loop runs two sessions),
 * each with `prefetch`, put each result, then ack the task. Args: url schema tasksQueue resultsQueue prefetch
 * consumers. Tells the parent `ready`; exits on `stop`.
 */
const [url, schema, tasksName, resultsName, prefetch, consumers] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
];

const connection = await createPostgresTransport().connect({ url, schema });
const tasks = await connection.queue<{ n: number }>(tasksName);
const results = await connection.queue<{ n: number; r: number }>(resultsName);
for (let i = 0; i < Number(consumers); i++) {
  await tasks.consume(
    async (delivery) => {
      await results.put({ n: delivery.body.n, r: delivery.body.n * 2 });
      await delivery.ack();
    },
    { prefetch: Number(prefetch) },
  );
}
process.on('message', async (message) => {
  if (message !== 'stop') return;
  await connection.close();
  process.exit(0);
});
process.send?.('ready');
