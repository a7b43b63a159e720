import { describe, expect, it } from 'vitest';
import { ageOn, checkCharacter, checkIdNumber, makeIdNumber, maskIdNumber } from '../../domain/id-number';

describe('resident ID numbers (GB 11643-1999)', () => {
  it('the standard example 11010519491231002X is valid: born 1949-12-31, female, check character X', () => {
    expect(checkIdNumber('11010519491231002X')).toEqual({
      ok: true,
      idNumber: '11010519491231002X',
      regionCode: '110105',
      birthDate: '1949-12-31',
      sex: 'female',
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
});
