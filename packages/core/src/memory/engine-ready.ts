import type { QueueOrder } from '../types.js';
import { Deque } from './deque.js';
import { StoredItem } from './engine-item.js';
import { Heap } from './heap.js';

/**
 * A queue's items ready to be taken, in its order: a deque for fifo/lifo (O(1)), a heap for priority (O(log n),
 * larger first, FIFO among equals).
 */
export class ReadyItems<V> {
  // A fifo/lifo list holds a fresh item as its bare value: no per-item object until it is taken
  // (its id is assigned then, which is the first time anyone can see it).
  private readonly list: Deque<StoredItem<V> | V> | undefined;
  private readonly heap: Heap<StoredItem<V>> | undefined;

  /** @param newItem Wraps a value into a stored item with the next sequence number. */
  constructor(
    private readonly order: QueueOrder,
    private readonly newItem: (value: V, priority: number, id: string | undefined) => StoredItem<V>,
  ) {
    if (order === 'priority') {
      this.heap = new Heap((a, b) => a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq));
    } else {
      this.list = new Deque();
    }
  }

  get length(): number {
    return this.list ? this.list.length : this.heap!.length;
  }

  /** True for a priority queue: a put's priority matters. */
  get prioritised(): boolean {
    return this.heap !== undefined;
  }

  /** Add a fresh value to a fifo/lifo queue without wrapping it; false on a priority queue. */
  pushValue(value: V): boolean {
    if (!this.list) return false;
    this.list.pushBack(value);
    return true;
  }

  /** Add a stored item (a delayed item released, an item with a kept id). */
  push(item: StoredItem<V>): void {
    if (this.list) this.list.pushBack(item);
    else this.heap!.push(item);
  }

  /**
   * Add a returned item. It is served after the items already waiting among its priority (back of a
   * FIFO list, bottom of a LIFO stack, a new sequence number in a priority heap), so an item
   * that keeps crashing its consumers cannot hold back the rest of the queue.
   */
  requeue(item: StoredItem<V>): void {
    if (!this.list) this.heap!.push(this.resequenced(item));
    else if (this.order === 'fifo') this.list.pushBack(item);
    else this.list.pushFront(item);
  }

  /** The next item to serve, removed; undefined when none is ready. */
  pop(): StoredItem<V> | undefined {
    if (!this.list) return this.heap!.pop();
    const next = this.order === 'lifo' ? this.list.popBack() : this.list.popFront();
    if (next === undefined || next instanceof StoredItem) return next as StoredItem<V> | undefined;
    return this.newItem(next as V, 0, undefined);
  }

  /** The first `count` items in serving order, left in place (fresh values get their stored item, and id, now). */
  peek(count: number): StoredItem<V>[] {
    if (!this.list) return this.heap!.smallest(count);
    const list = this.list;
    const shown: StoredItem<V>[] = [];
    for (let i = 0; i < Math.min(count, list.length); i++) {
      const index = this.order === 'lifo' ? list.length - 1 - i : i;
      let entry = list.at(index);
      if (!(entry instanceof StoredItem)) {
        entry = this.newItem(entry as V, 0, undefined);
        list.set(index, entry);
      }
      shown.push(entry as StoredItem<V>);
    }
    return shown;
  }

  /**
   * Remove up to `max` items in serving order, only those `match` accepts (all when omitted); the others keep
   * their places.
   */
  take(max: number, match?: (item: StoredItem<V>) => boolean): StoredItem<V>[] {
    const taken: StoredItem<V>[] = [];
    const passed: StoredItem<V>[] = [];
    while (taken.length < max) {
      const item = this.pop();
      if (!item) break;
      (!match || match(item) ? taken : passed).push(item);
    }
    // Put the passed-over items back where they were, the last one popped first.
    for (let i = passed.length - 1; i >= 0; i--) this.unpop(passed[i]!);
    return taken;
  }

  clear(): void {
    this.list?.clear();
    this.heap?.clear();
  }

  /** Undo a `pop()`: the item is served next again. */
  private unpop(item: StoredItem<V>): void {
    if (!this.list) this.heap!.push(item);
    else if (this.order === 'lifo') this.list.pushBack(item);
    else this.list.pushFront(item);
  }

  /** The same item (id, value, attempts) ordered after everything stored so far. */
  private resequenced(item: StoredItem<V>): StoredItem<V> {
    const copy = this.newItem(item.value, item.priority, item.id);
    copy.attempt = item.attempt;
    return copy;
  }
}
