/** A fault's window, in milliseconds since the job started. */
export interface FaultWindow {
  label: string;
  start: number;
  end: number;
}

/** Width of a throughput bucket. */
export const BUCKET_MS = 250;

/** Results per second in each {@link BUCKET_MS} bucket from the job's start to its last result. */
export function bucketRates(times: readonly number[]): number[] {
  const last = times.reduce((max, time) => Math.max(max, time), 0);
  const counts = new Array<number>(Math.floor(last / BUCKET_MS) + 1).fill(0);
  for (const time of times) counts[Math.floor(time / BUCKET_MS)]! += 1;
  return counts.map((count) => count / (BUCKET_MS / 1000));
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * The rate the job ran at before any fault: the median of the buckets from its first result (the
 * seconds the processes take to start are not its rate; that first bucket, a ramp-up, left out) to
 * the first fault, or of every bucket outside the faults when too few precede it.
 */
export function baselineRate(rates: readonly number[], faults: readonly FaultWindow[]): number {
  const firstFault =
    faults.length > 0 ? Math.min(...faults.map((fault) => fault.start)) : Number.POSITIVE_INFINITY;
  const firstResult = rates.findIndex((rate) => rate > 0);
  if (firstResult < 0) return 0;
  const before = rates.filter((_, index) => index > firstResult && (index + 1) * BUCKET_MS <= firstFault);
  if (before.length >= 2) return median(before);
  const outside = rates.filter((rate, index) => {
    const [from, to] = [index * BUCKET_MS, (index + 1) * BUCKET_MS];
    return rate > 0 && !faults.some((fault) => from < fault.end && to > fault.start);
  });
  return median(outside);
}

/**
 * Time to recover from each fault: from the fault's end (link up, broker started, worker continued
 * or replaced) to the first bucket back at half the baseline rate or better; when none comes (the
 * job was nearly done), to the last result. The worst over the faults; undefined without faults.
 */
export function recoveryMs(
  times: readonly number[],
  faults: readonly FaultWindow[],
  total: number,
  received: number,
): number | undefined {
  if (faults.length === 0) return undefined;
  const rates = bucketRates(times);
  const baseline = baselineRate(rates, faults);
  const lastResult = times.reduce((max, time) => Math.max(max, time), 0);
  let worst = 0;
  for (const fault of faults) {
    const from = Math.floor(fault.end / BUCKET_MS);
    let back: number | undefined;
    for (let index = from; index < rates.length; index++) {
      if (rates[index]! >= baseline / 2) {
        back = Math.max(0, index * BUCKET_MS - fault.end);
        break;
      }
    }
    // Nothing came back while tasks were still missing: the job never recovered.
    if (back === undefined)
      back = received < total ? Number.POSITIVE_INFINITY : Math.max(0, lastResult - fault.end);
    worst = Math.max(worst, back);
  }
  return worst;
}
