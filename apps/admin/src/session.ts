import { type CommonFlags, connect, loadTransport, settingsFrom, tlsClientOptions } from '@taskwire/cli-kit';
import type { Connection, TaskwireSettings, Transport } from '@taskwire/core';

/** An open connection with the settings it was opened with. */
export interface Session {
  connection: Connection;
  transport: Transport;
  settings: TaskwireSettings;
}

/**
 * Open the connection the shared flags describe (flags > environment > config file > defaults), exactly as
 * taskwire-master and taskwire-worker do, run `work` with it, and close it whatever happens.
 */
export async function withSession<T>(flags: CommonFlags, work: (session: Session) => Promise<T>): Promise<T> {
  const settings = await settingsFrom(flags);
  const transport = await loadTransport(settings, (specifier) => import(specifier));
  const connection = await connect(transport, settings, await tlsClientOptions(flags));
  try {
    return await work({ connection, transport, settings });
  } finally {
    await connection.close().catch(() => {});
  }
}
