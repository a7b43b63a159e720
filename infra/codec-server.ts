/**
 * A codec server on loopback, so the Temporal Web UI (`--ui-codec-endpoint`) and CLI (`--codec-endpoint`)
 * show decrypted history to those who hold the bearer token, and to no one else. It speaks Temporal's
 * remote codec protocol: POST /encode and /decode with `{ "payloads": [{ "metadata": {k: base64}, "data":
 * base64 }] }`.
 *
 * `npm run codec-server` starts one on CODEC_SERVER_PORT (8081) with CODEC_SERVER_TOKEN (or a fresh token,
 * printed once) and lets the Web UI at TEMPORAL_UI_ORIGIN (http://127.0.0.1:8233) call it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import { payloadCodecFromEnv } from './payload-codec';

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
  close(): Promise<void>;
}

/** The largest request body read (bytes): a page of history's payloads is far smaller. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function startCodecServer(options: {
  codec: PayloadCodec;
  token: string;
  port?: number;
  allowOrigin?: string;
  /** Bodies larger than this are refused with 413 (default {@link DEFAULT_MAX_BODY_BYTES}). */
  maxBodyBytes?: number;
}): Promise<CodecServer> {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const expected = Buffer.from(`Bearer ${options.token}`);
  const authorised = (req: IncomingMessage) => {
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const send = (res: ServerResponse, status: number, body?: unknown) => {
    res.writeHead(status, {
      'content-type': 'application/json',
      ...(options.allowOrigin
        ? {
            'access-control-allow-origin': options.allowOrigin,
            'access-control-allow-methods': 'POST, OPTIONS',
            'access-control-allow-headers': 'content-type, x-namespace, authorization',
            'access-control-allow-credentials': 'true',
          }
        : {}),
    });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  const server: Server = createServer((req, res) => {
    if (req.method === 'OPTIONS') return send(res, 204);
    if (req.method !== 'POST' || (req.url !== '/encode' && req.url !== '/decode'))
      return send(res, 404, { error: 'POST /encode or /decode' });
    if (!authorised(req))
      return send(res, 401, { error: 'a valid bearer token is required to read personal data' });
    if (Number(req.headers['content-length'] ?? 0) > maxBodyBytes) {
      res.setHeader('connection', 'close');
      send(res, 413, { error: `a codec request is at most ${maxBodyBytes} bytes` });
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    let refused = false;
    req.on('data', (c: Buffer) => {
      if (refused) return;
      received += c.length;
      if (received > maxBodyBytes) {
        refused = true;
        chunks.length = 0;
        res.setHeader('connection', 'close');
        send(res, 413, { error: `a codec request is at most ${maxBodyBytes} bytes` });
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (refused) return;
      let body: z.infer<typeof Body>;
      try {
        body = Body.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (error) {
        return send(res, 400, {
          error: `not a codec request: ${error instanceof Error ? error.message : String(error)}`,
        });
      }
      const payloads = body.payloads.map(toPayload);
      const work = req.url === '/encode' ? options.codec.encode(payloads) : options.codec.decode(payloads);
      work.then(
        (out) => send(res, 200, { payloads: out.map(fromPayload) }),
        (error: unknown) => send(res, 400, { error: error instanceof Error ? error.message : String(error) }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    token: options.token,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function main() {
  const token = process.env.CODEC_SERVER_TOKEN ?? randomBytes(24).toString('base64url');
  const server = await startCodecServer({
    codec: payloadCodecFromEnv(),
    token,
    port: Number(process.env.CODEC_SERVER_PORT ?? 8081),
    allowOrigin: process.env.TEMPORAL_UI_ORIGIN ?? 'http://127.0.0.1:8233',
  });
  process.stdout.write(
    `codec server on ${server.url} (loopback only)\n` +
      `Web UI: start the dev server with --ui-codec-endpoint ${server.url} and enter the token in its codec settings\n` +
      `CLI:    temporal workflow show --codec-endpoint ${server.url} --codec-auth 'Bearer ${process.env.CODEC_SERVER_TOKEN ? '<CODEC_SERVER_TOKEN>' : token}' ...\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
