// The raw baseline: length-prefixed msgpack request/response over one loopback socket with a
// fixed number in flight (the same pipeline depth as taskwire's consume window). The best raw
// client we could write: every frame a tick produces goes out in one `write` of one buffer (the
// server answers the same way), so a syscall carries a batch, not a frame. Reports its ms.
import { connect } from 'node:net';
import { Packr } from 'msgpackr';

const [port = 0, count = 200_000, window = 1000] = process.argv.slice(2).map(Number);
const packr = new Packr({ useRecords: false });
const socket = connect({ host: '127.0.0.1', port });
socket.setNoDelay(true);
await new Promise((resolve) => socket.once('connect', resolve));

/** Frames `[id, id]` for ids first … first + n − 1, concatenated into one buffer. */
function frames(first: number, n: number): Buffer {
  const parts: Buffer[] = [];
  for (let id = first; id < first + n; id++) {
    const body = packr.pack([id, id]);
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(body.length, 0);
    parts.push(header, body);
  }
  return Buffer.concat(parts);
}

let sent = 0;
let received = 0;
let buffered: Buffer = Buffer.alloc(0);
const started = performance.now();
const done = new Promise<void>((resolve) => {
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    let offset = 0;
    let answered = 0;
    while (buffered.length - offset >= 4) {
      const length = buffered.readUInt32BE(offset);
      if (buffered.length - offset - 4 < length) break;
      const [id, square] = packr.unpack(buffered.subarray(offset + 4, offset + 4 + length)) as [
        number,
        number,
      ];
      if (square !== id * id) throw new Error('wrong answer');
      offset += 4 + length;
      answered++;
    }
    buffered = buffered.subarray(offset);
    received += answered;
    // Refill the window with one write for every answer this chunk carried.
    const more = Math.min(answered, count - sent);
    if (more > 0) {
      socket.write(frames(sent, more));
      sent += more;
    }
    if (received === count) resolve();
  });
});
const first = Math.min(window, count);
socket.write(frames(0, first));
sent = first;
await done;
const ms = performance.now() - started;
socket.destroy();
process.send?.({ ms });
