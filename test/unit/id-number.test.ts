import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHARED_CASES } from '../support/shared-cases';
import { ageOn, checkCharacter, checkIdNumber, makeIdNumber, maskIdNumber } from '../../domain/id-number';

describe('resident ID numbers (GB 11643-1999)', () => {
  it('the standard example 11010519491231002X is valid: born 1949-12-31, female, check character X', () => {
    expect(checkIdNumber('11010519491231002X')).toEqual({
      ok: true,
      idNumber: '11010519491231002X',
      regionCode: '110105',
      birthDate: '1949-12-31',
      sex: 'female',
      document: 'resident-id-card',
      normalised: false,
    });
  });

  it('an odd sequence digit means male', () => {
    const id = makeIdNumber('440783', '1960-01-01', 1);
    expect(id).toBe('440783196001010015');
    expect(checkIdNumber(id)).toMatchObject({ ok: true, sex: 'male', birthDate: '1960-01-01' });
  });

  it('full-width digits, a lower-case x and spaces from a spreadsheet are normalised and said so', () => {
    expect(checkIdNumber('１１０１０５１９４９１２３１００２x')).toMatchObject({
      ok: true,
      idNumber: '11010519491231002X',
      normalised: true,
    });
    expect(checkIdNumber(' 11010519491231002x ')).toMatchObject({
      ok: true,
      idNumber: '11010519491231002X',
      normalised: true,
    });
  });

  it.each([
    ['', 'empty'],
    ['   ', 'empty'],
    ['110105491231002', 'old-15-digit-number'],
    ['1101051949123100', 'wrong-length'],
    ['1101051949123100211', 'wrong-length'],
    ['11010519491231002Y', 'invalid-characters'],
    ['1101051949123A002X', 'invalid-characters'],
    ['99010519491231002X', 'unknown-province'],
    ['110105194902300025', 'invalid-birth-date'],
    ['110105202302290000', 'invalid-birth-date'],
    ['110105188001010010', 'invalid-birth-date'],
    ['110105194912310021', 'check-digit-mismatch'],
  ])('%j is rejected as %s', (raw, reason) => {
    expect(checkIdNumber(raw)).toMatchObject({ ok: false, reason });
  });

  it('a mistyped check character names the expected one', () => {
    expect(checkIdNumber('110105194912310021')).toMatchObject({ ok: false, expectedCheck: 'X' });
  });

  it('2024-02-29 is a real birth date; 2023-02-29 is not', () => {
    expect(checkIdNumber(makeIdNumber('511402', '2024-02-29', 2))).toMatchObject({
      ok: true,
      birthDate: '2024-02-29',
    });
    expect(checkIdNumber('51140220230229002X')).toMatchObject({ ok: false, reason: 'invalid-birth-date' });
  });

  it('century years: 2000-02-29 was a real day, 1900-02-29 was not; months and days stay in range', () => {
    expect(checkIdNumber(makeIdNumber('511402', '2000-02-29', 7))).toMatchObject({ ok: true });
    const first17 = (date: string) => `511402${date}007`;
    for (const date of ['19000229', '19991301', '19990001', '19990100', '19990431']) {
      const id = first17(date);
      expect(checkIdNumber(id + checkCharacter(id))).toMatchObject({
        ok: false,
        reason: 'invalid-birth-date',
      });
    }
  });

  it('a birth date after the as-of date is rejected', () => {
    const id = makeIdNumber('440784', '2024-03-01', 4);
    expect(checkIdNumber(id, '2024-02-29')).toMatchObject({ ok: false, reason: 'birth-date-in-future' });
    expect(checkIdNumber(id, '2024-03-01')).toMatchObject({ ok: true });
  });

  it('a masked number keeps the region and the last four characters only', () => {
    expect(maskIdNumber('11010519491231002X')).toBe('110105********002X');
  });

  it('age is counted in whole years; a leap-day birthday turns over on 1 March', () => {
    expect(ageOn('1964-01-01', '2024-01-01')).toBe(60);
    expect(ageOn('1964-01-02', '2024-01-01')).toBe(59);
    expect(ageOn('2020-02-29', '2023-02-28')).toBe(2);
    expect(ageOn('2020-02-29', '2023-03-01')).toBe(3);
  });

  it('residence permits of Hong Kong, Macao and Taiwan residents (810000, 820000, 830000) are valid numbers', () => {
    for (const region of ['810000', '820000', '830000']) {
      const id = makeIdNumber(region, '1990-01-01', 8);
      expect(checkIdNumber(id, '2024-08-31')).toMatchObject({ ok: true, document: 'residence-permit' });
    }
    // 83 with another region code is no permit: no province code
    expect(checkIdNumber(makeIdNumber('831234', '1990-01-01', 8))).toMatchObject({
      ok: false,
      reason: 'unknown-province',
    });
  });

  it("the 2023 foreigners' permanent residence ID (9, province, nationality) is valid; 9 with no province is not", () => {
    const id = makeIdNumber('944840', '1990-01-01', 1);
    expect(checkIdNumber(id, '2024-08-31')).toMatchObject({
      ok: true,
      document: 'foreigner-permanent-residence',
    });
    expect(checkIdNumber(makeIdNumber('900840', '1990-01-01', 1))).toMatchObject({
      ok: false,
      reason: 'unknown-province',
    });
  });

  it('the shared ID vectors give the outcome their file says is right', () => {
    const vectors = JSON.parse(readFileSync(join(SHARED_CASES, 'id-vectors.json'), 'utf8')) as {
      vectors: { id: string; right: string }[];
    };
    expect(vectors.vectors.length).toBeGreaterThanOrEqual(5);
    for (const v of vectors.vectors) {
      if (v.right.startsWith('valid'))
        expect(checkIdNumber(v.id, '2024-08-31'), v.id).toMatchObject({ ok: true });
    }
  });

  it('zero-width and no-break spaces around or inside a pasted number are taken off', () => {
    expect(checkIdNumber('\u200b440783196001010015\u00a0')).toMatchObject({ ok: true, normalised: true });
    expect(checkIdNumber('\ufeff４４０７８３１９６００１０１００１５')).toMatchObject({
      ok: true,
      idNumber: '440783196001010015',
    });
  });
});
