import {
  caseVariants,
  classChar,
  classRange,
  complement,
  foldRanges,
  GENERAL_CATEGORIES,
  MAX_CODE_POINT,
  POSIX_CLASSES,
  RE2_SPACE,
  rangesBody,
} from './regex-classes.js';

/**
 * The REGEX constraint operator speaks RE2 syntax (Unleash evaluates it with re2js), but our hot
 * path should run V8's own regex engine. This file translates an RE2 pattern into an equivalent
 * JavaScript `u`-mode RegExp once, when a snapshot is compiled, and rejects what RE2 rejects
 * (look-around, back-references, `\C`, repetition counts over 1000). A rejected pattern makes the
 * constraint never match, which is what the specification asks of an invalid regex.
 *
 * Where the two dialects differ, the translation spells out RE2's meaning: `.` excludes only `\n`,
 * `\s` is the ASCII set `[\t\n\f\r ]`, `(?m)` anchors see only `\n` as a line end, `\A`/`\z` are
 * text anchors, POSIX classes (`[[:alpha:]]`) become ranges, and `(?U)` swaps greediness. Inline
 * flags that cover the whole pattern (`^(?i)abc$`) become a JS flag; flags that switch case
 * sensitivity part-way are expanded into case-folded character classes, since Node 20 has no
 * scoped modifiers.
 */

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  U: boolean;
}

class Re2Rejected extends Error {}

const MAX_REPEAT = 1000;
const JS_SYNTAX = new Set('^$\\.*+?()[]{}|/');

class Translator {
  private pos = 0;
  private out = '';
  /** Whether a case-sensitive atom was seen under `i`, and under not-`i`. */
  sawFolded = false;
  sawExact = false;

  constructor(
    private readonly src: string,
    private readonly expandCase: boolean,
    private readonly initialFold: boolean,
  ) {}

  translate(): string {
    const stack: { flags: Flags; outStart: number }[] = [];
    let flags: Flags = { i: this.initialFold, m: false, s: false, U: false };
    let atomStart = -1;
    let atomIsAssertion = false;
    const src = this.src;
    while (this.pos < src.length) {
      const start = this.out.length;
      const c = src[this.pos] as string;
      let assertion = false;
      let repeatable = true;
      if (c === '\\') {
        assertion = this.escape(flags);
      } else if (c === '.') {
        this.pos++;
        this.out += flags.s ? '[\\s\\S]' : '[^\\n]';
      } else if (c === '^' || c === '$') {
        this.pos++;
        if (c === '^') this.out += flags.m ? '(?<![^\\n])' : '^';
        else this.out += flags.m ? '(?![^\\n])' : '$';
        assertion = true;
      } else if (c === '(') {
        const opened = this.openGroup(flags);
        if (opened === undefined) {
          repeatable = false;
        } else {
          stack.push({ flags, outStart: start });
          flags = opened;
          atomStart = -1;
          continue;
        }
      } else if (c === ')') {
        const group = stack.pop();
        if (group === undefined) throw new Re2Rejected('unexpected )');
        this.pos++;
        this.out += ')';
        flags = group.flags;
        atomStart = group.outStart;
        atomIsAssertion = false;
        continue;
      } else if (c === '|') {
        this.pos++;
        this.out += '|';
        repeatable = false;
      } else if (c === '*' || c === '+' || c === '?' || (c === '{' && this.repeatAhead())) {
        if (atomStart < 0) throw new Re2Rejected('missing argument to repetition operator');
        if (atomIsAssertion) {
          this.out = `${this.out.slice(0, atomStart)}(?:${this.out.slice(atomStart)})`;
        }
        this.out += this.quantifier(flags);
        atomStart = -1;
        continue;
      } else if (c === '[') {
        this.characterClass(flags);
      } else {
        const cp = src.codePointAt(this.pos) as number;
        this.pos += cp > 0xffff ? 2 : 1;
        this.literal(cp, flags);
      }
      atomStart = repeatable ? start : -1;
      atomIsAssertion = assertion;
    }
    if (stack.length > 0) throw new Re2Rejected('missing )');
    return this.out;
  }

