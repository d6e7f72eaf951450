// The raw baseline: length-prefixed msgpack request/response over one loopback socket with a
// fixed number in flight, one `write` per frame, no batching. Reports round trips per second.
import { connect } from 'node:net';
import { Packr } from 'msgpackr';

const [port = 0, count = 200_000, window = 100] = process.argv.slice(2).map(Number);
const packr = new Packr({ useRecords: false });
const socket = connect({ host: '127.0.0.1', port });
socket.setNoDelay(true);
await new Promise((resolve) => socket.once('connect', resolve));

const send = (id: number) => {
  const body = packr.pack([id, id]);
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(body.length, 0);
  socket.write(Buffer.concat([header, body]));
};

let sent = 0;
let received = 0;
let buffered: Buffer = Buffer.alloc(0);
const started = performance.now();
const done = new Promise<void>((resolve) => {
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    let offset = 0;
    while (buffered.length - offset >= 4) {
      const length = buffered.readUInt32BE(offset);
      if (buffered.length - offset - 4 < length) break;
      const [id, square] = packr.unpack(buffered.subarray(offset + 4, offset + 4 + length)) as [
        number,
        number,
      ];
      if (square !== id * id) throw new Error('wrong answer');
      offset += 4 + length;
      received++;
      if (sent < count) send(sent++);
      else if (received === count) resolve();
    }
    buffered = buffered.subarray(offset);
  });
});
while (sent < Math.min(window, count)) send(sent++);
await done;
const ms = performance.now() - started;
socket.destroy();
process.send?.({ ms });
