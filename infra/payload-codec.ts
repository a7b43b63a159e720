/**
 * AES-256-GCM payload encryption, so the Temporal server stores no personal data (national ID and bank
 * numbers in operator Updates, for instance) in plain text (PIPL). Each payload is encrypted whole with the
 * current key and names its key id, so keys rotate without breaking old histories: decoding picks the key
 * the payload names. Used by the worker and every client.
 *
 * Keys: MEDINS_CODEC_KEYS="k2024:<base64 32 bytes>,k2025:<base64 32 bytes>" and MEDINS_CODEC_KEY_ID (the
 * one to encrypt with, default the last listed). Without them a development key is made once and kept in
 * the cache (mode 0600): fine for a laptop, not for production.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { cacheRoot } from './support';
import { settings, type Settings } from '../config/settings';

const { temporal } = proto;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const KEY_ID_FIELD = 'encryption-key-id';
/** AES-GCM: a 12-byte IV before the ciphertext, the full 16-byte authentication tag after it. */
const IV_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = (s: string) => new TextEncoder().encode(s);
const fromUtf8 = (b: Uint8Array) => new TextDecoder().decode(b);

export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(
    private readonly keys: ReadonlyMap<string, Buffer>,
    private readonly currentKeyId: string,
  ) {
    const key = keys.get(currentKeyId);
    if (!key || key.length !== 32) throw new Error(`codec key ${currentKeyId} must be 32 bytes (AES-256)`);
  }

  // async: a failure is a rejected promise, as the SDK expects, never a synchronous throw
  // eslint-disable-next-line @typescript-eslint/require-await
  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.currentKeyId)!;
    return payloads.map((payload) => {
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_FIELD]: utf8(this.currentKeyId) },
        data,
      };
    });
  }

  // eslint-disable-next-line @typescript-eslint/require-await
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.encoding;
      if (!encoding || fromUtf8(encoding) !== ENCRYPTED_ENCODING) return payload;
      const keyIdBytes = payload.metadata?.[KEY_ID_FIELD];
      const keyId = keyIdBytes ? fromUtf8(keyIdBytes) : '';
      const key = this.keys.get(keyId);
      if (!key) throw new Error(`no codec key ${keyId} to decrypt this payload: add it to MEDINS_CODEC_KEYS`);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      // shorter than IV + tag: a truncated tag would otherwise be accepted as a shorter (forgeable) one
      if (data.length < IV_BYTES + TAG_BYTES)
        throw new Error(
          `encrypted payload of ${data.length} bytes is shorter than its ${IV_BYTES}-byte IV and ${TAG_BYTES}-byte tag`,
        );
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}

/** Parses "id:base64,id:base64". */
export function parseKeys(text: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const pair of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [id, b64] = pair.split(':');
    if (!id || !b64) throw new Error('MEDINS_CODEC_KEYS must be "id:base64key,id:base64key"');
    keys.set(id, Buffer.from(b64, 'base64'));
  }
  return keys;
}

/** The codec from the environment, or from a development key kept in the cache. */
export function payloadCodecFromEnv(
  env: Pick<Settings, 'MEDINS_CODEC_KEYS' | 'MEDINS_CODEC_KEY_ID'> = settings(),
): AesGcmPayloadCodec {
  if (env.MEDINS_CODEC_KEYS) {
    const keys = parseKeys(env.MEDINS_CODEC_KEYS);
    return new AesGcmPayloadCodec(keys, env.MEDINS_CODEC_KEY_ID ?? [...keys.keys()].at(-1)!);
  }
  const dir = join(cacheRoot(), 'codec');
  const file = join(dir, 'dev-key');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, `dev:${randomBytes(32).toString('base64')}`, { mode: 0o600, flag: 'wx' });
  }
  const keys = parseKeys(readFileSync(file, 'utf8').trim());
  return new AesGcmPayloadCodec(keys, 'dev');
}

/**
 * The data converter of the worker and every client: payloads encrypted, unless
 * MEDINS_PAYLOAD_ENCRYPTION=off (the test suite's workflows carry no personal data; its codec test
 * turns encryption on explicitly).
 */
export function dataConverterFromEnv(
  env: Pick<Settings, 'MEDINS_PAYLOAD_ENCRYPTION' | 'MEDINS_CODEC_KEYS' | 'MEDINS_CODEC_KEY_ID'> = settings(),
): EncryptingDataConverter | undefined {
  if (env.MEDINS_PAYLOAD_ENCRYPTION === 'off') return undefined;
  return encryptingDataConverter(payloadCodecFromEnv(env));
}

export interface EncryptingDataConverter {
  payloadCodecs: PayloadCodec[];
  failureConverterPath: string;
}

/** Where the failure converter lives, for DataConverter.failureConverterPath and the workflow bundle. */
export const FAILURE_CONVERTER_PATH = fileURLToPath(new URL('./failure-converter.ts', import.meta.url));

/** Payloads encrypted by the codec, failure messages and stack traces encoded so the codec encrypts them too. */
export function encryptingDataConverter(codec: PayloadCodec): EncryptingDataConverter {
  return { payloadCodecs: [codec], failureConverterPath: FAILURE_CONVERTER_PATH };
}
