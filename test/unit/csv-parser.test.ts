import { describe, expect, it } from 'vitest';
import {
  CsvRowParser,
  CsvSyntaxError,
  detectDelimiter,
  MAX_RECORD_CHARS,
  type RawRow,
} from '../../lists/list-files';

function parseInChunks(text: string, size: number, delimiter = ',') {
  const parser = new CsvRowParser(delimiter);
  const out: RawRow[] = [];
  for (let i = 0; i < text.length; i += size) parser.push(text.slice(i, i + size), out);
  parser.end(out);
  // a CSV cell is always text: no row marks a cell as an Excel number
  for (const row of out) expect(row.numeric).toEqual([]);
  return out.map(({ rowNo, line, cells }) => ({ rowNo, line, cells }));
}

describe('reading CSV the way departments write it (RFC 4180)', () => {
  const text =
    '姓名,身份证号码,户籍地址\r\n关伟,440783196001010015,"开平市赤坎镇, 中华东路1号"\r\n"李""小""明",440783196001010023,"两行\n地址"\r\n\r\n谢芳,44078319600101003X,\r\n';
  const expected = [
    { rowNo: 1, line: 1, cells: ['姓名', '身份证号码', '户籍地址'] },
    { rowNo: 2, line: 2, cells: ['关伟', '440783196001010015', '开平市赤坎镇, 中华东路1号'] },
    { rowNo: 3, line: 3, cells: ['李"小"明', '440783196001010023', '两行\n地址'] },
    { rowNo: 4, line: 5, cells: [''] },
    { rowNo: 5, line: 6, cells: ['谢芳', '44078319600101003X', ''] },
  ];

  it('quoted commas, doubled quotes and line breaks inside quotes stay in their field; row numbers count records as Excel shows them, lines count lines', () => {
    expect(parseInChunks(text, 1 << 20)).toEqual(expected);
  });

  it('the same rows come out whatever the chunk boundaries, even inside quotes', () => {
    for (const size of [1, 2, 3, 5, 7, 13]) expect(parseInChunks(text, size)).toEqual(expected);
  });

  it('a last row without a line break is not lost', () => {
    expect(parseInChunks('a,b\n1,2', 3)).toEqual([
      { rowNo: 1, line: 1, cells: ['a', 'b'] },
      { rowNo: 2, line: 2, cells: ['1', '2'] },
    ]);
  });
});

/** The error a text gives, whatever the chunk boundaries (the same for every chunk size). */
function syntaxError(text: string, delimiter = ','): { code: string; line: number } {
  const seen = new Set<string>();
  let last: { code: string; line: number } | undefined;
  for (const size of [1, 3, 7, 1 << 20]) {
    try {
      parseInChunks(text, size, delimiter);
      throw new Error(`no error with chunks of ${size}`);
    } catch (error) {
      if (!(error instanceof CsvSyntaxError)) throw error;
      last = { code: error.code, line: error.line };
      seen.add(JSON.stringify(last));
    }
  }
  expect(seen.size).toBe(1);
  return last!;
}

describe('CSV as offices save it: strict about what cannot be read right, naming the line', () => {
  it('a quote that opens a cell and never closes refuses the file, naming the line it opened on', () => {
    const text =
      '姓名,身份证号码\r\n关伟,440783196001010015\r\n谢芳,440783196001010023\r\n"李明,440783196001010031\r\n王五,1\r\n';
    expect(syntaxError(text)).toEqual({ code: 'unclosed-quote', line: 4 });
  });

  it('text after a closing quote in the same cell is refused, naming its line', () => {
    expect(syntaxError('a,b\n"x"y,1\n')).toEqual({ code: 'text-after-quote', line: 2 });
  });

  it('a NUL or another control byte gives the line it is on, even past the first lines', () => {
    const lines = Array.from({ length: 3000 }, (_, i) => `名${i},440783196001010015`);
    lines[2500] = '名\u0000,440783196001010015';
    expect(syntaxError(`姓名,身份证号码\n${lines.join('\n')}\n`)).toEqual({
      code: 'control-character',
      line: 2502,
    });
    expect(syntaxError('a,b\r\nc\u0008,d\r\n')).toEqual({ code: 'control-character', line: 2 });
    expect(syntaxError('a,b\rc,d\re\u001b,f\r')).toEqual({ code: 'control-character', line: 3 });
  });

  it('a row longer than any list row is refused rather than read into memory', () => {
    expect(syntaxError(`a,b\n1,${'x'.repeat(MAX_RECORD_CHARS + 10)}\n`)).toEqual({
      code: 'line-too-long',
      line: 2,
    });
  });

  it('bare CR (old Mac Excel), CRLF and LF line ends give the same rows, whatever the chunks', () => {
    const rows = [
      ['姓名', '类别'],
      ['关伟', '1'],
      ['谢芳', '2'],
    ];
    for (const end of ['\r', '\n', '\r\n']) {
      const text = rows.map((r) => r.join(',')).join(end) + end;
      for (const size of [1, 2, 5, 1 << 20])
        expect(parseInChunks(text, size).map((r) => r.cells)).toEqual(rows);
    }
    expect(parseInChunks('a\r\rb\r', 1).map((r) => [r.rowNo, r.line, r.cells])).toEqual([
      [1, 1, ['a']],
      [2, 2, ['']],
      [3, 3, ['b']],
    ]);
  });

  it('semicolon and tab delimited files read with their own delimiter; quotes hold it', () => {
    expect(parseInChunks('姓名;地址\n关伟;"赤坎镇; 1号"\n', 3, ';').map((r) => r.cells)).toEqual([
      ['姓名', '地址'],
      ['关伟', '赤坎镇; 1号'],
    ]);
    expect(parseInChunks('姓名\t地址\n关伟\t赤坎镇, 1号\n', 2, '\t').map((r) => r.cells)).toEqual([
      ['姓名', '地址'],
      ['关伟', '赤坎镇, 1号'],
    ]);
  });

  it('the delimiter is the one that splits the lines into columns; a file with none is refused by name', () => {
    expect(detectDelimiter('序号,姓名,身份证号码,类别\n1,关伟,"赤坎镇;1号",1\n', 'a.csv')).toBe(',');
    expect(detectDelimiter('序号;姓名;身份证号码;类别\n1;关伟;"赤坎镇,1号";1\n', 'a.csv')).toBe(';');
    expect(detectDelimiter('序号\t姓名\t身份证号码\t类别\n1\t关伟, 等\t4407\t1\n', 'a.csv')).toBe('\t');
    expect(() => detectDelimiter('这不是名单\n只是一段文字\n', 'note.txt')).toThrow(
      /note\.txt, line 1: no delimiter found: .*comma \(,\), a semicolon \(;\) or a tab/,
    );
  });
});
