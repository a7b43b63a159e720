/**
 * The console's web server (Fastify): login with the person's own PostgreSQL credentials, signed session
 * cookies (HttpOnly, SameSite=Strict, Secure), CSRF tokens on every form, a rate limit on login attempts, an
 * idle timeout, logout; pages limited by role; every asset served from this process (ECharts from
 * node_modules: government networks are offline). Request logs carry the method, the route pattern (never
 * the URL with its query), the status and the user: no personal data.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyMultipart from '@fastify/multipart';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySession, { type SessionStore } from '@fastify/session';
import fastifyStatic from '@fastify/static';
import type { Client, Connection } from '@temporalio/client';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { MAX_UPLOAD_BYTES } from '../application/uploads';
import { redactingPinoOptions } from '../infra/structured-log';
import type { ConsoleSettings } from './config';
import { explain, logged } from './errors';
import { csrfField, h, notice, page, PAGES, type Role } from './html';
import {
  ExpiringSessionStore,
  LoginRefused,
  LoginStore,
  openLogin,
  type DatabaseAddress,
  type Login,
} from './logins';
import { auditRoutes } from './routes/audit';
import { campaignRoutes } from './routes/campaigns';
import { deductionRoutes } from './routes/deductions';
import { listRoutes } from './routes/lists';
import { progressRoutes } from './routes/progress';
import { reconciliationRoutes } from './routes/reconciliation';

declare module 'fastify' {
  interface FastifyRequest {
    login: Login | null;
  }
  interface FastifyContextConfig {
    /** Who may use the route; absent: anyone logged in. */
    roles?: readonly Role[];
    /** Served without a login (the login page, health, assets). */
    public?: boolean;
  }
}
declare module '@fastify/session' {
  interface FastifySessionObject {
    user?: string;
  }
}

export interface ConsoleDeps {
  /** Host, port and database of the ledger; each person's user name and password come from the login form. */
  address: DatabaseAddress;
  /** The Temporal client (one per process; who acted is passed to every Update and recorded by the campaign). */
  temporal: () => Promise<Client>;
  taskQueue: string;
  /** Where a department's own imports keep the files they were handed (default: the configuration's). */
  exchangeDir?: string;
  settings: ConsoleSettings;
  /** Where the request log goes (JSON lines); default stdout. */
  logStream?: { write(line: string): void };
  /** The clock of the idle timeout, in milliseconds (default Date.now; a test moves its own on). */
  clock?: () => number;
}

/** What every route module receives. */
export interface RouteContext {
  deps: ConsoleDeps;
  /** The logged-in person (routes run only after the login check). */
  login(request: FastifyRequest): Login;
  csrf(reply: FastifyReply): string;
}

