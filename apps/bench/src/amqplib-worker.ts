import amqp from 'amqplib';
import { Packr } from 'msgpackr';

/**
 * Bench worker written by hand on amqplib, doing what the taskwire worker does: a consumer with
 * prefetch 100, results published on a confirm channel, the task acked once its result is
 * confirmed; TCP_NODELAY on. Args: url tasksQueue resultsQueue durable|transient.
 */
const [url, tasksName, resultsName, mode] = process.argv.slice(2) as [string, string, string, string];
const durable = mode === 'durable';
const packr = new Packr({ useRecords: false });

const connection = await amqp.connect(url, { noDelay: true });
const consumeChannel = await connection.createChannel();
const publishChannel = await connection.createConfirmChannel();
await consumeChannel.assertQueue(tasksName, { durable });
await consumeChannel.assertQueue(resultsName, { durable });
await consumeChannel.prefetch(100);
await consumeChannel.consume(tasksName, (message) => {
  if (!message) return;
  const task = packr.unpack(message.content) as { n: number };
  const result = packr.pack({ n: task.n, r: task.n * 2 });
  publishChannel.publish('', resultsName, result, { persistent: durable }, (error: Error | null) => {
    if (error) consumeChannel.nack(message, false, true);
    else consumeChannel.ack(message);
  });
});
process.on('message', (message) => {
  // Everything is acked by now; the broker tidies up after the socket closes.
  if (message === 'stop') process.exit(0);
});
process.send?.('ready');
