/** Money is integer fen (分) everywhere; yuan only at the edges, for people to read. */
export type Fen = number;

export function yuanToFen(yuan: number): Fen {
  const fen = Math.round(yuan * 100);
  if (!Number.isSafeInteger(fen)) throw new RangeError(`not an amount of money: ${yuan}`);
  return fen;
}

/** 28500 -> "285.00" */
export function formatYuan(fen: Fen): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** The share (basis points, 10000 = 100%) of an amount, rounded to the nearest fen. */
export function shareOf(amount: Fen, basisPoints: number): Fen {
  return Math.round((amount * basisPoints) / 10000);
}
