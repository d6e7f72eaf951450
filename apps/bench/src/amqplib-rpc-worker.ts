import amqp from 'amqplib';
import { Packr } from 'msgpackr';

/**
 * The raw amqplib RPC server of the latency bench: consume `queue`, publish each answer to the
 * request's `replyTo` (direct reply-to) with its correlation id, then ack. One channel,
 * TCP_NODELAY on. Args: url queue. Tells the parent `ready`; exits on `stop`.
 */
const [url, queue] = process.argv.slice(2) as [string, string];
const packr = new Packr({ useRecords: false });

const connection = await amqp.connect(url, { noDelay: true });
const channel = await connection.createChannel();
await channel.assertQueue(queue, { durable: false });
await channel.prefetch(100);
await channel.consume(queue, (message) => {
  if (!message) return;
  const n = packr.unpack(message.content) as number;
  const { replyTo, correlationId } = message.properties;
  channel.publish('', replyTo as string, packr.pack(n * n), { correlationId });
  channel.ack(message);
});
process.on('message', async (message) => {
  if (message !== 'stop') return;
  await connection.close();
  process.exit(0);
});
process.send?.('ready');
