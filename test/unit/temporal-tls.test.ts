import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ensureTestCertificates, temporalTls } from '../../infra/temporal-tls';

describe('TLS settings of workers and clients (TEMPORAL_TLS_*)', () => {
  it('none set: plain TCP, as on the dev server', () => {
    expect(temporalTls({})).toBeUndefined();
  });

  it('a certificate without its key is refused at start-up, naming both settings', () => {
    expect(() => temporalTls({ TEMPORAL_TLS_CERT: '/x/client.pem' })).toThrow(
      /TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together/,
    );
  });

  it('an unreadable file is named with its setting', () => {
    expect(() => temporalTls({ TEMPORAL_TLS_CA: '/nonexistent/ca.pem' })).toThrow(
      /TEMPORAL_TLS_CA=\/nonexistent\/ca.pem cannot be read \(ENOENT\)/,
    );
  });

  it('the test certificates: the frontend and the clients are signed by the CA, for the names and uses they serve', async () => {
    const certs = await ensureTestCertificates(join(mkdtempSync(join(tmpdir(), 'medins-tls-')), 'certs'));
    const ca = new X509Certificate(readFileSync(certs.ca));
    const frontend = new X509Certificate(readFileSync(certs.server.cert));
    const client = new X509Certificate(readFileSync(certs.client.cert));
    expect(ca.ca).toBe(true);
    expect(frontend.verify(ca.publicKey)).toBe(true);
    expect(client.verify(ca.publicKey)).toBe(true);
    expect(frontend.ca).toBe(false);
    expect(frontend.checkHost(certs.serverName)).toBe(certs.serverName);
    expect(frontend.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(frontend.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1']));
    expect(client.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    const tls = temporalTls({
      TEMPORAL_TLS_CA: certs.ca,
      TEMPORAL_TLS_CERT: certs.client.cert,
      TEMPORAL_TLS_KEY: certs.client.key,
      TEMPORAL_TLS_SERVER_NAME: certs.serverName,
    });
    expect(tls?.serverNameOverride).toBe(certs.serverName);
    expect(tls?.serverRootCACertificate?.toString()).toContain('BEGIN CERTIFICATE');
    expect(tls?.clientCertPair?.key.toString()).toContain('PRIVATE KEY');
  });
});
