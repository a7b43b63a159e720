/**
 * The shared sample files: ../shared/cases/lists beside the repository's clone (as in CI and on the main
 * checkout), resolved from the repository's root; MEDINS_SHARED_DIR points elsewhere (a worktree whose
 * parent folder has no shared/).
 */
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const SHARED_DIR = process.env.MEDINS_SHARED_DIR ?? join(REPO_ROOT, '..', 'shared');
export const SHARED_CASES = join(SHARED_DIR, 'cases', 'lists');
