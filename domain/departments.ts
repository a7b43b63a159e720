/**
 * Departments' names in the documents' words, for what people read (trails, timelines, reports). The
 * certifying departments are named by the policy (`departments[].name`); the tax and finance bureaus, which
 * every plan names the same way, are named here.
 */
import type { Policy } from './policy';

const FIXED: Record<string, string> = {
  tax: '税务局',
  finance: '财政局',
  'certifying-departments': '认定部门',
  'medical-security': '医疗保障局',
};

/**
 * The Chinese name of a department id: the policy's name for a certifying department, the fixed name of the
 * tax and finance bureaus, else the id itself. Pure.
 */
export function departmentName(id: string, policy?: Pick<Policy, 'departments'>): string {
  return policy?.departments.find((d) => d.id === id)?.name ?? FIXED[id] ?? id;
}
