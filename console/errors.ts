/**
 * The console's one error mapping: whatever a page's work throws (a refused Update from Temporal, a list file
 * that cannot be read, PostgreSQL's refusal, a form that fails its schema, a reference to nothing) becomes a
 * status and one sentence in Chinese for the clerk, never a stack, SQL text or an English internal. The error
 * handler (server.ts) and the pages that show a refusal in place (名单) both call `explain`.
 *
 * What the maintainer needs goes to the log instead (`logged`): the error's name, codes and message with
 * every long number masked (domain/personal-data.ts redact), never the form's values.
 */
import { redact } from '../domain/personal-data';
import { PHASE_NAMES, zh } from '../domain/words';

export interface Explained {
  /** The HTTP status to answer. */
  status: number;
  /** The sentence the clerk reads (Chinese). */
  text: string;
  /** Whether the cause is known (a refusal or bad input); false: an internal error the maintainer must see. */
  known: boolean;
}

/** A form or path value that fails its check, named by the field's Chinese label. */
export class FormInvalid extends Error {
  override name = 'FormInvalid';
  constructor(readonly text: string) {
    super(text);
  }
}

/** Something the reader asked for is not there, or not theirs to see (the answer does not tell which). */
export class NotVisible extends Error {
  override name = 'NotVisible';
  constructor(readonly text = '未找到该记录，或您无权查看') {
    super(text);
  }
}

/** The Chinese label of each form or path field the console takes. */
export const FIELD_NAMES: Record<string, string> = {
  id: '编号',
  campaign: '征缴年度',
  policy: '征缴年度',
  department: '认定部门',
  kind: '名单类型',
  period: '时点/月份',
  file: '名单文件',
  decision: '处理决定',
  reason: '理由',
  jurisdiction: '地区',
  year: '年度',
  date: '日期',
  month: '月份',
  idNumber: '公民身份号码',
  drill: '演练间隔',
};

interface Failure {
  name: string;
  message: string;
  /** An ApplicationFailure's type (FailureType), a PostgreSQL SQLSTATE or a Node/Fastify code. */
  type?: string;
  code?: string;
  statusCode?: number;
  issues?: { path: PropertyKey[]; message: string; code?: string }[];
}

/**
 * The failure that says what went wrong: through a Temporal WorkflowUpdateFailedError or WorkflowFailedError,
 * an ActivityFailure, to the innermost ApplicationFailure (its type and masked message); else the error itself.
 */
function innermost(error: unknown): Failure {
  let found: Failure | undefined;
  let e: unknown = error;
  for (let depth = 0; depth < 6 && e instanceof Error; depth += 1) {
    const x = e as Error & {
      type?: string | null;
      code?: unknown;
      statusCode?: number;
      issues?: Failure['issues'];
    };
    if (x.name === 'ApplicationFailure' || depth === 0 || !found)
      found = {
        name: x.name,
        message: x.message,
        ...(typeof x.type === 'string' ? { type: x.type } : {}),
        ...(typeof x.code === 'string' ? { code: x.code } : {}),
        ...(typeof x.statusCode === 'number' ? { statusCode: x.statusCode } : {}),
        ...(Array.isArray(x.issues) ? { issues: x.issues } : {}),
      };
    if (x.name === 'ApplicationFailure') break;
    e = x.cause;
  }
  return found ?? { name: 'Error', message: String(error) };
}

/** `file, sheet “S”, row 5, line 3, field F: explanation` (activities/registry/list-files.ts ListFileError). */
const LIST_FILE_MESSAGE = /^(.*?)((?:, (?:sheet “[^”]*”|row \d+|line \d+|field [^,:]+))*): ([\s\S]*)$/;

