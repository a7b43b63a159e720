import { randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeIdNumber } from '../../domain/id-number';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING } from '../../infra/payload-codec';
import { createWorker } from '../../worker/create-worker';
import { StackCheckWorkflow } from '../../workflows/stack-check';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { devServerEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const idNumber = makeIdNumber('440783', '1958-03-02', 71);

describe('payload encryption (AES-256-GCM with key ids)', () => {
  const payload = defaultPayloadConverter.toPayload({ idNumber, bank: '6217000011112222333' });

  it('a payload encrypted with an old key still decrypts after the key is rotated', async () => {
    const before = new AesGcmPayloadCodec(new Map([['k1', k1]]), 'k1');
    const [sealed] = await before.encode([payload]);
    expect(new TextDecoder().decode(sealed!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(sealed!.data!).includes(Buffer.from(idNumber))).toBe(false);
    const after = new AesGcmPayloadCodec(
      new Map([
        ['k1', k1],
        ['k2', k2],
      ]),
      'k2',
    );
    const [opened] = await after.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({ idNumber, bank: '6217000011112222333' });
  });

  it('a payload under a key no one holds, or altered on the way, is refused', async () => {
    const [sealed] = await new AesGcmPayloadCodec(new Map([['k1', k1]]), 'k1').encode([payload]);
    await expect(new AesGcmPayloadCodec(new Map([['k2', k2]]), 'k2').decode([sealed!])).rejects.toThrow(
      /no codec key k1/,
    );
    const tampered = { ...sealed!, data: Buffer.from(sealed!.data!).map((b, i) => (i === 20 ? b ^ 1 : b)) };
    await expect(new AesGcmPayloadCodec(new Map([['k1', k1]]), 'k1').decode([tampered])).rejects.toThrow();
  });

  it('a ciphertext cut short, shorter than its IV and full 16-byte tag, or with a shortened tag, is refused', async () => {
    const codec = new AesGcmPayloadCodec(new Map([['k1', k1]]), 'k1');
    const [sealed] = await codec.encode([payload]);
    const data = Buffer.from(sealed!.data!);
    await expect(codec.decode([{ ...sealed!, data: data.subarray(0, 27) }])).rejects.toThrow(
      'encrypted payload of 27 bytes is shorter than its 12-byte IV and 16-byte tag',
    );
    // a 4-byte tag: GCM would check only 4 bytes if the length were not pinned at 16
    await expect(codec.decode([{ ...sealed!, data: data.subarray(0, data.length - 12) }])).rejects.toThrow();
  });
});

describe('on the real dev server, the stored history holds no national ID in plain text', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  beforeAll(async () => {
    [env, db] = await Promise.all([devServerEnvironment(), createTestDatabase()]);
  });
  afterAll(async () => {
    await env?.teardown();
    await db?.drop();
  });

  it('a workflow whose input names a person runs with the codec; without the keys its history shows only ciphertext', async () => {
    const codec = new AesGcmPayloadCodec(new Map([['k1', k1]]), 'k1');
    const dataConverter = { payloadCodecs: [codec] };
    const taskQueue = uniqueTaskQueue('codec');
    const worker = await createWorker({
      connection: env.nativeConnection,
      taskQueue,
      pool: db.pool,
      dataConverter,
      workflowBundle: await workflowBundle(),
    });
    const client = new Client({ connection: env.connection, dataConverter });
    const workflowId = `stack-check-codec-${Date.now()}`;
    const result = await worker.runUntil(
      client.workflow.execute(StackCheckWorkflow, {
        taskQueue,
        workflowId,
        args: [{ requestedBy: 'operator', note: `household head ${idNumber}` }],
      }),
    );
    expect(result.workflowId).toBe(workflowId);

    const raw = JSON.stringify(await env.client.workflow.getHandle(workflowId).fetchHistory());
    expect(raw).not.toContain(idNumber);
    expect(raw).not.toContain(Buffer.from(idNumber).toString('base64').slice(0, 16));
    const stored = await db.pool.query<{ note: string }>(
      `SELECT note FROM stack_checks WHERE workflow_id = $1`,
      [workflowId],
    );
    expect(stored.rows[0]!.note).toBe(`household head ${idNumber}`);
  });
});

describe('the codec server the Web UI and the CLI call', () => {
  it('decodes for a bearer of the token, and for no one else', async () => {
    const { startCodecServer } = await import('../../infra/codec-server');
    const codec = new AesGcmPayloadCodec(new Map([['k1', k1]]), 'k1');
    const server = await startCodecServer({
      codec,
      token: 'secret-token',
      allowOrigin: 'http://127.0.0.1:8233',
    });
    try {
      const [sealed] = await codec.encode([defaultPayloadConverter.toPayload({ idNumber })]);
      const body = JSON.stringify({
        payloads: [
          {
            metadata: Object.fromEntries(
              Object.entries(sealed!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
            ),
            data: Buffer.from(sealed!.data!).toString('base64'),
          },
        ],
      });
      const refused = await fetch(`${server.url}/decode`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(refused.status).toBe(401);
      expect(await refused.text()).not.toContain(idNumber);
      const answer = await fetch(`${server.url}/decode`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', authorization: 'Bearer secret-token' },
      });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
      const decoded = (await answer.json()) as {
        payloads: { metadata: Record<string, string>; data: string }[];
      };
      expect(Buffer.from(decoded.payloads[0]!.data, 'base64').toString('utf8')).toBe(
        JSON.stringify({ idNumber }),
      );
    } finally {
      await server.close();
    }
  });

  it('refuses a request body over its limit with 413, and a short ciphertext with 400', async () => {
    const { startCodecServer } = await import('../../infra/codec-server');
    const codec = new AesGcmPayloadCodec(new Map([['k1', k1]]), 'k1');
    const server = await startCodecServer({ codec, token: 't', maxBodyBytes: 1024 });
    try {
      const headers = { 'content-type': 'application/json', authorization: 'Bearer t' };
      const big = await fetch(`${server.url}/decode`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ payloads: [{ data: 'A'.repeat(4096) }] }),
      });
      expect(big.status).toBe(413);
      const short = await fetch(`${server.url}/decode`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          payloads: [
            {
              metadata: {
                encoding: Buffer.from(ENCRYPTED_ENCODING).toString('base64'),
                'encryption-key-id': Buffer.from('k1').toString('base64'),
              },
              data: Buffer.alloc(20).toString('base64'),
            },
          ],
        }),
      });
      expect(short.status).toBe(400);
      expect(await short.text()).toContain('shorter than its 12-byte IV and 16-byte tag');
    } finally {
      await server.close();
    }
  });
});
