interface Pending<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Collects the items added during one turn of the event loop and hands them to `flush` together,
 * in chunks of at most `maxItems` items or `maxBytes` bytes, so a burst of acks or puts costs one
 * round trip instead of one each.
 */
export class Batcher<T> {
  private pending: Pending<T>[] = [];
  private scheduled = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    private readonly options: { maxItems: number; maxBytes: number; bytes: (item: T) => number },
  ) {}

  /** Resolves once the batch holding `item` has been flushed. */
  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flushPending());
      }
    });
  }

  /** Resolves when everything added so far has been flushed (or failed). */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.inFlight.size > 0) {
      if (this.pending.length > 0) this.flushPending();
      await Promise.allSettled([...this.inFlight]);
    }
  }

  private flushPending(): void {
    this.scheduled = false;
    const all = this.pending;
    this.pending = [];
    let start = 0;
    while (start < all.length) {
      let end = start;
      let bytes = 0;
      while (end < all.length && end - start < this.options.maxItems) {
        bytes += this.options.bytes(all[end]!.item);
        end++;
        if (bytes >= this.options.maxBytes) break;
      }
      this.send(all.slice(start, end));
      start = end;
    }
  }

  private send(chunk: Pending<T>[]): void {
    const sent = this.flush(chunk.map((p) => p.item)).then(
      () => {
        for (const p of chunk) p.resolve();
      },
      (error: unknown) => {
        for (const p of chunk) p.reject(error);
      },
    );
    this.inFlight.add(sent);
    void sent.finally(() => this.inFlight.delete(sent));
  }
}
