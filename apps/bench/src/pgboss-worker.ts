import PgBoss from 'pg-boss';

/**
 * Bench worker on pg-boss, configured as its docs advise for throughput: `work()` fetching `batchSize` jobs per
 * poll at the shortest polling interval it allows (0.5 s), each batch's results sent with one `insert()`; `workers`
 * such loops. Args: url schema tasksQueue resultsQueue batchSize workers.
 */
const [url, schema, tasksName, resultsName, batchSize, workers] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
];

const boss = new PgBoss({ connectionString: url, schema, supervise: false, schedule: false, migrate: false });
boss.on('error', (error) => console.error(error));
await boss.start();
// Concurrency in pg-boss 10 is one `work()` call per worker loop.
for (let i = 0; i < Number(workers); i++) {
  await boss.work<{ n: number }>(
    tasksName,
    { batchSize: Number(batchSize), pollingIntervalSeconds: 0.5 },
    async (jobs) => {
      await boss.insert(
        jobs.map((job) => ({ name: resultsName, data: { n: job.data.n, r: job.data.n * 2 } })),
      );
    },
  );
}
process.on('message', async (message) => {
  if (message !== 'stop') return;
  await boss.stop({ graceful: false, wait: true });
  process.exit(0);
});
process.send?.('ready');
