import { Packr } from 'msgpackr';
import { connect } from 'nats';

/**
 * Bench worker written by hand on the same client (nats.js), doing what the taskwire worker does: a JetStream pull
 * consumer fetching in batches (`consume` with 100 messages buffered), each result published and its PubAck
 * awaited, then the task acked without waiting for the server's confirmation. Args: url tasksStream resultsSubject.
 */
const [url, tasksStream, resultsSubject] = process.argv.slice(2) as [string, string, string];
const packr = new Packr({ useRecords: false });

const nc = await connect({ servers: new URL(url).host });
const js = nc.jetstream();
const consumer = await js.consumers.get(tasksStream, 'bench');
const messages = await consumer.consume({ max_messages: 100 });
void (async () => {
  for await (const message of messages) {
    const task = packr.unpack(message.data) as { n: number };
    js.publish(resultsSubject, packr.pack({ n: task.n, r: task.n * 2 })).then(
      () => message.ack(),
      () => message.nak(),
    );
  }
})();
process.on('message', (message) => {
  if (message === 'stop') process.exit(0);
});
process.send?.('ready');
