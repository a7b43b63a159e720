import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, stderrDestination } from '../../infra/structured-log';
import { stderrLogger } from '../../infra/support';

const ID = '440783196805120025';

describe("provisioning's lines go through the structured log", () => {
  afterEach(() => vi.restoreAllMocks());

  it('at a terminal (text): "[provision] …" as before, the message redacted by the same pino hooks', () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    const log = createLogger('medins-provision', 'info', stderrDestination('text', '[provision]'));
    log.info(`still waiting for the Temporal dev server after 15 s (resident ${ID})`);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(
      /^\[provision\] still waiting for the Temporal dev server after 15 s \(resident 440783\*+0025\)\n$/,
    );
    expect(written.join('')).not.toContain(ID);
  });

  it('stderrLogger follows MEDINS_LOG_FORMAT: text when asked, whatever stderr is', () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    vi.stubEnv('MEDINS_LOG_FORMAT', 'text');
    try {
      stderrLogger('starting PostgreSQL 16 on 127.0.0.1:5433');
    } finally {
      vi.unstubAllEnvs();
    }
    expect(written).toEqual(['[provision] starting PostgreSQL 16 on 127.0.0.1:5433\n']);
  });
});
