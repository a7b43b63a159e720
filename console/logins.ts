/**
 * Who is logged in: each console login holds a small pool of PostgreSQL connections opened with the
 * person's own user name and password, so the database's grants and row-level security apply to every page
 * exactly as to that person's psql. The password is used to open the pool and then forgotten (node-postgres
 * keeps it inside the pool's config for reconnecting; it is never written to the session store or a log).
 */
import pg from 'pg';
import { sessionIdentity, type Identity } from '../infra/roles';

export interface Login {
  identity: Identity;
  pool: pg.Pool;
  lastSeen: number;
  /**
   * Work under way on this login's connections that outlives the request that started it (a list importing):
   * ending the login (logout, idle timeout, shutdown) closes the connections only after it has settled.
   */
  work: Set<Promise<unknown>>;
}

export class LoginRefused extends Error {
  override name = 'LoginRefused';
}

/** The server part of a connection (host, port, database): the user and password come from the login form. */
export type DatabaseAddress = Pick<pg.ClientConfig, 'host' | 'port' | 'database' | 'ssl'>;

/**
 * Opens a pool as `user` and reads who that is (infra/roles.ts sessionIdentity). Throws LoginRefused with a
 * sentence in Chinese for a wrong password, an unknown user, a superuser or a login without a project role.
 */
export async function openLogin(address: DatabaseAddress, user: string, password: string): Promise<Login> {
  const pool = new pg.Pool({ ...address, user, password, max: 3, idleTimeoutMillis: 60_000 });
  pool.on('error', () => undefined);
  try {
    const identity = await sessionIdentity(pool);
    return { identity, pool, lastSeen: Date.now(), work: new Set() };
  } catch (error) {
    await pool.end().catch(() => undefined);
    const code = (error as { code?: string }).code;
    if (code === '28P01' || code === '28000') throw new LoginRefused('用户名或密码错误');
    if (error instanceof Error && /superuser/.test(error.message))
      throw new LoginRefused('超级用户不能登录控制台：请用本人账号登录');
    if (
      error instanceof Error &&
      /has no role here|several departments|bypasses row-level/.test(error.message)
    )
      throw new LoginRefused('该账号没有本系统的角色（经办、审计或部门），请联系管理员授权');
    throw error;
  }
}

/** The logins of this process by session id; ends those idle longer than `idleMs`. */
export class LoginStore {
  private readonly logins = new Map<string, Login>();
  /** Logins ended whose connections wait for work under way. */
  private readonly closing = new Set<Promise<unknown>>();
  private readonly sweeper: NodeJS.Timeout;

  /** `now`: the clock idleness is measured by (milliseconds; tests move it on instead of sleeping). */
  constructor(
    private readonly idleMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => void this.sweep(), Math.min(idleMs, 60_000));
    this.sweeper.unref();
  }

  set(sessionId: string, login: Login) {
    login.lastSeen = this.now();
    this.logins.set(sessionId, login);
  }

  /** The login of a session, touched; undefined (and ended) when it was idle too long. */
  async touch(sessionId: string): Promise<Login | undefined> {
    const login = this.logins.get(sessionId);
    if (!login) return undefined;
    if (this.now() - login.lastSeen > this.idleMs) {
      await this.end(sessionId);
      return undefined;
    }
    login.lastSeen = this.now();
    return login;
  }

  /**
   * Ends a session's login: its connections close once the work under way on them has settled (a list being
   * imported when its person logs out, closes the tab and times out, is finished, not cut off). Resolves
   * when the connections are closed, or at once while such work keeps them (close() waits for those).
   */
  async end(sessionId: string) {
    const login = this.logins.get(sessionId);
    this.logins.delete(sessionId);
    if (!login) return;
    const closed = Promise.allSettled([...login.work]).then(() => login.pool.end().catch(() => undefined));
    if (login.work.size === 0) return closed;
    this.closing.add(closed);
    void closed.finally(() => this.closing.delete(closed));
  }

  private async sweep() {
    const now = this.now();
    for (const [id, login] of this.logins) if (now - login.lastSeen > this.idleMs) await this.end(id);
  }

  async close() {
    clearInterval(this.sweeper);
    await Promise.all([...this.logins.keys()].map((id) => this.end(id)));
    await Promise.all([...this.closing]);
  }
}

/**
 * The session store: in memory (one console process), each session forgotten `keepMs` after its last use,
 * so login pages fetched and never used do not pile up (@fastify/session's MemoryStore keeps everything).
 */
export class ExpiringSessionStore {
  private readonly sessions = new Map<string, { session: unknown; touched: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly keepMs: number) {
    this.sweeper = setInterval(
      () => {
        const now = Date.now();
        for (const [id, s] of this.sessions) if (now - s.touched > this.keepMs) this.sessions.delete(id);
      },
      Math.min(keepMs, 60_000),
    );
    this.sweeper.unref();
  }

  set(sessionId: string, session: unknown, callback: (error?: unknown) => void) {
    this.sessions.set(sessionId, { session, touched: Date.now() });
    callback();
  }

  get(sessionId: string, callback: (error: unknown, session?: unknown) => void) {
    const s = this.sessions.get(sessionId);
    if (s && Date.now() - s.touched <= this.keepMs) {
      s.touched = Date.now();
      callback(null, s.session);
    } else {
      this.sessions.delete(sessionId);
      callback(null, null);
    }
  }

  destroy(sessionId: string, callback: (error?: unknown) => void) {
    this.sessions.delete(sessionId);
    callback();
  }

  close() {
    clearInterval(this.sweeper);
    this.sessions.clear();
  }
}
