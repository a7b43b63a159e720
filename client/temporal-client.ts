import { Client, Connection } from '@temporalio/client';
import { dataConverterFromEnv } from '../infra/payload-codec';
import type { Config } from '../worker/config';

export async function connectClient(
  config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'>,
): Promise<Client> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: 5000 });
  } catch (error) {
    throw new Error(
      `No Temporal server answers at ${config.TEMPORAL_ADDRESS} (${error instanceof Error ? error.message : String(error)}). ` +
        `Start one with \`npm run dev:server\`, or set TEMPORAL_ADDRESS.`,
    );
  }
  const dataConverter = dataConverterFromEnv();
  return new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    ...(dataConverter ? { dataConverter } : {}),
  });
}