/** Each ListFileError's explanation (by its opening words) in Chinese, with what the department should do. */
const LIST_FILE_EXPLANATIONS: [RegExp, (m: RegExpMatchArray) => string][] = [
  [/^the file is empty \(0 bytes\)/, () => '文件是空的（0 字节），请重新导出名单后报送'],
  [
    /^an Excel 97-2003 workbook/,
    () =>
      '这是 Excel 97-2003 工作簿（.xls，或设了密码的 .xlsx），无法读取：请在 Excel 中“文件 → 另存为 → Excel 工作簿 (*.xlsx)”，不设密码后报送',
  ],
  [
    /^not a spreadsheet/,
    () => '不是表格文件：文件内容是二进制数据（可能是 PDF、图片或压缩包），请以 .xlsx 或 .csv 报送名单',
  ],
  [
    /^no delimiter found/,
    () => '找不到分隔符：没有一行用逗号、分号或制表符分成列，请在 Excel 中另存为 CSV（逗号分隔）或 .xlsx',
  ],
  [
    /^a quote \("\) opens a cell and is never closed/,
    () => '有一个引号（"）开始了一个单元格却没有结束，其后的内容会被读成一个单元格：请补上或删去该引号',
  ],
  [/^text follows a closing quote/, () => '引号结束后同一单元格内还有文字（单元格内的引号应写成两个：""）'],
  [/^a control character/, () => '含有名单中不应出现的控制字符（如 NUL 字节）：文件已损坏或不是文本文件'],
  [
    /^more than (\d+) characters in one row/,
    (m) => `一行超过 ${m[1]} 个字符，不是名单的一行（可能有未结束的引号）`,
  ],
  [/^no header row/, () => '找不到表头行：文件中没有任何数据行'],
  [/^the workbook has no visible sheet/, () => '工作簿中没有可见的工作表：请取消隐藏名单所在的工作表后报送'],
  [
    /^two visible sheets each hold a list: “([^”]*)”.*?and “([^”]*)”/,
    (m) => `两个可见工作表“${m[1]}”和“${m[2]}”都是名单：一个文件只报送一份名单，请删除或隐藏另一个工作表`,
  ],
  [
    /^missing column\(s\): (.*?); row (\d+) comes closest/,
    (m) =>
      `缺少必需的列：${m[1]!
        .split('; ')
        .map((x) => x.replace(/ \(looked for .*$/, ''))
        .join('、')}（最接近表头的是第 ${m[2]} 行）：请检查表头后报送`,
  ],
  [
    /^(?:no visible sheet has a header row|missing|the header|no column|none of)/i,
    () => '找不到名单的表头（须有公民身份号码、姓名、类别等列）：请检查表头行后报送',
  ],
  [
    /^the zip holds two parts named/,
    () =>
      '.xlsx 文件中有两个同名（或仅大小写不同）的组成部分，无法确定应读哪一个：请在 Excel 中打开、另存为 .xlsx 后报送',
  ],
  [/truncated or damaged/, () => '.xlsx 文件可能不完整或已损坏：请重新保存后报送'],
  [/refused, not read/, () => '文件过大，未读取（名单远小于此；请拆分或删去名单以外的内容）'],
  [/open it in Excel, save it again/, () => '.xlsx 文件无法读取：请在 Excel 中重新保存后报送'],
];

/** `, sheet “S”, row 5, line 3, field F` in Chinese: 工作表“S”第 5 行、第 3 行（文本行）、字段 F. */
function placeZh(place: string): string {
  const parts: string[] = [];
  for (const m of place.matchAll(/(sheet) “([^”]*)”|(row) (\d+)|(line) (\d+)|(field) ([^,:]+)/g)) {
    if (m[1]) parts.push(`工作表“${m[2]}”`);
    else if (m[3]) parts.push(`第 ${m[4]} 行`);
    else if (m[5]) parts.push(`第 ${m[6]} 行`);
    else if (m[7]) parts.push(`字段“${m[8]!.trim()}”`);
  }
  return parts.join('');
}

/** A ListFileError's message (file, place, English explanation) in Chinese; undefined if not recognised. */
export function listFileMessageZh(message: string): string | undefined {
  const m = LIST_FILE_MESSAGE.exec(message);
  if (!m) return undefined;
  const [, file, place, explanation] = m as unknown as [string, string, string, string];
  for (const [pattern, say] of LIST_FILE_EXPLANATIONS) {
    const found = pattern.exec(explanation);
    if (found) return `${file}${place ? `（${placeZh(place)}）` : ''}：${say(found)}`;
  }
  return undefined;
}

/** The campaign's refusals of an Update (workflows/campaign.ts validators) in Chinese. */
const WORKFLOW_REFUSALS: [RegExp, (m: RegExpMatchArray) => string][] = [
  [
    /^the roster deadline has passed: the campaign is in ([a-z-]+)/,
    (m) => `名单报送已截止（征缴年度现处于“${zh(PHASE_NAMES, m[1])}”阶段），请按月度增减名单报送`,
  ],
  [/ is not a certifying department of /, () => '该部门不是本征缴年度的认定部门'],
  [/^the roster must be uploaded first/, () => '名单文件尚未上传，请重新选择文件后报送'],
  [/^no step of this campaign is waiting for a retry/, () => '本征缴年度没有等待重试的步骤'],
  [/^new enrollment closed on (\S+)/, (m) => `新参保登记已于 ${m[1]} 截止`],
  [/^changes and stops closed on (\S+)/, (m) => `变更与停保已于 ${m[1]} 截止`],
];

/** A zod issue list as one Chinese sentence naming each field at fault by its label. */
function issuesZh(issues: NonNullable<Failure['issues']>): string {
  const fields = [...new Set(issues.map((i) => String(i.path[0] ?? '')))].map((f) =>
    f ? (FIELD_NAMES[f] ?? '表单') : '表单',
  );
  return `${fields.join('、')}填写有误，请检查后重新提交`;
}

/**
 * What to answer for `error`: the status, the Chinese sentence and whether the cause is known. Pure; never
 * throws. Known: the campaign's refusals (unwrapped from Temporal), list file errors, row-level security
 * (a department writing in another's name), bad dates, zod issues, Fastify's CSRF, size and rate limits.
 */
export function explain(error: unknown): Explained {
  if (error instanceof FormInvalid) return { status: 400, text: error.text, known: true };
  if (error instanceof NotVisible) return { status: 404, text: error.text, known: true };
  const outer =
    error instanceof Error ? (error as Error & { code?: unknown; statusCode?: number }) : undefined;
  if (outer?.code === 'FST_CSRF_INVALID_TOKEN' || outer?.code === 'FST_CSRF_MISSING_SECRET')
    return { status: 403, text: '表单已过期或来源不明（CSRF 校验未通过），请刷新页面后重试', known: true };
  if (outer?.statusCode === 429) return { status: 429, text: '登录尝试过于频繁，请稍后再试', known: true };
  if (
    outer?.statusCode === 413 ||
    outer?.code === 'FST_REQ_FILE_TOO_LARGE' ||
    outer?.code === 'FST_FILES_LIMIT'
  )
    return { status: 413, text: '文件过大', known: true };
  if (outer?.name === 'WorkflowNotFoundError')
    return { status: 404, text: '未找到该征缴年度的工作流（尚未启动或已结束）', known: true };
  const f = innermost(error);
  if (f.issues) return { status: 400, text: issuesZh(f.issues), known: true };
  // PostgreSQL (SQLSTATE)
  if (f.code === '42501') {
    if (
      /may not import the lists of/.test(f.message) ||
      (/row-level security/.test(f.message) &&
        /"(submissions|refused_files|submission_rows)"/.test(f.message))
    )
      return { status: 403, text: '不能以其他部门的名义报送名单', known: true };
    return { status: 403, text: '您的账号无权进行此项操作', known: true };
  }
  if (f.code === '22008' || f.code === '22007')
    return {
      status: 400,
      text: '日期无效，请按 YYYY-MM-DD（增减名单按 YYYY-MM）填写真实存在的日期',
      known: true,
    };
  if (f.code === '23505') return { status: 409, text: '该记录已存在，未重复办理', known: true };
  if (f.code?.startsWith('08') || f.code === 'ECONNREFUSED' || f.code === '57P01')
    return { status: 503, text: '数据库暂时无法连接，请稍后再试', known: false };
  if (f.code === '3D000')
    return {
      status: 503,
      text: '该台账数据库已不存在（例如预演数据库已被下一次预演清除），请联系系统维护人员',
      known: false,
    };
  // a stored exchange file that is gone (a rehearsal's files go with its run): nothing to send
  if (f.code === 'ENOENT')
    return {
      status: 404,
      text: '存档文件已不存在（例如随预演目录一并移除），无法提供下载；交换日志中的记录仍在',
      known: true,
    };
  // the console cannot reach Temporal (client/temporal-client.ts): the list was not handed to the campaign
  if (/^No Temporal server answers at /.test(f.message))
    return {
      status: 503,
      text: '工作流服务（Temporal）无法连接，本次报送未交给征缴年度；请稍后重试，或联系系统维护人员启动工作流服务',
      known: false,
    };
  // a list file that cannot be read (its refusal names the file, the place and what to do)
  if (f.type === 'ListFile' || f.name === 'ListFileError' || f.type === 'ListFileError') {
    const said = listFileMessageZh(f.message);
    return { status: 422, text: said ?? '名单文件无法读取，请检查文件格式后重新报送', known: true };
  }
  for (const [pattern, say] of WORKFLOW_REFUSALS) {
    const m = pattern.exec(f.message);
    if (m) return { status: 422, text: say(m), known: true };
  }
  const said = listFileMessageZh(f.message);
  if (said) return { status: 422, text: said, known: true };
  if (f.type === 'NotFound' || f.name === 'NotFound' || /not found|has no stored file/.test(f.message))
    return { status: 404, text: '未找到该记录，或您无权查看', known: true };
  if (f.type === 'Refused' || f.name === 'Refused')
    return { status: 409, text: '该操作未被接受（原因已记录，请联系系统维护人员）', known: true };
  return { status: 500, text: '系统内部错误，已记录，请联系系统维护人员', known: false };
}

/**
 * What the log keeps of an error for the maintainer: names, types and codes along the cause chain and the
 * masked messages (no full ID or bank number), the stack of an unknown error. Shape: a plain object for pino.
 */
export function logged(error: unknown, withStack: boolean): Record<string, unknown> {
  const chain: Record<string, unknown>[] = [];
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth += 1) {
    const x = e as Error & { type?: unknown; code?: unknown };
    chain.push({
      name: x.name,
      ...(typeof x.type === 'string' ? { type: x.type } : {}),
      ...(typeof x.code === 'string' ? { code: x.code } : {}),
      message: redact(x.message).slice(0, 500),
    });
  }
  const stack =
    error instanceof Error && withStack && error.stack ? redact(error.stack).slice(0, 4_000) : undefined;
  return { chain, ...(stack ? { stack } : {}) };
}
