import { pack, unpack } from 'msgpackr';
import pg from 'pg';

/**
 * Bench worker on a hand-written SKIP LOCKED loop with `pg`, the best batched design we know for short tasks
 * (prepared statements, as taskwire's transport uses):
 * `loops` sessions, each taking up to `batch` tasks in a transaction (`DELETE … FOR UPDATE SKIP LOCKED … RETURNING`),
 * inserting their results in one multi-row INSERT with a NOTIFY, and committing (a crash rolls the take back);
 * an idle loop sleeps until a NOTIFY on the tasks table (or 100 ms). Args: url schema batch loops.
 */
const [url, schema, batch, loops] = process.argv.slice(2) as [string, string, string, string];

let stopping = false;
const wake = new Set<() => void>();
const listener = new pg.Client({ connectionString: url });
await listener.connect();
await listener.query(`LISTEN ${schema}_tasks`);
listener.on('notification', () => {
  for (const resolve of [...wake]) resolve();
});

async function loop(): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  while (!stopping) {
    await client.query('BEGIN');
    const { rows } = await client.query<{ payload: Buffer }>({
      name: 'take',
      text: `DELETE FROM ${schema}.tasks WHERE id IN (
         SELECT id FROM ${schema}.tasks ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING payload`,
      values: [Number(batch)],
    });
    if (rows.length === 0) {
      await client.query('COMMIT');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 100);
        function done() {
          clearTimeout(timer);
          wake.delete(done);
          resolve();
        }
        wake.add(done);
      });
      continue;
    }
    const results = rows.map((row) => {
      const task = unpack(row.payload) as { n: number };
      return pack({ n: task.n, r: task.n * 2 });
    });
    await client.query({
      name: 'put',
      text: `WITH i AS (INSERT INTO ${schema}.results (payload) SELECT unnest($1::bytea[]))
       SELECT pg_notify('${schema}_results', '')`,
      values: [results],
    });
    await client.query('COMMIT');
  }
  await client.end();
}

const running = Array.from({ length: Number(loops) }, () => loop());
process.on('message', async (message) => {
  if (message !== 'stop') return;
  stopping = true;
  for (const resolve of [...wake]) resolve();
  await Promise.all(running);
  await listener.end();
  process.exit(0);
});
process.send?.('ready');
