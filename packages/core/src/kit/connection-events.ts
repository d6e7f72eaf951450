import type { ConnectionErrorListener, ConnectionEvent } from '../types.js';

/**
 * The `error` and `reconnect` events of a `Connection`: a base class for a transport's connection. Call
 * {@link ConnectionEvents.reportFailure} once the connection has failed for good (a refused login on
 * reconnect, state it could not restore, a backend unreachable past its deadline); it reaches every listener
 * once, or, with nobody listening, is printed as a process warning, never dropped silently. Call
 * {@link ConnectionEvents.reportReconnect} each time a dropped connection to the backend is back.
 */
export class ConnectionEvents {
  #listeners = new Set<ConnectionErrorListener>();
  #reconnectListeners = new Set<() => void>();
  #failure: Error | undefined;

  /** Listen for the connection's terminal failure (`error`) or for each reconnect (`reconnect`). */
  on(event: ConnectionEvent, listener: ConnectionErrorListener): this {
    this.listenersOf(event).add(listener);
    return this;
  }

  /** Stop listening. */
  off(event: ConnectionEvent, listener: ConnectionErrorListener): this {
    this.listenersOf(event).delete(listener);
    return this;
  }

  private listenersOf(event: ConnectionEvent): Set<ConnectionErrorListener> {
    checkEvent(event);
    return event === 'error' ? this.#listeners : this.#reconnectListeners;
  }

  /** Report that a dropped connection to the backend came back (every `reconnect` listener hears it). */
  protected reportReconnect(): void {
    for (const listener of [...this.#reconnectListeners]) listener();
  }

  /** The failure reported by {@link reportFailure}, if any. */
  protected get terminalFailure(): Error | undefined {
    return this.#failure;
  }

  /**
   * Report that the connection failed for good, with the typed error later operations reject with. Only the
   * first report counts; returns false for the others.
   */
  protected reportFailure(error: Error): boolean {
    if (this.#failure) return false;
    this.#failure = error;
    if (this.#listeners.size === 0) {
      process.emitWarning(`taskwire connection failed: ${error.message}`, { code: codeOf(error) });
      return true;
    }
    for (const listener of [...this.#listeners]) listener(error);
    return true;
  }
}

function checkEvent(event: string): void {
  if (event !== 'error' && event !== 'reconnect') {
    throw new TypeError(`a connection has no "${event}" event (only "error" and "reconnect")`);
  }
}

function codeOf(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'TASKWIRE_CONNECTION_FAILED';
}
