import { Client, Connection } from '@temporalio/client';
import { dataConverterFromEnv } from '../infra/payload-codec';
import { temporalTls, type TemporalTlsSettings } from '../infra/temporal-tls';
import type { Config } from '../worker/config';

/**
 * A client of the Temporal frontend at TEMPORAL_ADDRESS, over TLS (mTLS with a client certificate) when
 * the TEMPORAL_TLS_* settings are given. Throws when no server answers within 5 s, saying what to start.
 */
export async function connectClient(
  config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'> & TemporalTlsSettings,
): Promise<Client> {
  let connection: Connection;
  const tls = temporalTls(config);
  try {
    connection = await Connection.connect({
      address: config.TEMPORAL_ADDRESS,
      connectTimeout: 5000,
      ...(tls ? { tls } : {}),
    });
  } catch (error) {
    throw new Error(
      `No Temporal server answers at ${config.TEMPORAL_ADDRESS}${tls ? ' over TLS' : ''} (${error instanceof Error ? error.message : String(error)}). ` +
        `Start one with \`npm run dev:server\`, or set TEMPORAL_ADDRESS (and TEMPORAL_TLS_* for a cluster with TLS).`,
    );
  }
  const dataConverter = dataConverterFromEnv();
  return new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    ...(dataConverter ? { dataConverter } : {}),
  });
}
