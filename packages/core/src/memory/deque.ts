/** A growable ring buffer: O(1) push and pop at both ends. */
export class Deque<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(initialCapacity = 16) {
    this.items = new Array(initialCapacity);
  }

  get length(): number {
    return this.count;
  }

  pushBack(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) % this.items.length] = item;
    this.count++;
  }

  pushFront(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.head = (this.head - 1 + this.items.length) % this.items.length;
    this.items[this.head] = item;
    this.count++;
  }

  popFront(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    return item;
  }

  popBack(): T | undefined {
    if (this.count === 0) return undefined;
    const index = (this.head + this.count - 1) % this.items.length;
    const item = this.items[index];
    this.items[index] = undefined;
    this.count--;
    return item;
  }

  /** The item at position `index` from the front (0 ≤ index < length). */
  at(index: number): T {
    return this.items[(this.head + index) % this.items.length] as T;
  }

  /** Replace the item at position `index` from the front (0 ≤ index < length). */
  set(index: number, item: T): void {
    this.items[(this.head + index) % this.items.length] = item;
  }

  /** Remove the first item matching `predicate`; O(n), for rare removals (a cancelled waiter). */
  remove(predicate: (item: T) => boolean): boolean {
    for (let i = 0; i < this.count; i++) {
      const index = (this.head + i) % this.items.length;
      if (predicate(this.items[index] as T)) {
        for (let j = i; j < this.count - 1; j++) {
          this.items[(this.head + j) % this.items.length] =
            this.items[(this.head + j + 1) % this.items.length];
        }
        this.items[(this.head + this.count - 1) % this.items.length] = undefined;
        this.count--;
        return true;
      }
    }
    return false;
  }

  clear(): void {
    this.items = new Array(16);
    this.head = 0;
    this.count = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.count; i++) yield this.items[(this.head + i) % this.items.length] as T;
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.items.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) % this.items.length];
    this.items = next;
    this.head = 0;
  }
}
