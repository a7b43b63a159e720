/**
 * A codec server on loopback, so the Temporal Web UI and CLI (`--codec-endpoint`) show decrypted history
 * to those who hold its token, and to no one else. It speaks Temporal's remote codec protocol: POST
 * /encode and /decode with `{ "payloads": [{ "metadata": {k: base64}, "data": base64 }] }`.
 *
 * Two ways in, both needing the token:
 * - the CLI sends it as `Authorization: Bearer <token>` (`--codec-auth`);
 * - the Web UI cannot: its codec settings pass only an OAuth access token, and only to an https endpoint.
 *   So a browser signs in once at GET /login with the token and gets a session cookie (HttpOnly,
 *   SameSite=Strict, 12 h); the UI, with "Include cross-origin credentials" ticked, sends the cookie with
 *   its /decode calls. A cookie is honoured only on requests whose Origin is the Web UI's.
 *
 * `npm run codec-server` starts one on CODEC_SERVER_PORT (8081) with CODEC_SERVER_TOKEN (or a fresh token,
 * printed once) and lets the Web UI at TEMPORAL_UI_ORIGIN (http://127.0.0.1:8233) call it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import { payloadCodecFromEnv } from './payload-codec';
import { runIfMain } from './support';
import { settings } from '../config/settings';

const Body = z.object({
  payloads: z.array(
    z.object({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() }),
  ),
});

const toPayload = (p: z.infer<typeof Body>['payloads'][number]): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
  ),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const fromPayload = (p: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

export interface CodecServer {
  url: string;
  token: string;
  /** The session cookie's name (one per codec server port: cookies do not tell ports apart). */
  cookieName: string;
  close(): Promise<void>;
}

/** The largest request body read (bytes): a page of history's payloads is far smaller. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** How long a browser's sign-in lasts. */
export const SESSION_MS = 12 * 3600_000;

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
  `<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">${body}</body></html>`;

function cookies(req: IncomingMessage): Record<string, string> {
  return Object.fromEntries(
    (req.headers.cookie ?? '')
      .split(';')
      .map((c) => c.trim().split('='))
      .filter((kv) => kv.length === 2)
      .map(([k, v]) => [k!, v!]),
  );
}

