import { backoffDelay } from '@taskwire/core/transport';
import pg from 'pg';

/** What the listener tells its connection. */
export interface ListenerEvents {
  /** A notification on channel `channel`. */
  notification(channel: string, payload: string): void;
  /** The session ended unasked (the backend killed, the server restarting, the network cut). */
  lost(): void;
  /** The session is back after a loss, listening again: notifications sent meanwhile were missed. */
  restored(): void;
  /** No session for `reconnectDeadlineMs`, or the login refused on reconnect. */
  failed(error: unknown): void;
}

/** Advisory locks of two int keys (classid, objid): one per running consumer, counted by `stats()`. */
export type ConsumerLock = readonly [number, number];

/**
 * The connection's own session for `LISTEN`: PostgreSQL delivers notifications only to a session that stays open,
 * so it is a dedicated client, not one of the pool's. It also holds a shared advisory lock per running consumer
 * (the lock ends with the session, so a crashed process's consumers stop counting at once). A lost session is
 * opened again with backoff, listening to the same channels and holding the same locks.
 */
export class Listener {
  private client: pg.Client | undefined;
  private readonly channels = new Set<string>();
  private readonly locks = new Map<string, ConsumerLock>();
  private closed = false;
  /** Serialises the commands sent on the session, and the reconnect. */
  private chain: Promise<unknown> = Promise.resolve();
  private lostAt = 0;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly events: ListenerEvents,
    private readonly reconnectDeadlineMs: number,
  ) {}

  /** Open the session (rejecting when the server is unreachable or refuses the login). */
  async open(): Promise<void> {
    this.client = await this.session();
  }

  /** Listen to `channel` from now on (once per channel). */
  listen(channel: string): Promise<void> {
    if (this.channels.has(channel)) return Promise.resolve();
    this.channels.add(channel);
    return this.send(`LISTEN "${channel}"`);
  }

  /** Stop listening to `channel`. */
  unlisten(channel: string): Promise<void> {
    if (!this.channels.delete(channel)) return Promise.resolve();
    return this.send(`UNLISTEN "${channel}"`);
  }

  /** Hold consumer lock `key` while the session lives. */
  lock(key: ConsumerLock): Promise<void> {
    this.locks.set(key.join(':'), key);
    return this.send('SELECT pg_advisory_lock_shared($1, $2)', [...key]);
  }

  /** Release consumer lock `key`. */
  unlock(key: ConsumerLock): Promise<void> {
    if (!this.locks.delete(key.join(':'))) return Promise.resolve();
    return this.send('SELECT pg_advisory_unlock_shared($1, $2)', [...key]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.chain.catch(() => undefined);
    await this.client?.end().catch(() => undefined);
  }

  /** The backend pid of the session (for tests that kill it). */
  get pid(): number | undefined {
    return (this.client as unknown as { processID?: number } | undefined)?.processID;
  }

  /** Send on the current session; a lost session replays everything once back, so a failure here is ignored. */
  private send(text: string, values?: unknown[]): Promise<void> {
    const next = this.chain.then(async () => {
      if (this.closed || !this.client) return;
      await this.client.query(text, values).catch(() => undefined);
    });
    this.chain = next;
    return next;
  }

  private async session(): Promise<pg.Client> {
    const client = new pg.Client(this.config);
    client.on('notification', (message) => this.events.notification(message.channel, message.payload ?? ''));
    client.on('error', () => this.onLost(client));
    client.on('end', () => this.onLost(client));
    try {
      await client.connect();
    } catch (error) {
      client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  private onLost(client: pg.Client): void {
    if (this.closed || client !== this.client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.lostAt = Date.now();
    this.events.lost();
    this.chain = this.chain.then(() => this.reconnect());
  }

  private async reconnect(): Promise<void> {
    for (let attempt = 1; !this.closed; attempt++) {
      await new Promise((resolve) =>
        setTimeout(resolve, backoffDelay(attempt, { baseMs: 100, maxMs: 2000 })),
      );
      if (this.closed) return;
      try {
        const client = await this.session();
        for (const channel of this.channels) await client.query(`LISTEN "${channel}"`);
        for (const key of this.locks.values())
          await client.query('SELECT pg_advisory_lock_shared($1, $2)', [...key]);
        if (this.closed) {
          await client.end();
          return;
        }
        this.client = client;
        this.events.restored();
        return;
      } catch (error) {
        const code = (error as { code?: string }).code;
        const refused = code === '28P01' || code === '28000';
        if (refused || Date.now() - this.lostAt >= this.reconnectDeadlineMs) {
          this.closed = true;
          this.events.failed(error);
          return;
        }
      }
    }
  }
}
