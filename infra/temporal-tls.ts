/**
 * TLS between the project's clients and workers and a Temporal frontend, and the test certificates for it.
 *
 * Clients and workers read the one configuration (worker/config.ts): `TEMPORAL_TLS_CA` (PEM file of the CA
 * that signed the frontend's certificate), `TEMPORAL_TLS_CERT` and `TEMPORAL_TLS_KEY` (PEM files of this
 * client's certificate and key, for mTLS), `TEMPORAL_TLS_SERVER_NAME` (the name in the frontend's
 * certificate when it differs from the host dialled). None set: plain TCP (the dev server).
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSConfig } from '@temporalio/client';
import { ProvisioningError, run, which, withLock } from './support';

export interface TemporalTlsSettings {
  TEMPORAL_TLS_CA?: string | undefined;
  TEMPORAL_TLS_CERT?: string | undefined;
  TEMPORAL_TLS_KEY?: string | undefined;
  TEMPORAL_TLS_SERVER_NAME?: string | undefined;
}

function readPem(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(
      `${variable}=${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}); ` +
        `point it at a PEM file or unset it.`,
    );
  }
}

/**
 * The `tls` option of `Connection.connect` (client) and `NativeConnection.connect` (worker) for these
 * settings: undefined when none is set (plain TCP). Throws when only one of certificate and key is given,
 * or when a file cannot be read, naming the variable.
 */
export function temporalTls(settings: TemporalTlsSettings): TLSConfig | undefined {
  const { TEMPORAL_TLS_CA: ca, TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key } = settings;
  const serverName = settings.TEMPORAL_TLS_SERVER_NAME;
  if (!ca && !cert && !key && !serverName) return undefined;
  if (Boolean(cert) !== Boolean(key)) {
    throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both (mTLS) or neither.');
  }
  return {
    ...(serverName ? { serverNameOverride: serverName } : {}),
    ...(ca ? { serverRootCACertificate: readPem('TEMPORAL_TLS_CA', ca) } : {}),
    ...(cert && key
      ? {
          clientCertPair: {
            crt: readPem('TEMPORAL_TLS_CERT', cert),
            key: readPem('TEMPORAL_TLS_KEY', key),
          },
        }
      : {}),
  };
}

/** PEM files of a test CA, the frontend's certificate and two client certificates, all signed by the CA. */
export interface TestCertificates {
  dir: string;
  ca: string;
  /** The name in the frontend's certificate (also valid for 127.0.0.1 and localhost). */
  serverName: string;
  server: { cert: string; key: string };
  /** The project's workers and clients. */
  client: { cert: string; key: string };
  /** The Temporal server's own worker service. */
  systemWorker: { cert: string; key: string };
}

export const TEST_FRONTEND_NAME = 'temporal-frontend.medins.test';

/**
 * Makes (once; later calls reuse the files) a throwaway CA in `dir` and the certificates signed by it:
 * EC P-256 keys, 30 days, with the extensions Go's TLS and rustls (the worker's connection) insist on
 * (a CA with basicConstraints and keyCertSign; leaves with subjectAltName and extendedKeyUsage). Uses the
 * `openssl` command; throws a ProvisioningError when it is missing or fails. For tests only: a bureau
 * issues real certificates from its own CA (docs/deployment.md).
 */
export async function ensureTestCertificates(dir: string): Promise<TestCertificates> {
  const files: TestCertificates = {
    dir,
    ca: join(dir, 'ca.pem'),
    serverName: TEST_FRONTEND_NAME,
    server: { cert: join(dir, 'frontend.pem'), key: join(dir, 'frontend.key') },
    client: { cert: join(dir, 'client.pem'), key: join(dir, 'client.key') },
    systemWorker: { cert: join(dir, 'system-worker.pem'), key: join(dir, 'system-worker.key') },
  };
  const all = [files.ca, files.server.cert, files.server.key, files.client.cert, files.client.key];
  if ([...all, files.systemWorker.cert, files.systemWorker.key].every((f) => existsSync(f))) return files;
  const openssl = which('openssl');
  if (!openssl) {
    throw new ProvisioningError(
      'The cluster needs test certificates and `openssl` is not on PATH to make them. Install OpenSSL ' +
        '(Debian: `apt-get install openssl`).',
    );
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return withLock(join(dir, '.lock'), async () => {
    const ossl = async (args: string[]) => {
      const result = await run(openssl, args, { cwd: dir, timeoutMs: 60_000 });
      if (result.code !== 0) {
        throw new ProvisioningError(`openssl ${args[0]} failed in ${dir}: ${result.stderr.trim()}`);
      }
    };
    const ecKey = (out: string) =>
      ossl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out]);
    const caKey = join(dir, 'ca.key');
    await ecKey(caKey);
    await ossl([
      'req', '-x509', '-new', '-key', caKey, '-out', files.ca, '-days', '30', '-subj',
      '/O=resident-medins/CN=resident-medins test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]); // prettier-ignore
    const leaf = async (name: string, pair: { cert: string; key: string }, extensions: string[]) => {
      await ecKey(pair.key);
      const csr = `${pair.cert}.csr`;
      const ext = `${pair.cert}.ext`;
      await ossl(['req', '-new', '-key', pair.key, '-out', csr, '-subj', `/O=resident-medins/CN=${name}`]);
      writeFileSync(
        ext,
        ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', ...extensions, ''].join(
          '\n',
        ),
      );
      await ossl([
        'x509', '-req', '-in', csr, '-CA', files.ca, '-CAkey', caKey, '-CAcreateserial', '-days', '30',
        '-extfile', ext, '-out', pair.cert,
      ]); // prettier-ignore
    };
    await leaf(TEST_FRONTEND_NAME, files.server, [
      `subjectAltName=DNS:${TEST_FRONTEND_NAME},DNS:localhost,IP:127.0.0.1`,
      // the frontend's certificate also serves the server's internal calls to itself
      'extendedKeyUsage=serverAuth,clientAuth',
    ]);
    await leaf('medins-worker', files.client, [
      'subjectAltName=DNS:medins-worker.medins.test',
      'extendedKeyUsage=clientAuth',
    ]);
    await leaf('temporal-system-worker', files.systemWorker, [
      'subjectAltName=DNS:temporal-system-worker.medins.test',
      'extendedKeyUsage=clientAuth',
    ]);
    return files;
  });
}