  /** Emits a group opener and returns its flags, or applies `(?flags)` and returns undefined. */
  private openGroup(flags: Flags): Flags | undefined {
    const rest = this.src.slice(this.pos);
    if (!rest.startsWith('(?')) {
      this.pos++;
      this.out += '(';
      return { ...flags };
    }
    const named = /^\(\?P?<([A-Za-z0-9_]+)>/.exec(rest);
    if (named) {
      this.pos += named[0].length;
      this.out += `(?<${named[1]}>`;
      return { ...flags };
    }
    const modifiers = /^\(\?([imsU]*(?:-[imsU]*)?)([:)])/.exec(rest);
    if (!modifiers || modifiers[1] === '' || (modifiers[1] as string).endsWith('-')) {
      if (rest.startsWith('(?:')) {
        this.pos += 3;
        this.out += '(?:';
        return { ...flags };
      }
      throw new Re2Rejected(`unsupported group ${rest.slice(0, 4)}`);
    }
    const next = { ...flags };
    let on = true;
    for (const m of modifiers[1] as string) {
      if (m === '-') on = false;
      else next[m as keyof Flags] = on;
    }
    this.pos += modifiers[0].length;
    if (modifiers[2] === ')') {
      Object.assign(flags, next);
      return undefined;
    }
    this.out += '(?:';
    return next;
  }

  private repeatAhead(): boolean {
    return /^\{\d+(?:,\d*)?\}/.test(this.src.slice(this.pos, this.pos + 16));
  }

  private quantifier(flags: Flags): string {
    const src = this.src;
    let text: string;
    const c = src[this.pos] as string;
    if (c === '{') {
      const match = /^\{(\d+)(?:(,)(\d*))?\}/.exec(src.slice(this.pos)) as RegExpExecArray;
      const min = Number(match[1]);
      const max = match[2] === undefined ? min : match[3] === '' ? Infinity : Number(match[3]);
      if (min > MAX_REPEAT || (max !== Infinity && (max > MAX_REPEAT || max < min))) {
        throw new Re2Rejected('bad repetition count');
      }
      text = match[0];
      this.pos += text.length;
    } else {
      text = c;
      this.pos++;
    }
    let lazy = src[this.pos] === '?';
    if (lazy) this.pos++;
    if (flags.U) lazy = !lazy;
    return lazy ? `${text}?` : text;
  }

  private literal(cp: number, flags: Flags): void {
    const variants = caseVariants(cp);
    if (variants.length > 0) {
      if (flags.i) this.sawFolded = true;
      else this.sawExact = true;
    }
    if (this.expandCase && flags.i && variants.length > 0) {
      this.out += `[${classChar(cp)}${variants.map(classChar).join('')}]`;
      return;
    }
    const char = String.fromCodePoint(cp);
    this.out += JS_SYNTAX.has(char) ? `\\${char}` : char;
  }

  /** Parses an escape outside a class; returns whether it was a zero-width assertion. */
  private escape(flags: Flags): boolean {
    const d = this.src[this.pos + 1];
    if (d === undefined) throw new Re2Rejected('trailing backslash');
    switch (d) {
      case 'd':
      case 'D':
      case 'w':
      case 'W':
        this.pos += 2;
        this.out += `\\${d}`;
        return false;
      case 's':
      case 'S':
        this.pos += 2;
        this.out += `[${d === 'S' ? '^' : ''}${rangesBody(RE2_SPACE)}]`;
        return false;
      case 'b':
      case 'B':
        this.pos += 2;
        this.out += `\\${d}`;
        return true;
      case 'A':
      case 'z':
        this.pos += 2;
        this.out += d === 'A' ? '(?<![\\s\\S])' : '(?![\\s\\S])';
        return true;
      case 'p':
      case 'P':
        this.out += this.unicodeClass(flags, false);
        return false;
      case 'Q': {
        const end = this.src.indexOf('\\E', this.pos + 2);
        const quoted = this.src.slice(this.pos + 2, end === -1 ? undefined : end);
        this.pos = end === -1 ? this.src.length : end + 2;
        for (const char of quoted) this.literal(char.codePointAt(0) as number, flags);
        return false;
      }
      default:
        this.literal(this.escapedChar(), flags);
        return false;
    }
  }

  /** Parses an escape denoting one character (octal, hex, control, punctuation). */
  private escapedChar(): number {
    const src = this.src;
    const d = src[this.pos + 1] as string;
    const controls: Record<string, number> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };
    if (d in controls) {
      this.pos += 2;
      return controls[d] as number;
    }
    if (d >= '0' && d <= '7') {
      const octal = /^[0-7]{1,3}/.exec(src.slice(this.pos + 1, this.pos + 4)) as RegExpExecArray;
      // A lone \1..\7 is a back-reference in Perl; RE2 refuses it rather than misread it.
      if (d !== '0' && octal[0].length === 1) throw new Re2Rejected('back-reference');
      this.pos += 1 + octal[0].length;
      return parseInt(octal[0], 8);
    }
    if (d === 'x') {
      const braced = /^\{([0-9A-Fa-f]{1,6})\}/.exec(src.slice(this.pos + 2));
      const hex = braced ?? /^([0-9A-Fa-f]{2})/.exec(src.slice(this.pos + 2));
      if (!hex) throw new Re2Rejected('bad \\x escape');
      const cp = parseInt(hex[1] as string, 16);
      if (cp > MAX_CODE_POINT) throw new Re2Rejected('bad \\x escape');
      this.pos += 2 + hex[0].length;
      return cp;
    }
    if (d.charCodeAt(0) < 0x80 && !/[0-9A-Za-z]/.test(d)) {
      this.pos += 2;
      return d.charCodeAt(0);
    }
    throw new Re2Rejected(`invalid escape \\${d}`);
  }

