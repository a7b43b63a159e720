/**
 * The Web UI's way to decrypted history, request by request as the UI (Temporal UI 2.x, codec settings
 * "Use my browser setting" + "Include cross-origin credentials") makes them: a CORS preflight from the UI's
 * origin, then POST /decode with `Content-Type: application/json`, `X-Namespace` and the browser's cookies.
 * The UI cannot send the codec server's bearer token, so a browser signs in once at /login.
 */
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCodecServer, type CodecServer } from '../../infra/codec-server';
import { AesGcmPayloadCodec } from '../../infra/payload-codec';
import { makeIdNumber } from '../../domain/id-number';

const UI = 'http://127.0.0.1:8233';
const idNumber = makeIdNumber('440783', '1961-03-05', 21);
const codec = new AesGcmPayloadCodec(new Map([['k2024', randomBytes(32)]]), 'k2024');

/** The UI's decode call: fetch(endpoint + '/decode', { headers, credentials: 'include', method, body }). */
const uiDecode = (server: CodecServer, body: string, extra: Record<string, string> = {}) =>
  fetch(`${server.url}/decode`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', Origin: UI, ...extra },
    body,
  });

describe('reading decrypted history in the Web UI through the codec server', () => {
  let server: CodecServer;
  let body: string;
  beforeAll(async () => {
    server = await startCodecServer({ codec, token: 'the-token', allowOrigin: UI });
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload({ idNumber, name: '李四' })]);
    body = JSON.stringify({
      payloads: [
        {
          metadata: Object.fromEntries(
            Object.entries(sealed!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
          ),
          data: Buffer.from(sealed!.data!).toString('base64'),
        },
      ],
    });
  });
  afterAll(() => server?.close());

  it('answers the browser’s preflight from the UI’s origin so that a credentialed POST with X-Namespace may follow', async () => {
    const preflight = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: {
        Origin: UI,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-namespace',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI); // exact origin: credentials forbid '*'
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/\bPOST\b/);
    const allowed = (preflight.headers.get('access-control-allow-headers') ?? '')
      .toLowerCase()
      .split(/\s*,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['content-type', 'x-namespace']));
  });

  it('refuses the UI’s decode until the browser signs in, and a wrong token signs no one in', async () => {
    const refused = await uiDecode(server, body);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(UI); // the UI can read the refusal
    expect(await refused.text()).not.toContain(idNumber);

    const form = await fetch(`${server.url}/login`);
    expect(form.status).toBe(200);
    expect(await form.text()).toMatch(/<form method="post" action="\/login">.*name="token"/s);

    const wrong = await fetch(`${server.url}/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'token=not-the-token',
      redirect: 'manual',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
  });

  it('after a sign-in with the token, the UI’s decode with the browser’s cookie shows the person; the cookie works for the UI’s origin only', async () => {
    const login = await fetch(`${server.url}/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent('the-token')}`,
    });
    expect(login.status).toBe(200);
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(new RegExp(`^${server.cookieName}=[A-Za-z0-9_-]{43};`));
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    const cookie = setCookie.split(';')[0]!;

    const answer = await uiDecode(server, body, { Cookie: cookie });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('access-control-allow-origin')).toBe(UI);
    expect(answer.headers.get('access-control-allow-credentials')).toBe('true');
    const decoded = (await answer.json()) as {
      payloads: { metadata: Record<string, string>; data: string }[];
    };
    expect(Buffer.from(decoded.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(decoded.payloads[0]!.data, 'base64').toString('utf8'))).toEqual({
      idNumber,
      name: '李四',
    });

    // the same cookie sent by another site's page, or by a program without the UI's origin, reads nothing
    for (const origin of [{ Origin: 'http://evil.example' }, { Origin: '' }]) {
      const other = await uiDecode(server, body, { Cookie: cookie, ...origin });
      expect(other.status).toBe(401);
      expect(await other.text()).not.toContain(idNumber);
    }
    // a made-up session is nobody's
    expect((await uiDecode(server, body, { Cookie: `${server.cookieName}=${'A'.repeat(43)}` })).status).toBe(
      401,
    );
  });
});
