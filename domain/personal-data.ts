/**
 * Personal numbers under PIPL: national ID numbers (15 or 18 characters, an 18-digit one may end in X) and
 * bank accounts never reach a log, an error message or a workflow history in full.
 */

const PERSONAL_NUMBER = /(?<![0-9])[0-9]{14,24}[0-9Xx](?![0-9A-Za-z])/g;

/**
 * Masks every run of 15 to 25 digits in a text, keeping the first six and the last four:
 * `440783196602100024` → `440783********0024`. Pure; shapes of the rest of the text are kept.
 */
export function redact(text: string): string {
  return text.replace(PERSONAL_NUMBER, (n) => `${n.slice(0, 6)}${'*'.repeat(n.length - 10)}${n.slice(-4)}`);
}