export async function startCodecServer(options: {
  codec: PayloadCodec;
  token: string;
  port?: number;
  allowOrigin?: string;
  /** Bodies larger than this are refused with 413 (default {@link DEFAULT_MAX_BODY_BYTES}). */
  maxBodyBytes?: number;
}): Promise<CodecServer> {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const sameSecret = (given: string, secret: string) => {
    const a = Buffer.from(given);
    const b = Buffer.from(secret);
    return a.length === b.length && timingSafeEqual(a, b);
  };
  const sessions = new Map<string, number>(); // session id -> expiry (ms since epoch)
  let cookieName = 'medins_codec';
  const bearer = (req: IncomingMessage) =>
    sameSecret(req.headers.authorization ?? '', `Bearer ${options.token}`);
  const signedIn = (req: IncomingMessage) => {
    if (!options.allowOrigin || req.headers.origin !== options.allowOrigin) return false;
    const id = cookies(req)[cookieName];
    const expires = id === undefined ? undefined : sessions.get(id);
    if (expires === undefined) return false;
    if (expires < Date.now()) {
      sessions.delete(id!);
      return false;
    }
    return true;
  };
  const cors = options.allowOrigin
    ? {
        'access-control-allow-origin': options.allowOrigin,
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': 'content-type, x-namespace, authorization',
        'access-control-allow-credentials': 'true',
        'access-control-max-age': '600',
      }
    : {};
  const send = (res: ServerResponse, status: number, body?: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', ...cors });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  const html = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
      ...headers,
    });
    res.end(body);
  };
  const readBody = (req: IncomingMessage, limit: number) =>
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > limit) return reject(new Error(`a request body of ${declared} bytes`));
      let over = false;
      req.on('data', (c: Buffer) => {
        if (over) return;
        size += c.length;
        if (size > limit) {
          // refused: nothing more is kept; the connection closes once the refusal is sent
          over = true;
          chunks.length = 0;
          reject(new Error(`a request body over ${limit} bytes`));
        } else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  const loginForm = (message = '') =>
    page(
      'Codec server: sign in',
      `<h1>Codec server</h1>${message}<p>Enter the codec server's token to let this browser's Temporal Web UI ` +
        `(${options.allowOrigin ?? 'no Web UI origin configured'}) show decrypted history for 12 hours.</p>` +
        `<form method="post" action="/login"><input type="password" name="token" autocomplete="off" size="40" autofocus> ` +
        `<button type="submit">Sign in</button></form>`,
    );

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'OPTIONS') return send(res, 204);
    if (path === '/login' && req.method === 'GET') return html(res, 200, loginForm());
    if (path === '/login' && req.method === 'POST') {
      readBody(req, 4096).then(
        (text) => {
          const token = new URLSearchParams(text).get('token') ?? '';
          if (!sameSecret(token, options.token))
            return html(res, 401, loginForm('<p><strong>That is not the token.</strong></p>'));
          const id = randomBytes(32).toString('base64url');
          sessions.set(id, Date.now() + SESSION_MS);
          html(
            res,
            200,
            page(
              'Codec server: signed in',
              `<h1>Signed in</h1><p>This browser may now read decrypted history in the Temporal Web UI for 12 hours. ` +
                `In the Web UI, open <em>Configure Codec Server</em>, tick <em>Use my browser setting</em>, enter ` +
                `<code>http://${req.headers.host ?? '127.0.0.1'}</code> and tick <em>Include cross-origin credentials</em>.</p>`,
            ),
            {
              'set-cookie': `${cookieName}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}`,
            },
          );
        },
        () => html(res, 413, loginForm('<p><strong>That request was too large.</strong></p>')),
      );
      return;
    }
    if (req.method !== 'POST' || (path !== '/encode' && path !== '/decode'))
      return send(res, 404, { error: 'POST /encode or /decode; GET /login to sign a browser in' });
    if (!bearer(req) && !signedIn(req))
      return send(res, 401, {
        error: 'a valid bearer token, or a browser signed in at /login, is required to read personal data',
      });
    readBody(req, maxBodyBytes).then(
      (text) => {
        let body: z.infer<typeof Body>;
        try {
          body = Body.parse(JSON.parse(text));
        } catch (error) {
          return send(res, 400, {
            error: `not a codec request: ${error instanceof Error ? error.message : String(error)}`,
          });
        }
        const payloads = body.payloads.map(toPayload);
        const work = path === '/encode' ? options.codec.encode(payloads) : options.codec.decode(payloads);
        work.then(
          (out) => send(res, 200, { payloads: out.map(fromPayload) }),
          (error: unknown) =>
            send(res, 400, { error: error instanceof Error ? error.message : String(error) }),
        );
      },
      (error: unknown) => {
        res.setHeader('connection', 'close');
        res.on('finish', () => req.destroy());
        send(res, 413, { error: `a codec request is at most ${maxBodyBytes} bytes (${String(error)})` });
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  cookieName = `medins_codec_${port}`;
  return {
    url: `http://127.0.0.1:${port}`,
    token: options.token,
    cookieName,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function main() {
  const env = settings();
  const token = env.CODEC_SERVER_TOKEN ?? randomBytes(24).toString('base64url');
  const server = await startCodecServer({
    codec: payloadCodecFromEnv(),
    token,
    port: env.CODEC_SERVER_PORT,
    allowOrigin: env.TEMPORAL_UI_ORIGIN,
  });
  const ui = env.TEMPORAL_UI_ORIGIN;
  const shownToken = env.CODEC_SERVER_TOKEN ? '<CODEC_SERVER_TOKEN>' : token;
  process.stdout.write(
    `codec server on ${server.url} (loopback only)${env.CODEC_SERVER_TOKEN ? '' : `; token ${token}`}\n` +
      `Web UI (${ui}):\n` +
      `  1. open ${server.url}/login in the browser you use for the Web UI and enter the token (a 12-hour sign-in)\n` +
      `  2. start the dev server with TEMPORAL_UI_CODEC_ENDPOINT=${server.url} npm run dev:server\n` +
      `  3. in the Web UI, Configure Codec Server: tick "Use my browser setting", endpoint ${server.url},\n` +
      `     tick "Include cross-origin credentials" (use 127.0.0.1 in both addresses, not localhost)\n` +
      `CLI:    temporal workflow show --codec-endpoint ${server.url} --codec-auth 'Bearer ${shownToken}' ...\n`,
  );
}

runIfMain(import.meta.url, main);
