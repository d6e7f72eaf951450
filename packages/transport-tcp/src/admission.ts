import type { Socket } from 'node:net';

/** How many connections a server lets in (see `ServeOptions`). */
export interface AdmissionLimits {
  /** Most authenticated connections. */
  readonly maxConnections: number;
  /** Most connections still in their handshake (TLS and authkey), from all addresses together. */
  readonly maxUnauthenticated: number;
  /** Most connections still in their handshake from one remote address. */
  readonly maxUnauthenticatedPerAddress: number;
}

/** A connection's place in the budget, from its TCP accept until it closes. */
interface Ticket {
  readonly socket: Socket;
  readonly address: string;
  authenticated: boolean;
}

/**
 * The connection budget of one server. Connections that have not authenticated have a budget of their own,
 * overall and per remote address, so strangers that connect and say nothing can never take the slots of
 * authenticated clients.
 *
 * When the unauthenticated budget (overall, or the newcomer's address) is full, the *oldest* handshake in it is
 * closed to make room, rather than the newcomer being refused: an honest client finishes its handshake within a
 * round trip, so sockets held open and silent can never lock it out; only an attacker opening new connections
 * faster than that round trip can, and the per-address share makes that need many addresses.
 */
export class Admission {
  /** Unauthenticated tickets, oldest first (a Set keeps insertion order). */
  private readonly pending = new Set<Ticket>();
  private readonly pendingByAddress = new Map<string, Set<Ticket>>();
  /** Every open connection's ticket, by the `address:port` of its remote end. */
  private readonly tickets = new Map<string, Ticket>();
  private authenticatedCount = 0;

  constructor(
    private readonly limits: AdmissionLimits,
    /** Told about every connection closed to make room or refused (for logs). */
    private readonly onRefused: (why: string, remote: string) => void,
  ) {}

  /** Connections that have authenticated and are still open. */
  get authenticated(): number {
    return this.authenticatedCount;
  }

  /** Connections still in their handshake. */
  get unauthenticated(): number {
    return this.pending.size;
  }

  /** A TCP connection was accepted: admit it, closing the oldest handshake when its budget is full. */
  admit(socket: Socket): void {
    const address = socket.remoteAddress ?? 'unknown';
    const remote = remoteOf(socket);
    if (this.authenticatedCount >= this.limits.maxConnections) {
      // Full for authenticated clients: this one could not be promoted anyway.
      this.onRefused(`all ${this.limits.maxConnections} connection slots are taken`, remote);
      socket.destroy();
      return;
    }
    const fromAddress = this.pendingByAddress.get(address);
    if (fromAddress && fromAddress.size >= this.limits.maxUnauthenticatedPerAddress) {
      this.evict(
        first(fromAddress),
        `more than ${this.limits.maxUnauthenticatedPerAddress} handshakes from ${address}`,
      );
    } else if (this.pending.size >= this.limits.maxUnauthenticated) {
      this.evict(first(this.pending), `more than ${this.limits.maxUnauthenticated} handshakes in progress`);
    }
    const ticket: Ticket = { socket, address, authenticated: false };
    this.tickets.set(remote, ticket);
    this.pending.add(ticket);
    let set = this.pendingByAddress.get(address);
    if (!set) {
      set = new Set();
      this.pendingByAddress.set(address, set);
    }
    set.add(ticket);
    socket.once('close', () => this.release(ticket, remote));
  }

  /**
   * The connection at `socket` (the TLS socket over an admitted one, or the admitted socket) proved the authkey:
   * move it to the authenticated budget. False when that is full or the connection is no longer admitted.
   */
  promote(socket: Socket): boolean {
    const ticket = this.tickets.get(remoteOf(socket));
    if (!ticket || ticket.authenticated) return false;
    if (this.authenticatedCount >= this.limits.maxConnections) return false;
    this.unpend(ticket);
    ticket.authenticated = true;
    this.authenticatedCount++;
    return true;
  }

  private evict(ticket: Ticket, why: string): void {
    this.onRefused(`closed an unauthenticated connection to make room: ${why}`, remoteOf(ticket.socket));
    this.unpend(ticket);
    ticket.socket.destroy();
  }

  private unpend(ticket: Ticket): void {
    this.pending.delete(ticket);
    const set = this.pendingByAddress.get(ticket.address);
    set?.delete(ticket);
    if (set?.size === 0) this.pendingByAddress.delete(ticket.address);
  }

  private release(ticket: Ticket, remote: string): void {
    if (this.tickets.get(remote) === ticket) this.tickets.delete(remote);
    if (ticket.authenticated) this.authenticatedCount--;
    else this.unpend(ticket);
  }
}

function remoteOf(socket: Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

function first<T>(set: Set<T>): T {
  return set.values().next().value as T;
}
