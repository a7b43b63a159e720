/**
 * The console's settings: the project's one validated configuration (config/settings.ts: Temporal address,
 * namespace, task queue, database name, and the web server's own CONSOLE_* section), parsed with zod once
 * at start-up so a typo fails before the port opens.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../worker/config';

/** The console's own settings (config/settings.ts, section Console), the secret made when none is given. */
export interface ConsoleSettings {
  CONSOLE_HOST: string;
  CONSOLE_PORT: number;
  CONSOLE_SESSION_SECRET: string;
  CONSOLE_IDLE_MINUTES: number;
  CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE: number;
  CONSOLE_SECURE_COOKIE: 'auto' | 'always';
  CONSOLE_TRUST_PROXY: boolean;
}

/** Both views of the one configuration; throws naming every bad variable. */
export function loadConsoleConfig(env?: Record<string, string | undefined>): {
  config: Config;
  console: ConsoleSettings;
} {
  const config = loadConfig(env);
  return {
    config,
    console: {
      CONSOLE_HOST: config.CONSOLE_HOST,
      CONSOLE_PORT: config.CONSOLE_PORT,
      CONSOLE_SESSION_SECRET: config.CONSOLE_SESSION_SECRET ?? randomBytes(32).toString('base64url'),
      CONSOLE_IDLE_MINUTES: config.CONSOLE_IDLE_MINUTES,
      CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE: config.CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE,
      CONSOLE_SECURE_COOKIE: config.CONSOLE_SECURE_COOKIE,
      CONSOLE_TRUST_PROXY: config.CONSOLE_TRUST_PROXY === '1',
    },
  };
}
