/** One line of the master's `--output`: `{ input, ok, value | error, attempt, worker }`. */
interface OutputLine {
  input?: { i?: unknown };
  ok?: boolean;
  error?: { name?: string; message?: string };
}

/** What the caller (the master's `--output`) received, counted per task id. */
export class ResultLog {
  /** Lines received per task id. */
  private readonly seen = new Map<number, number>();
  /** Milliseconds since the job started, one per result line (for the throughput chart). */
  readonly times: number[] = [];
  ok = 0;
  failed = 0;
  /** Failures of tasks that were not poison: collateral damage, reported apart. */
  failedInnocent = 0;
  /** Lines that were not a result of this job (unparsable, or an id never submitted). */
  strange = 0;
  /** The first few failure messages, for the notes. */
  readonly failureSamples: string[] = [];
  private readonly waiters: { count: number; resolve: () => void }[] = [];

  constructor(
    private readonly started: number,
    private readonly isPoison: (id: number) => boolean,
    private readonly submitted: number,
  ) {}

  /** Task ids received at least once. */
  get distinct(): number {
    return this.seen.size;
  }

  /** Result lines received (a duplicate counts twice). */
  get lines(): number {
    return this.times.length;
  }

  /** Ids received more than once: the duplicates the caller saw. */
  get duplicated(): number {
    let count = 0;
    for (const times of this.seen.values()) if (times > 1) count++;
    return count;
  }

  /** Record one output line. */
  add(line: string): void {
    let result: OutputLine;
    try {
      result = JSON.parse(line) as OutputLine;
    } catch {
      this.strange++;
      return;
    }
    const id = result.input?.i;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= this.submitted) {
      this.strange++;
      return;
    }
    this.times.push(Date.now() - this.started);
    this.seen.set(id, (this.seen.get(id) ?? 0) + 1);
    if (result.ok) this.ok++;
    else {
      this.failed++;
      if (!this.isPoison(id)) this.failedInnocent++;
      if (this.failureSamples.length < 3) {
        this.failureSamples.push(`${result.error?.name ?? 'Error'}: ${result.error?.message ?? '?'}`);
      }
    }
    while (this.waiters.length > 0 && this.seen.size >= this.waiters[0]!.count)
      this.waiters.shift()!.resolve();
  }

  /** Resolves once `count` distinct ids arrived (never, if they do not: race it with the job's end). */
  whenDistinct(count: number): Promise<void> {
    if (this.seen.size >= count) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ count, resolve });
      this.waiters.sort((a, b) => a.count - b.count);
    });
  }
}
