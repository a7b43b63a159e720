/**
 * The README's "Map of the folders" must match the tree (issue #17): every top-level folder of the project is
 * in the map, the map names no folder that is gone, and every module a folder's entry names (`campaign.ts`)
 * is a file somewhere inside that folder.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/shared-cases';

/** Folders that are not the project's own: dependencies and what tools leave behind (see .gitignore). */
const NOT_THE_PROJECTS = new Set(['node_modules', 'coverage', 'out']);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** The map's entries: the folder each entry starts with, and the text of the entry (its continuation lines). */
function mapEntries(readme: string): Map<string, string> {
  const start = readme.indexOf('## Map of the folders');
  expect(start, 'README.md has a "Map of the folders" section').toBeGreaterThan(-1);
  const open = readme.indexOf('```\n', start);
  const close = readme.indexOf('\n```', open + 4);
  const entries = new Map<string, string>();
  let current: string | undefined;
  for (const line of readme.slice(open + 4, close).split('\n')) {
    const head = /^(\S+)\s/.exec(line);
    if (head?.[1]) {
      current = head[1].replace(/\/$/, '');
      entries.set(current, line.slice(head[1].length));
    } else if (current) entries.set(current, `${entries.get(current) ?? ''} ${line.trim()}`);
  }
  return entries;
}

describe("the README's map of the folders", () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const entries = mapEntries(readme);

  it('names every top-level folder of the project, and only folders that exist', () => {
    const onDisk = readdirSync(REPO_ROOT, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !NOT_THE_PROJECTS.has(e.name))
      // an empty folder a move left behind is not part of the tree git checks out
      .filter((e) => filesUnder(join(REPO_ROOT, e.name)).length > 0)
      .map((e) => e.name)
      .sort();
    const inMap = [...entries.keys()].filter((name) => !name.startsWith('.')).sort();
    expect(inMap).toEqual(onDisk);
    // the dot-entries (.ci/run) are files that exist
    for (const name of entries.keys())
      if (name.startsWith('.')) expect(existsSync(join(REPO_ROOT, name)), name).toBe(true);
  });

  it('names only modules that are inside the folder it puts them in', () => {
    const missing: string[] = [];
    for (const [folder, text] of entries) {
      const dir = join(REPO_ROOT, folder);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
      const names = new Set(filesUnder(dir).map((f) => f.slice(f.lastIndexOf('/') + 1)));
      for (const [, module] of text.matchAll(/([\w.-]+\.ts)\b/g))
        if (module && !names.has(module.replace(/^.*\//, ''))) missing.push(`${folder}/ … ${module}`);
    }
    expect(missing).toEqual([]);
  });
});
