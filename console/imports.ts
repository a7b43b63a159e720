/**
 * The lists a department's login is importing through the console, by an id of their own: the upload request
 * hands its file over and answers at once; the import goes on in this process whether or not the page that
 * sent it stays open (a closed tab loses no submission), and the page asks for the rows read so far by the
 * id. A finished import is remembered for an hour so its page can be opened again; after that the
 * submission is in the list of submissions like any other.
 */
import { randomBytes } from 'node:crypto';
import type { ListImportResult } from '../lists/import-list';
import type { Login } from './logins';

export interface ImportJob {
  /** 24 random hex digits: the page's address, not guessable by another session. */
  id: string;
  /** The PostgreSQL user who handed the file in: only that user may watch it. */
  user: string;
  fileName: string;
  /** Rows below the header read so far (ImportDeps.onProgress). */
  rowsRead: number;
  state: 'importing' | 'imported' | 'refused';
  result?: ListImportResult;
  /** Why the import was refused (a file that cannot be read, a list in another department's name...), in
   * Chinese, with the HTTP status its page answers (422 a file that cannot be read, 403 another's name). */
  refusal?: { status: number; text: string };
  /** Milliseconds since the epoch. */
  startedAt: number;
  finishedAt?: number;
}

const KEEP_FINISHED_MS = 60 * 60_000;

export class ImportJobs {
  private readonly jobs = new Map<string, ImportJob>();

  /**
   * Starts `run` on `login`'s connections (the login's connections stay open until it settles, whatever
   * happens to the session) and returns its job at once. `run` is given the progress callback to pass to
   * importDepartmentList; `refusal` turns a thrown error into the sentence the page shows and its status.
   */
  start(
    login: Login,
    fileName: string,
    run: (onProgress: (progress: { rowsRead: number }) => void) => Promise<ListImportResult>,
    refusal: (error: unknown) => { status: number; text: string },
  ): ImportJob {
    this.forgetOld();
    const job: ImportJob = {
      id: randomBytes(12).toString('hex'),
      user: login.identity.user,
      fileName,
      rowsRead: 0,
      state: 'importing',
      startedAt: Date.now(),
    };
    this.jobs.set(job.id, job);
    const work = run((progress) => {
      job.rowsRead = progress.rowsRead;
    }).then(
      (result) => {
        Object.assign(job, { state: 'imported', result, rowsRead: result.rowsRead, finishedAt: Date.now() });
      },
      (error: unknown) => {
        Object.assign(job, { state: 'refused', refusal: refusal(error), finishedAt: Date.now() });
      },
    );
    login.work.add(work);
    void work.finally(() => login.work.delete(work));
    return job;
  }

  /** The job `id` if `user` started it; undefined otherwise (another person's import is not theirs to see). */
  get(id: string, user: string): ImportJob | undefined {
    const job = this.jobs.get(id);
    return job?.user === user ? job : undefined;
  }

  private forgetOld() {
    const now = Date.now();
    for (const [id, job] of this.jobs)
      if (job.finishedAt !== undefined && now - job.finishedAt > KEEP_FINISHED_MS) this.jobs.delete(id);
  }
}
