/**
 * What a test's console needs besides its Temporal client and logs: the ledger's address from a database
 * URL and the console's settings for a test (loopback, any port, a 32-character secret, 15 idle minutes),
 * each overridable.
 */
import type { ConsoleSettings } from '../../console/config';

export function testConsole(
  databaseUrl: string,
  settings: Partial<ConsoleSettings> = {},
): { address: { host: string; port: number; database: string }; settings: ConsoleSettings } {
  const url = new URL(databaseUrl);
  return {
    address: { host: url.hostname, port: Number(url.port), database: url.pathname.slice(1) },
    settings: {
      CONSOLE_HOST: '127.0.0.1',
      CONSOLE_PORT: 0,
      CONSOLE_SESSION_SECRET: 'a-test-secret-of-at-least-thirty-two-characters',
      CONSOLE_IDLE_MINUTES: 15,
      CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE: 30,
      CONSOLE_SECURE_COOKIE: 'auto',
      CONSOLE_TRUST_PROXY: false,
      ...settings,
    },
  };
}
