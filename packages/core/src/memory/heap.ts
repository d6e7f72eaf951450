/** A binary min-heap ordered by `less`: O(log n) push and pop. */
export class Heap<T> {
  private readonly items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get length(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && this.less(items[left]!, items[smallest]!)) smallest = left;
        if (right < items.length && this.less(items[right]!, items[smallest]!)) smallest = right;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest]!, items[i]!];
        i = smallest;
      }
    }
    return top;
  }

  /**
   * The `count` smallest items in order, left in place: a walk down the heap that keeps its frontier in a small heap
   * of its own, O(count log count) whatever the heap's size.
   */
  smallest(count: number): T[] {
    const items = this.items;
    const found: T[] = [];
    if (items.length === 0) return found;
    const frontier = new Heap<number>((a, b) => this.less(items[a]!, items[b]!));
    frontier.push(0);
    while (found.length < count && frontier.length > 0) {
      const index = frontier.pop()!;
      found.push(items[index]!);
      const left = 2 * index + 1;
      if (left < items.length) frontier.push(left);
      if (left + 1 < items.length) frontier.push(left + 1);
    }
    return found;
  }

  clear(): void {
    this.items.length = 0;
  }
}
