/**
 * Who a person is, from PostgreSQL's own authentication: each person is a LOGIN role (SCRAM password) and a
 * member of one group role, which says what they may do:
 * - `medins_operator`: starts and steers campaigns, imports lists, reads full numbers where the work needs them;
 * - `medins_auditor`: reads history, reports and the exchange log, only through masked views (never a full
 *   national ID or bank account);
 * - `medins_dept_<department>` (each a member of `medins_department`): a certifying department, which sees,
 *   imports and hands in its own lists only (row-level security, migrations 0020 and 0021; the register is
 *   matched for it by list_match_rows, which runs as the schema's owner).
 * `medins_rehearsal` (CREATEDB, nothing else; operators are its members) makes a rehearsal's own database.
 * No login bypasses row-level security. The group roles are cluster-wide; their grants are per database
 * (migrations 0006, 0007, 0020, 0021).
 */
import type pg from 'pg';
import { DepartmentId } from '../domain/policy';

/** A client or a pool. */
export type Queryable = pg.ClientBase | pg.Pool;

export const OPERATOR_ROLE = 'medins_operator';
export const AUDITOR_ROLE = 'medins_auditor';
export const DEPARTMENT_ROLE = 'medins_department';
/**
 * May create databases and nothing else; operators are its members and SET ROLE to it for a rehearsal's
 * throwaway database (an attribute such as CREATEDB is not inherited through membership).
 */
export const REHEARSAL_ROLE = 'medins_rehearsal';

/** The group role of a certifying department: civil-affairs → medins_dept_civil_affairs. */
export const departmentRole = (department: DepartmentId): string =>
  `medins_dept_${department.replace(/-/g, '_')}`;

export type RoleSpec =
  { kind: 'operator' } | { kind: 'auditor' } | { kind: 'department'; department: DepartmentId };

/** "operator", "auditor" or "department:<department>" (e.g. department:civil-affairs); throws on anything else. */
export function parseRoleSpec(text: string): RoleSpec {
  if (text === 'operator' || text === 'auditor') return { kind: text };
  const match = /^department:(.+)$/.exec(text);
  const department = match ? DepartmentId.safeParse(match[1]) : undefined;
  if (department?.success) return { kind: 'department', department: department.data };
  throw new Error(`role "${text}": use operator, auditor or department:<${DepartmentId.options.join('|')}>`);
}

export const groupRoleOf = (spec: RoleSpec): string =>
  spec.kind === 'operator'
    ? OPERATOR_ROLE
    : spec.kind === 'auditor'
      ? AUDITOR_ROLE
      : departmentRole(spec.department);

const ident = (name: string) => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
    throw new Error(
      `user name "${name}": lower-case letters, digits and underscores, starting with a letter`,
    );
  return `"${name}"`;
};

/** A statement that may race with the same statement in another session: "already there" is not an error. */
async function tolerant(client: Queryable, sql: string): Promise<void> {
  try {
    await client.query(sql);
  } catch (error) {
    // 42710 duplicate_object; 23505 unique_violation; XX000 "tuple concurrently updated" (two GRANTs at once)
    const code = (error as { code?: string }).code;
    if (code !== '42710' && code !== '23505' && code !== 'XX000') throw error;
  }
}

/** Creates the group roles (NOLOGIN) if missing; tolerates another session creating them at the same time. */
export async function ensureGroupRoles(client: Queryable): Promise<void> {
  for (const role of [OPERATOR_ROLE, AUDITOR_ROLE, DEPARTMENT_ROLE])
    await tolerant(client, `CREATE ROLE ${role} NOLOGIN`);
  for (const department of DepartmentId.options) {
    await tolerant(client, `CREATE ROLE ${departmentRole(department)} NOLOGIN`);
    await tolerant(client, `GRANT ${DEPARTMENT_ROLE} TO ${departmentRole(department)}`);
  }
  // operators rehearse a year in a throwaway database of their own (client/rehearse.ts, migration 0021)
  await tolerant(client, `CREATE ROLE ${REHEARSAL_ROLE} NOLOGIN CREATEDB`);
  await tolerant(client, `GRANT ${REHEARSAL_ROLE} TO ${OPERATOR_ROLE}`);
}

/**
 * Creates (or, if it exists, re-passwords) LOGIN role `name` with a password (hashed as the server's
 * password_encryption says: SCRAM since PostgreSQL 14), a member of the
 * spec's group role. Needs an admin connection (CREATEROLE).
 */
