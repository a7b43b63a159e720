import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSettings, SETTING_NAMES, SETTING_SECTIONS, settingsMarkdown } from '../../config/settings';
import { loadConsoleConfig } from '../../console/config';

/** The rows of a markdown table of settings: name -> [default, what it does], whitespace collapsed. */
function rows(markdown: string): Map<string, [string, string]> {
  const found = new Map<string, [string, string]>();
  for (const line of markdown.split('\n')) {
    const m = /^\|\s*`([A-Z_]+)`\s*\|(.*)\|(.*)\|\s*$/.exec(line);
    if (m) found.set(m[1]!, [m[2]!.trim(), m[3]!.trim().replace(/\s+/g, ' ')]);
  }
  return found;
}

describe('the one configuration', () => {
  it('docs/configuration.md documents exactly the settings of the schema, with their defaults and docs', () => {
    const documented = rows(readFileSync('docs/configuration.md', 'utf8'));
    const schema = rows(settingsMarkdown());
    expect([...documented.keys()].sort()).toEqual([...SETTING_NAMES].sort());
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(schema));
  });

  it('every setting has a line of documentation and belongs to one section', () => {
    const inSections = SETTING_SECTIONS.flatMap(([, shape]) => Object.keys(shape));
    expect(inSections.sort()).toEqual([...SETTING_NAMES].sort());
    for (const [name, [, doc]] of rows(settingsMarkdown())) expect(doc, name).not.toBe('');
  });

  it('a bad value is refused naming the variable, every bad one at once', () => {
    expect(() => parseSettings({ CONSOLE_PORT: 'eighty', MEDINS_SERVER_START_TIMEOUT_MS: '-5' })).toThrow(
      /Invalid environment: .*CONSOLE_PORT: .*MEDINS_SERVER_START_TIMEOUT_MS: /,
    );
    expect(() => parseSettings({ MEDINS_LOG_FORMAT: 'pretty' })).toThrow(/MEDINS_LOG_FORMAT/);
  });

  it('defaults: an empty server start timeout counts as unset (180 s), ports and the task queue as before', () => {
    const s = parseSettings({ MEDINS_SERVER_START_TIMEOUT_MS: '' });
    expect(s.MEDINS_SERVER_START_TIMEOUT_MS).toBe(180_000);
    expect(s.CODEC_SERVER_PORT).toBe(8081);
    expect(s.TEMPORAL_PORT).toBe(7233);
    expect(s.TEMPORAL_UI_PORT).toBe(8233);
    expect(s.TEMPORAL_RETENTION_DAYS).toBe(30);
    expect(s.MEDINS_DOWNLOAD_PROBE_URL).toBe('https://temporal.download/');
  });

  it('the fault points stay off unless a test sets them: unset in a production environment', () => {
    const production = parseSettings({ DATABASE_URL: 'postgres://worker@db/medins' });
    expect(production.MEDINS_FAULT_PAUSE_AT).toBeUndefined();
    expect(production.MEDINS_FAULT_SIGNAL_FILE).toBeUndefined();
  });

  it("the console's section: a proxy trusted with 1, a secret made when none is given, a short one refused", () => {
    const { config, console: web } = loadConsoleConfig({ CONSOLE_TRUST_PROXY: '1' });
    expect(config.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
    expect(web).toMatchObject({ CONSOLE_HOST: '127.0.0.1', CONSOLE_PORT: 8400, CONSOLE_TRUST_PROXY: true });
    expect(web.CONSOLE_SESSION_SECRET.length).toBeGreaterThanOrEqual(32);
    expect(loadConsoleConfig({}).console.CONSOLE_TRUST_PROXY).toBe(false);
    expect(() => loadConsoleConfig({ CONSOLE_SESSION_SECRET: 'short' })).toThrow(/CONSOLE_SESSION_SECRET/);
  });
});
