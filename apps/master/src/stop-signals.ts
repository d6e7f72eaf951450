/** Exit code of a process stopped by `signal` (128 + its number), as shells report it. */
export const exitCodeOf = (signal: NodeJS.Signals): number => (signal === 'SIGINT' ? 130 : 143);

/** What {@link catchStopSignals} hands back. */
export interface StopSignals {
  /** Resolves with the first SIGINT or SIGTERM. */
  readonly first: Promise<NodeJS.Signals>;
  /** The first signal, once one came. */
  readonly received: NodeJS.Signals | undefined;
  /** Stop listening. */
  dispose(): void;
}

/**
 * Catch SIGINT and SIGTERM: the first resolves {@link StopSignals.first} (the caller stops
 * gracefully); a second calls `onSecond` at once (the caller exits without waiting).
 */
export function catchStopSignals(onSecond: (signal: NodeJS.Signals) => void): StopSignals {
  let received: NodeJS.Signals | undefined;
  let resolveFirst!: (signal: NodeJS.Signals) => void;
  const first = new Promise<NodeJS.Signals>((resolve) => {
    resolveFirst = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) return onSecond(signal);
    received = signal;
    resolveFirst(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    first,
    get received() {
      return received;
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