export async function addUser(
  client: Queryable,
  name: string,
  password: string,
  spec: RoleSpec,
): Promise<void> {
  await ensureGroupRoles(client);
  const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
  // the password is sent as a literal (utility statements take no parameters); quote it the server's way
  const literal = (await client.query<{ q: string }>('SELECT quote_literal($1) AS q', [password])).rows[0]!.q;
  if (exists.rowCount) await client.query(`ALTER ROLE ${ident(name)} LOGIN PASSWORD ${literal}`);
  else await tolerant(client, `CREATE ROLE ${ident(name)} LOGIN PASSWORD ${literal}`);
  await grantRole(client, name, spec);
}

/**
 * Adds `name` to the spec's group role. No login bypasses row-level security: the operators' policies say
 * they see every row (migrations 0020, 0021), and the import stages its COPY so that it passes the policies.
 * A login given BYPASSRLS before (operators' were, until migration 0021) loses it here, and in revokeRole.
 */
export async function grantRole(client: Queryable, name: string, spec: RoleSpec): Promise<void> {
  await ensureGroupRoles(client);
  await tolerant(client, `GRANT ${groupRoleOf(spec)} TO ${ident(name)}`);
  await dropBypassRls(client, name);
}

export async function revokeRole(client: Queryable, name: string, spec: RoleSpec): Promise<void> {
  await client.query(`REVOKE ${groupRoleOf(spec)} FROM ${ident(name)}`);
  await dropBypassRls(client, name);
}

async function dropBypassRls(client: Queryable, name: string): Promise<void> {
  const r = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1 AND rolbypassrls', [name]);
  if (r.rowCount) await client.query(`ALTER ROLE ${ident(name)} NOBYPASSRLS`);
}

export interface UserRow {
  name: string;
  canLogin: boolean;
  roles: string[];
}

/** Every role that is a member of one of the project's group roles, with those memberships. */
export async function listUsers(client: Queryable): Promise<UserRow[]> {
  const r = await client.query<{ name: string; can_login: boolean; roles: string[] }>(
    `SELECT u.rolname AS name, u.rolcanlogin AS can_login, array_agg(g.rolname::text ORDER BY g.rolname) AS roles
     FROM pg_roles u JOIN pg_auth_members m ON m.member = u.oid JOIN pg_roles g ON g.oid = m.roleid
     WHERE g.rolname IN ($1, $2) OR g.rolname LIKE 'medins\\_dept\\_%'
     GROUP BY u.rolname, u.rolcanlogin ORDER BY u.rolname`,
    [OPERATOR_ROLE, AUDITOR_ROLE],
  );
  return r.rows.map((u) => ({ name: u.name, canLogin: u.can_login, roles: u.roles }));
}

export type Identity =
  | { user: string; role: 'operator' }
  | { user: string; role: 'auditor' }
  | { user: string; role: 'department'; department: DepartmentId };

/**
 * Who this connection is: its session user and the one role it holds (pg_has_role). Throws, naming the user,
 * for a superuser (the CLI's work runs under a person's own login) and for a login with no project role.
 */
export async function sessionIdentity(client: Queryable): Promise<Identity> {
  const r = await client.query<{
    user: string;
    superuser: boolean;
    bypassrls: boolean;
    operator: boolean;
    auditor: boolean;
    departments: string[];
  }>(
    `SELECT session_user AS user,
            (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) AS superuser,
            (SELECT rolbypassrls FROM pg_roles WHERE rolname = session_user) AS bypassrls,
            pg_has_role(session_user, $1, 'MEMBER') AS operator,
            pg_has_role(session_user, $2, 'MEMBER') AS auditor,
            ARRAY(SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'medins\\_dept\\_%'
                  AND pg_has_role(session_user, oid, 'MEMBER') ORDER BY rolname) AS departments`,
    [OPERATOR_ROLE, AUDITOR_ROLE],
  );
  const s = r.rows[0]!;
  if (s.superuser)
    throw new Error(
      `connected as ${s.user}, a superuser: the command line runs under a person's own login (PGUSER/PGPASSWORD, ~/.pgpass, PGSERVICE or DATABASE_URL); superusers only run db migrate and users`,
    );
  if (s.operator) return { user: s.user, role: 'operator' };
  if (s.bypassrls)
    throw new Error(
      `user ${s.user} bypasses row-level security but is no operator: an administrator runs users grant to set it right`,
    );
  if (s.auditor) return { user: s.user, role: 'auditor' };
  const departments = DepartmentId.options.filter((d) => s.departments.includes(departmentRole(d)));
  if (departments.length === 1) return { user: s.user, role: 'department', department: departments[0]! };
  throw new Error(
    departments.length
      ? `user ${s.user} belongs to several departments (${departments.join(', ')}): one login per department`
      : `user ${s.user} has no role here: an administrator grants one with users grant ${s.user} operator|auditor|department:<department>`,
  );
}