  /** `\pL`, `\p{Greek}`, `\p{^Lu}`, `\PN`: as a standalone atom, or as a class item. */
  private unicodeClass(flags: Flags, inClass: boolean): string {
    const src = this.src;
    let negate = src[this.pos + 1] === 'P';
    let name: string;
    if (src[this.pos + 2] === '{') {
      const end = src.indexOf('}', this.pos + 3);
      if (end === -1) throw new Re2Rejected('bad \\p');
      name = src.slice(this.pos + 3, end);
      this.pos = end + 1;
    } else {
      name = src[this.pos + 2] ?? '';
      this.pos += 3;
    }
    if (name.startsWith('^')) {
      negate = !negate;
      name = name.slice(1);
    }
    if (!/^[A-Za-z_]+$/.test(name)) throw new Re2Rejected('bad \\p');
    if (flags.i) this.sawFolded = true;
    else this.sawExact = true;
    if (name === 'Any') {
      if (inClass) return negate ? '' : classRange(0, MAX_CODE_POINT);
      return negate ? '[^\\s\\S]' : '[\\s\\S]';
    }
    const property = GENERAL_CATEGORIES.has(name) ? name : `Script=${name}`;
    return `\\${negate ? 'P' : 'p'}{${property}}`;
  }

  private characterClass(flags: Flags): void {
    const src = this.src;
    this.pos++;
    const negate = src[this.pos] === '^';
    if (negate) this.pos++;
    const items: string[] = [];
    const ranges: (readonly [number, number])[] = [];
    let first = true;
    for (;;) {
      const c = src[this.pos];
      if (c === undefined) throw new Re2Rejected('missing ]');
      if (c === ']' && !first) {
        this.pos++;
        break;
      }
      first = false;
      if (c === '[' && src[this.pos + 1] === ':') {
        const posix = /^\[:(\^?)([a-z]+):\]/.exec(src.slice(this.pos));
        const set = posix ? POSIX_CLASSES[posix[2] as string] : undefined;
        if (posix && set) {
          ranges.push(...(posix[1] === '^' ? complement(set) : set));
          this.pos += posix[0].length;
          continue;
        }
      }
      if (c === '\\') {
        const d = src[this.pos + 1];
        if (d === 'd' || d === 'D' || d === 'w' || d === 'W') {
          items.push(`\\${d}`);
          this.pos += 2;
          continue;
        }
        if (d === 's' || d === 'S') {
          ranges.push(...(d === 's' ? RE2_SPACE : complement(RE2_SPACE)));
          this.pos += 2;
          continue;
        }
        if (d === 'p' || d === 'P') {
          items.push(this.unicodeClass(flags, true));
          continue;
        }
      }
      const lo = this.classMember();
      if (src[this.pos] === '-' && src[this.pos + 1] !== ']' && src[this.pos + 1] !== undefined) {
        this.pos++;
        const hi = this.classMember();
        if (hi < lo) throw new Re2Rejected('bad character class range');
        ranges.push([lo, hi]);
      } else {
        ranges.push([lo, lo]);
      }
    }
    if (flags.i) this.sawFolded = true;
    else this.sawExact = true;
    if (this.expandCase && flags.i) ranges.push(...foldRanges(ranges));
    this.out += `[${negate ? '^' : ''}${rangesBody(ranges)}${items.join('')}]`;
  }

  private classMember(): number {
    if (this.src[this.pos] === '\\') return this.escapedChar();
    const cp = this.src.codePointAt(this.pos) as number;
    this.pos += cp > 0xffff ? 2 : 1;
    return cp;
  }
}

/**
 * Compiles an RE2 pattern to a RegExp with RE2's meaning, for an unanchored search (`find`).
 * Returns undefined when RE2 would reject the pattern.
 */
export function compileRe2(pattern: string, caseInsensitive = false): RegExp | undefined {
  try {
    const plain = new Translator(pattern, false, caseInsensitive);
    const source = plain.translate();
    if (!(plain.sawFolded && plain.sawExact)) {
      return new RegExp(source, plain.sawFolded ? 'iu' : 'u');
    }
    return new RegExp(new Translator(pattern, true, caseInsensitive).translate(), 'u');
  } catch {
    return undefined;
  }
}
