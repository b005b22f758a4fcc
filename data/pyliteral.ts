import { ProrecError } from '../core/errors.ts';
/**
 * A parser for Python literal lines, the format of the McAuley lab's Steam files (and of its older
 * Amazon metadata): each line is a `repr()` of a Python dict, not JSON. Strings may be single- or
 * double-quoted, carry Python 2 prefixes (u'...', b'...', r'...'), and escapes (\xNN, \uNNNN, octal);
 * constants are True/False/None. The semantics follow Python 3's `ast.literal_eval`.
 *
 * Dicts become plain objects (keys stringified), lists/tuples/sets become arrays.
 */

export type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

export class PyLiteralError extends ProrecError {
  readonly kind = 'input';
  constructor(
    readonly column: number,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`column ${column}: expected ${expected}, found ${found}`);
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  fail(expected: string): never {
    const found = this.pos >= this.s.length ? 'end of line' : JSON.stringify(this.s.slice(this.pos, this.pos + 12));
    throw new PyLiteralError(this.pos + 1, expected, found);
  }

  ws(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.pos++;
      else break;
    }
  }

  value(): PyValue {
    this.ws();
    const c = this.s[this.pos];
    if (c === '{') return this.dictOrSet();
    if (c === '[') return this.sequence('[', ']');
    if (c === '(') return this.sequence('(', ')');
    if (c === "'" || c === '"') return this.strings();
    if (c === '-' || c === '+' || c === '.' || (c >= '0' && c <= '9')) return this.number();
    const word = /^[A-Za-z_]+/.exec(this.s.slice(this.pos, this.pos + 16))?.[0] ?? '';
    if (/^[uUbBrR]{1,2}$/.test(word) && (this.s[this.pos + word.length] === "'" || this.s[this.pos + word.length] === '"')) return this.strings();
    if (word === 'True') return this.advance(4, true);
    if (word === 'False') return this.advance(5, false);
    if (word === 'None') return this.advance(4, null);
    // repr() of a float can be nan/inf, which literal_eval rejects but real dumps contain.
    if (word === 'nan') return this.advance(3, Number.NaN);
    if (word === 'inf') return this.advance(3, Number.POSITIVE_INFINITY);
    return this.fail('a Python literal (dict, list, string, number, True, False or None)');
  }

  advance<T>(n: number, v: T): T {
    this.pos += n;
    return v;
  }

  dictOrSet(): PyValue {
    this.pos++; // {
    this.ws();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return {};
    }
    const first = this.value();
    this.ws();
    if (this.s[this.pos] !== ':') {
      // A set literal.
      const items: PyValue[] = [first];
      for (;;) {
        this.ws();
        if (this.s[this.pos] === '}') {
          this.pos++;
          return items;
        }
        if (this.s[this.pos] !== ',') this.fail("',' or '}' in a set");
        this.pos++;
        this.ws();
        if (this.s[this.pos] === '}') continue;
        items.push(this.value());
      }
    }
    const out: { [key: string]: PyValue } = {};
    let key = first;
    for (;;) {
      this.ws();
      if (this.s[this.pos] !== ':') this.fail("':' after a dict key");
      this.pos++;
      const v = this.value();
      out[typeof key === 'string' ? key : String(key)] = v;
      this.ws();
      const c = this.s[this.pos];
      if (c === '}') {
        this.pos++;
        return out;
      }
      if (c !== ',') this.fail("',' or '}' in a dict");
      this.pos++;
      this.ws();
      if (this.s[this.pos] === '}') {
        this.pos++;
        return out;
      }
      key = this.value();
    }
  }

  sequence(open: string, close: string): PyValue[] {
    this.pos++; // open
    const out: PyValue[] = [];
    for (;;) {
      this.ws();
      if (this.s[this.pos] === close) {
        this.pos++;
        return out;
      }
      out.push(this.value());
      this.ws();
      const c = this.s[this.pos];
      if (c === close) {
        this.pos++;
        return out;
      }
      if (c !== ',') this.fail(`',' or '${close}'`);
      this.pos++;
    }
  }

  /** One or more adjacent string literals (Python concatenates them). */
  strings(): string {
    let out = this.string();
    for (;;) {
      const save = this.pos;
      this.ws();
      const rest = this.s.slice(this.pos, this.pos + 3);
      if (/^([uUbBrR]{0,2})['"]/.test(rest)) out += this.string();
      else {
        this.pos = save;
        return out;
      }
    }
  }

  string(): string {
    const s = this.s;
    let raw = false;
    while (/[uUbBrR]/.test(s[this.pos])) {
      if (s[this.pos] === 'r' || s[this.pos] === 'R') raw = true;
      this.pos++;
    }
    const q = s[this.pos];
    if (q !== "'" && q !== '"') this.fail('a quote');
    const triple = s.startsWith(q + q + q, this.pos);
    const quote = triple ? q + q + q : q;
    this.pos += quote.length;
    let out = '';
    let chunkStart = this.pos;
    for (;;) {
      if (this.pos >= s.length) this.fail(`the closing ${quote}`);
      const c = s[this.pos];
      if (c === q && (!triple || s.startsWith(quote, this.pos))) {
        out += s.slice(chunkStart, this.pos);
        this.pos += quote.length;
        return out;
      }
      if (c === '\\') {
        out += s.slice(chunkStart, this.pos);
        if (raw) {
          // In raw strings a backslash stays, and only protects the next character from ending the string.
          out += s.slice(this.pos, this.pos + 2);
          this.pos += 2;
        } else out += this.escape();
        chunkStart = this.pos;
        continue;
      }
      if (!triple && c === '\n') this.fail(`the closing ${quote} before the line ends`);
      this.pos++;
    }
  }

  escape(): string {
    const s = this.s;
    const e = s[this.pos + 1];
    if (e === undefined) this.fail('an escape character after \\');
    if (e in SIMPLE_ESCAPES) {
      this.pos += 2;
      return SIMPLE_ESCAPES[e];
    }
    if (e === '\n') {
      this.pos += 2;
      return '';
    }
    const hex = (len: number): string => {
      const digits = s.slice(this.pos + 2, this.pos + 2 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(digits)) this.fail(`${len} hex digits after \\${e}`);
      this.pos += 2 + len;
      return String.fromCodePoint(parseInt(digits, 16));
    };
    if (e === 'x') return hex(2);
    if (e === 'u') return hex(4);
    if (e === 'U') return hex(8);
    if (e >= '0' && e <= '7') {
      const m = /^[0-7]{1,3}/.exec(s.slice(this.pos + 1, this.pos + 4))![0];
      this.pos += 1 + m.length;
      return String.fromCharCode(parseInt(m, 8));
    }
    // Python keeps unknown escapes as written (backslash included).
    this.pos += 2;
    return '\\' + e;
  }

  number(): number {
    const m = /^[-+]?(?:(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][-+]?\d+)?|0[xX][0-9a-fA-F]+|inf|nan)[lLjJ]?/.exec(this.s.slice(this.pos));
    if (!m || m[0] === '' || m[0] === '-' || m[0] === '+') return this.fail('a number');
    let text = m[0].replace(/_/g, '');
    if (/[jJ]$/.test(text)) this.fail('a real number (complex numbers are not supported)');
    text = text.replace(/[lL]$/, ''); // Python 2 long
    this.pos += m[0].length;
    const sign = text.startsWith('-') ? -1 : 1;
    const body = text.replace(/^[-+]/, '');
    if (body === 'inf') return sign * Number.POSITIVE_INFINITY;
    if (body === 'nan') return Number.NaN;
    if (/^0[xX]/.test(body)) return sign * parseInt(body.slice(2), 16);
    const v = Number(body);
    if (Number.isNaN(v)) this.fail('a number');
    return sign * v;
  }
}

/** Parses one Python literal (the whole string must be consumed, surrounding spaces aside). */
export function parsePyLiteral(text: string): PyValue {
  const p = new Parser(text);
  const v = p.value();
  p.ws();
  if (p.pos !== text.length) p.fail('the end of the literal');
  return v;
}
