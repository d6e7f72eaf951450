// A bench worker: squares integers from `bench.tasks` and puts them on `bench.results`.
// Forked by tcp.ts with the server URL; the authkey comes from TASKWIRE_AUTHKEY.
import { createTcpTransport } from '@taskwire/transport-tcp';

const [url, prefetch = '1000'] = process.argv.slice(2);
const connection = await createTcpTransport().connect({ url });
const tasks = await connection.queue<number>('bench.tasks');
const results = await connection.queue<number>('bench.results');
// Ack only once the result is stored: a worker killed in between gets its task redelivered.
await tasks.consume((delivery) => results.put(delivery.body * delivery.body).then(() => delivery.ack()), {
  prefetch: Number(prefetch),
});
process.send?.('ready');
process.on('message', async (message) => {
  if (message !== 'stop') return;
  await connection.close();
  process.exit(0);
});
