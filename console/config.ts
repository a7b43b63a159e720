/**
 * The console's settings: the project's one validated configuration (worker/config.ts: Temporal address,
 * namespace, task queue, database name) plus the web server's own, parsed with zod once at start-up so a
 * typo fails before the port opens.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { loadConfig, type Config } from '../worker/config';

const ConsoleEnv = z.object({
  /** Loopback by default: a bureau puts a TLS proxy in front before opening it to a network. */
  CONSOLE_HOST: z.string().min(1).default('127.0.0.1'),
  CONSOLE_PORT: z.coerce.number().int().min(0).max(65535).default(8400),
  /** Signs the session cookie; at least 32 characters. Default: random per process (logins end on restart). */
  CONSOLE_SESSION_SECRET: z.string().min(32).optional(),
  /** Minutes without a request after which a login ends. */
  CONSOLE_IDLE_MINUTES: z.coerce.number().positive().default(15),
  /** Login attempts allowed per client address per minute. */
  CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE: z.coerce.number().int().positive().default(10),
  /**
   * `auto` (default): the session cookie is Secure when the request came over HTTPS (a TLS proxy in front,
   * with CONSOLE_TRUST_PROXY=1 so its X-Forwarded-Proto counts); on plain HTTP to loopback it cannot be (the
   * session library, rightly, sends no Secure cookie over HTTP). `always`: refuse to hand out a session over
   * plain HTTP at all (behind a proxy that always terminates TLS).
   */
  CONSOLE_SECURE_COOKIE: z.enum(['auto', 'always']).default('auto'),
  CONSOLE_TRUST_PROXY: z
    .enum(['0', '1'])
    .default('0')
    .transform((v) => v === '1'),
});

export type ConsoleSettings = Omit<z.infer<typeof ConsoleEnv>, 'CONSOLE_SESSION_SECRET'> & {
  CONSOLE_SESSION_SECRET: string;
};

/** Both configurations; throws naming every bad variable. */
export function loadConsoleConfig(env: NodeJS.ProcessEnv = process.env): {
  config: Config;
  console: ConsoleSettings;
} {
  const config = loadConfig(env);
  const parsed = ConsoleEnv.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid environment: ${problems}`);
  }
  return {
    config,
    console: {
      ...parsed.data,
      CONSOLE_SESSION_SECRET: parsed.data.CONSOLE_SESSION_SECRET ?? randomBytes(32).toString('base64url'),
    },
  };
}
