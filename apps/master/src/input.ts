import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** One line of `--input` that did not parse. */
export interface InputError {
  line: number;
  message: string;
}

/**
 * Payloads from a file (or `-` for stdin), one JSON value per line. Blank lines are skipped; a
 * line that is not JSON is reported through `onError` with its line number and skipped, so the
 * rest of the job goes on. Reads lazily: a 10-million-line file streams.
 */
export async function* readPayloads(
  source: string,
  onError: (error: InputError) => void,
): AsyncGenerator<unknown> {
  const stream = source === '-' ? process.stdin : createReadStream(source, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === '') continue;
    try {
      yield JSON.parse(line);
    } catch (error) {
      onError({ line: number, message: (error as Error).message });
    }
  }
}

/** `count` random integers in 1..1000, like the seed's demo. */
export function* randomIntegers(count: number): Generator<number> {
  for (let i = 0; i < count; i++) yield 1 + Math.floor(Math.random() * 1000);
}
