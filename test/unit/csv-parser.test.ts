import { describe, expect, it } from 'vitest';
import { CsvRowParser, type RawRow } from '../../activities/registry/list-files';

function parseInChunks(text: string, size: number) {
  const parser = new CsvRowParser();
  const out: RawRow[] = [];
  for (let i = 0; i < text.length; i += size) parser.push(text.slice(i, i + size), out);
  parser.end(out);
  // a CSV cell is always text: no row marks a cell as an Excel number
  for (const row of out) expect(row.numeric).toEqual([]);
  return out.map(({ rowNo, cells }) => ({ rowNo, cells }));
}

describe('reading CSV the way departments write it (RFC 4180)', () => {
  const text =
    '姓名,身份证号码,户籍地址\r\n关伟,440783196001010015,"开平市赤坎镇, 中华东路1号"\r\n"李""小""明",440783196001010023,"两行\n地址"\r\n\r\n谢芳,44078319600101003X,\r\n';
  const expected = [
    { rowNo: 1, cells: ['姓名', '身份证号码', '户籍地址'] },
    { rowNo: 2, cells: ['关伟', '440783196001010015', '开平市赤坎镇, 中华东路1号'] },
    { rowNo: 3, cells: ['李"小"明', '440783196001010023', '两行\n地址'] },
    { rowNo: 5, cells: [''] },
    { rowNo: 6, cells: ['谢芳', '44078319600101003X', ''] },
  ];

  it('quoted commas, doubled quotes and line breaks inside quotes stay in their field; row numbers count lines', () => {
    expect(parseInChunks(text, 1 << 20)).toEqual(expected);
  });

  it('the same rows come out whatever the chunk boundaries, even inside quotes', () => {
    for (const size of [1, 2, 3, 5, 7, 13]) expect(parseInChunks(text, size)).toEqual(expected);
  });

  it('a last row without a line break is not lost', () => {
    expect(parseInChunks('a,b\n1,2', 3)).toEqual([
      { rowNo: 1, cells: ['a', 'b'] },
      { rowNo: 2, cells: ['1', '2'] },
    ]);
  });
});
