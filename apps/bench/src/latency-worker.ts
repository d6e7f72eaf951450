// A latency bench worker on the task layer: a taskwire Worker squaring integers from `queue`.
// Args: transport (tcp|redis|rabbitmq) url queue. The TCP authkey comes from TASKWIRE_AUTHKEY.
import { type Connection, Worker } from '@taskwire/core';
import { createRabbitMQTransport } from '@taskwire/transport-rabbitmq';
import { createRedisTransport } from '@taskwire/transport-redis';
import { createTcpTransport } from '@taskwire/transport-tcp';

const [transport, url, queue] = process.argv.slice(2) as [string, string, string];

function connect(): Promise<Connection> {
  if (transport === 'tcp') return createTcpTransport().connect({ url });
  if (transport === 'redis') return createRedisTransport().connect({ url });
  return createRabbitMQTransport().connect({ url });
}

const connection = await connect();
const worker = await Worker.start({ connection, queue, handler: (n: number) => n * n });
process.send?.('ready');
process.on('message', async (message) => {
  if (message !== 'stop') return;
  await worker.stop();
  await connection.close();
  process.exit(0);
});