const here = dirname(fileURLToPath(import.meta.url));
const echartsDist = dirname(createRequire(import.meta.url).resolve('echarts/dist/echarts.min.js'));

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export async function buildConsole(deps: ConsoleDeps): Promise<FastifyInstance> {
  const { settings } = deps;
  const idleMs = settings.CONSOLE_IDLE_MINUTES * 60_000;
  const logins = new LoginStore(idleMs, deps.clock);
  // a session outlives its login a while, so that the next request can say the login timed out
  const sessionStore = new ExpiringSessionStore(idleMs + 60 * 60_000);
  const app = Fastify({
    trustProxy: settings.CONSOLE_TRUST_PROXY,
    bodyLimit: 1024 * 1024,
    logger: {
      level: 'info',
      // structured (pino), and no ID number or bank account in any line (infra/structured-log.ts)
      ...redactingPinoOptions,
      ...(deps.logStream ? { stream: deps.logStream } : {}),
      serializers: {
        // the route pattern, never the URL (a query could name a person); no headers, no body
        req: (req: { method: string; routeOptions?: { url?: string } }) => ({
          method: req.method,
          route: req.routeOptions?.url ?? 'unmatched',
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    },
  });
  app.decorateRequest('login', null);

  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: settings.CONSOLE_SESSION_SECRET,
    cookieName: 'medins_console',
    store: sessionStore as unknown as SessionStore,
    saveUninitialized: false,
    rolling: false,
    cookie: {
      httpOnly: true,
      sameSite: 'strict',
      secure: settings.CONSOLE_SECURE_COOKIE === 'always' ? true : 'auto',
      path: '/',
      // no expiry: a browser session's cookie; the server ends the login after CONSOLE_IDLE_MINUTES idle
    },
  });
  // @fastify/session turns `secure: 'auto'` over plain HTTP into SameSite=Lax (it guards against
  // SameSite=None without Secure); the console's cookie stays Strict on both: every link into the console
  // that matters is its own, and a login page reached from elsewhere starts its own session anyway
  app.addHook('onRequest', (request, _reply, done) => {
    strictCookie(request);
    done();
  });
  await app.register(fastifyCsrf, {
    sessionPlugin: '@fastify/session',
    // a multipart form (a list upload) carries its token in the query: its body is read by the handler
    getToken: (req: FastifyRequest) =>
      (req.body as { _csrf?: string } | undefined)?._csrf ??
      (req.headers['x-csrf-token'] as string | undefined) ??
      (req.query as { _csrf?: string } | undefined)?._csrf,
  });
  await app.register(fastifyFormbody);
  await app.register(fastifyMultipart, { limits: { fileSize: MAX_UPLOAD_BYTES, files: 1, fields: 20 } });
  await app.register(fastifyRateLimit, { global: false });
  await app.register(fastifyStatic, { root: join(here, 'static'), prefix: '/assets/' });
  await app.register(fastifyStatic, { root: echartsDist, prefix: '/vendor/echarts/', decorateReply: false });

  app.addHook('onRequest', async (request, reply) => {
    void reply.headers(SECURITY_HEADERS);
    const url = request.url;
    if (url.startsWith('/assets/') || url.startsWith('/vendor/')) return;
    void reply.header('cache-control', 'no-store');
  });

  // who is asking: every route but the public ones needs a login, and the route's role
  app.addHook('preHandler', async (request, reply) => {
    const config = request.routeOptions.config;
    if (config.public || request.url.startsWith('/assets/') || request.url.startsWith('/vendor/')) return;
    const login = await logins.touch(request.session.sessionId);
    if (!login) {
      const timedOut = Boolean(request.session.user);
      if (timedOut) await request.session.destroy();
      if (request.method === 'GET') return reply.redirect(timedOut ? '/login?timeout=1' : '/login');
      return reply
        .code(401)
        .type('text/html')
        .send(page({ title: '请登录', body: notice('error', '登录已失效，请重新登录') }));
    }
    request.login = login;
    const roles = config.roles;
    if (roles && !roles.includes(login.identity.role))
      return reply
        .code(403)
        .type('text/html')
        .send(
          page({
            title: '无权访问',
            who: login.identity,
            csrf: reply.generateCsrf(),
            body: notice('error', `您的角色不能使用此功能（${request.method} ${request.routeOptions.url}）`),
          }),
        );
    request.log.info({ user: login.identity.user, role: login.identity.role }, 'request by');
  });
  // every form: a CSRF token bound to the session (multipart uploads check theirs from the query, the same way)
  app.addHook('preHandler', (request, reply, done) => {
    if (request.method !== 'POST') return done();
    app.csrfProtection(request, reply, done);
  });

  // the one error mapping (console/errors.ts): the clerk reads a Chinese sentence and a status, never a
  // stack, SQL or an English internal; the log keeps the masked cause chain for the maintainer
  app.setErrorHandler((error: Error, request, reply) => {
    const said = explain(error);
    request.log[said.known ? 'warn' : 'error']({ err: logged(error, !said.known) }, 'request failed');
    return reply
      .code(said.status)
      .type('text/html')
      .send(
        page({
          title: '出错了',
          ...(request.login ? { who: request.login.identity, csrf: csrfOrNone(reply) } : {}),
          body: notice('error', said.text),
        }),
      );
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .type('text/html')
      .send(page({ title: '未找到', body: notice('error', '未找到该页面') })),
  );

  const ctx: RouteContext = {
    deps,
    login(request) {
      if (!request.login) throw new Error('no login');
      return request.login;
    },
    csrf: (reply) => reply.generateCsrf(),
  };

  app.get('/healthz', { config: { public: true } }, async (_request, reply) => {
    let temporal = 'ok';
    try {
      const client = await deps.temporal();
      await (client.connection as Connection).healthService.check({});
    } catch {
      temporal = 'unreachable';
    }
    return reply
      .code(temporal === 'ok' ? 200 : 503)
      .send({ status: temporal === 'ok' ? 'ok' : 'degraded', temporal });
  });

  app.get('/login', { config: { public: true } }, async (request, reply) => {
    const q = request.query as { timeout?: string };
    return reply
      .type('text/html')
      .send(loginPage(reply.generateCsrf(), q.timeout ? '登录因长时间未操作已失效，请重新登录' : undefined));
  });

  app.post(
    '/login',
    {
      config: {
        public: true,
        rateLimit: { max: settings.CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE, timeWindow: 60_000 },
      },
    },
    async (request, reply) => {
      const body = request.body as { user?: string; password?: string };
      const user = (body.user ?? '').trim();
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(user) || !body.password) {
        return reply.code(400).type('text/html').send(loginPage(reply.generateCsrf(), '请输入用户名和密码'));
      }
      let login: Login;
      try {
        login = await openLogin(deps.address, user, body.password);
      } catch (error) {
        if (!(error instanceof LoginRefused)) throw error;
        request.log.warn({ user }, 'login refused');
        return reply.code(401).type('text/html').send(loginPage(reply.generateCsrf(), error.message));
      }
      // a new session id at login: a session fixed before it is worth nothing; a login it held ends
      await logins.end(request.session.sessionId);
      await request.session.regenerate();
      strictCookie(request);
      request.session.user = login.identity.user;
      logins.set(request.session.sessionId, login);
      request.log.info({ user: login.identity.user, role: login.identity.role }, 'logged in');
      return reply.redirect(login.identity.role === 'department' ? '/lists' : '/');
    },
  );

  app.post('/logout', async (request, reply) => {
    await logins.end(request.session.sessionId);
    request.log.info({ user: request.login?.identity.user }, 'logged out');
    await request.session.destroy();
    return reply.redirect('/login');
  });

  campaignRoutes(app, ctx);
  listRoutes(app, ctx);
  progressRoutes(app, ctx);
  deductionRoutes(app, ctx);
  reconciliationRoutes(app, ctx);
  auditRoutes(app, ctx);

  app.addHook('onClose', async () => {
    await logins.close();
    sessionStore.close();
  });
  return app;
}

/** The session cookie of this request SameSite=Strict (see the onRequest hook). */
function strictCookie(request: FastifyRequest): void {
  const cookie = (request.session as { cookie?: { sameSite?: unknown } } | undefined)?.cookie;
  if (cookie) cookie.sameSite = 'strict';
}

/** A CSRF token for the error page's logout form; none when the session cannot give one. */
function csrfOrNone(reply: FastifyReply): string {
  try {
    return reply.generateCsrf();
  } catch {
    return '';
  }
}

function loginPage(csrf: string, message?: string): string {
  return page({
    title: '登录',
    body: h`${message ? notice('error', message) : ''}
<form method="post" action="/login" class="login">
  ${csrfField(csrf)}
  <label>用户名 <input name="user" autocomplete="username" required></label>
  <label>密码 <input name="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">登录</button>
</form>
<p class="hint">用本人的数据库账号登录（管理员以 <code>users add</code> 创建）。页面按角色开放：${PAGES.map((p) => p.title).join('、')}。</p>`,
  });
}
