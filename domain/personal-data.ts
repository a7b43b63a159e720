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
  return text.replace(PERSONAL_NUMBER, maskNumber);
}

/** A number as its first six and last four characters, the rest starred. */
function maskNumber(n: string): string {
  return `${n.slice(0, 6)}${'*'.repeat(n.length - 10)}${n.slice(-4)}`;
}

/**
 * Masks every run of 15 or more digits, ASCII or full-width (０-９, as a text typed in a Chinese input method
 * has them), the last of which may be an X, keeping the first six and the last four characters: the national
 * ID `４４０７８３１９６６０２１０００２４` → `４４０７８３********００２４`. Unlike `redact`, a run is masked whatever
 * follows it and however long it is (two IDs written together, an ID followed by letters in a file name), for
 * texts that come from a file or a department rather than from the ledger. Pure.
 */
export function maskLongDigits(text: string): string {
  return text.replace(/[0-9０-９]{14,}[0-9０-９XxＸｘ]/g, maskNumber);
}
