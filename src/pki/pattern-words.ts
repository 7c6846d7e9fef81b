/**
 * A policy pattern in words, for the station operator who reads a refusal: a
 * sequence of literal text and character sets with counts (`^[A-Z]{2}$`,
 * `^device-[0-9]{4}$`, `^[^@]+@example\.com$`) reads as "exactly 2 characters
 * from A–Z". Anything else (groups, alternation, lookaround, Unicode property
 * escapes…) has no words here: the policy file may then give them itself.
 */

interface SetPiece {
  kind: 'set';
  /** The characters, in words ("A–Z, a–z or '-'"); undefined for any character. */
  words: string | undefined;
  negated: boolean;
  min: number;
  max: number | undefined;
}
type Piece = { kind: 'literal'; text: string } | SetPiece;

const quote = (c: string) => (c === ' ' ? 'space' : `'${c}'`);
const list = (items: string[], last: string) => (items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} ${last} ${items.at(-1)}`);

/** Characters an escape outside or inside a class stands for, as the members of a set. */
const CLASS_ESCAPES: Record<string, string[]> = { d: ['0–9'], w: ['A–Z', 'a–z', '0–9', quote('_')] };
/** Escaped characters that stand for themselves. */
const LITERAL_ESCAPE = /^[\\^$.|?*+()[\]{}\/-]$/;

/** A bracket expression from `[` at `start`: its members in words and where it ends; undefined if it has no words. */
function readClass(s: string, start: number): { members: string[]; negated: boolean; end: number } | undefined {
  let i = start + 1;
  const negated = s[i] === '^';
  if (negated) i++;
  const members: string[] = [];
  const charAt = (): string | undefined => {
    const c = s[i];
    if (c === '\\') {
      const e = s[i + 1];
      if (e === undefined || !LITERAL_ESCAPE.test(e)) return undefined;
      i += 2;
      return e;
    }
    i++;
    return c;
  };
  while (i < s.length && s[i] !== ']') {
    if (s[i] === '\\' && CLASS_ESCAPES[s[i + 1]!]) {
      members.push(...CLASS_ESCAPES[s[i + 1]!]!);
      i += 2;
      continue;
    }
    if (s[i] === '[') return undefined; // nested sets and the v flag's syntax
    const from = charAt();
    if (from === undefined) return undefined;
    if (s[i] === '-' && s[i + 1] !== undefined && s[i + 1] !== ']') {
      i++;
      const to = charAt();
      if (to === undefined) return undefined;
      members.push(`${from}–${to}`);
    } else members.push(quote(from));
  }
  if (s[i] !== ']' || members.length === 0) return undefined;
  return { members: [...new Set(members)], negated, end: i + 1 };
}

/** A quantifier at `i`: its bounds and where it ends (a lazy `?` after it changes nothing here). */
function readQuantifier(s: string, i: number): { min: number; max: number | undefined; end: number } | undefined {
  const simple: Record<string, [number, number | undefined]> = { '?': [0, 1], '*': [0, undefined], '+': [1, undefined] };
  let q: { min: number; max: number | undefined; end: number } | undefined;
  const c = s[i];
  if (c !== undefined && simple[c]) q = { min: simple[c]![0], max: simple[c]![1], end: i + 1 };
  else {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(s.slice(i));
    if (m) q = { min: Number(m[1]), max: m[2] === undefined ? Number(m[1]) : m[3] === '' ? undefined : Number(m[3]), end: i + m[0].length };
  }
  if (q && s[q.end] === '?') q.end++;
  return q;
}

function pieces(pattern: string): Piece[] | undefined {
  let s = pattern.startsWith('^') ? pattern.slice(1) : pattern;
  if (s.endsWith('$') && !s.endsWith('\\$')) s = s.slice(0, -1);
  const out: Piece[] = [];
  for (let i = 0; i < s.length; ) {
    let set: Omit<SetPiece, 'min' | 'max'> | undefined;
    let literal: string | undefined;
    const c = s[i]!;
    if (c === '[') {
      const cls = readClass(s, i);
      if (!cls) return undefined;
      set = { kind: 'set', words: list(cls.members, 'or'), negated: cls.negated };
      i = cls.end;
    } else if (c === '\\') {
      const e = s[i + 1];
      if (e !== undefined && CLASS_ESCAPES[e]) set = { kind: 'set', words: list(CLASS_ESCAPES[e]!, 'or'), negated: false };
      else if (e !== undefined && LITERAL_ESCAPE.test(e)) literal = e;
      else return undefined;
      i += 2;
    } else if (c === '.') {
      set = { kind: 'set', words: undefined, negated: false };
      i++;
    } else if ('()|?*+{}^$]'.includes(c)) {
      return undefined;
    } else {
      literal = c;
      i++;
    }
    const q = readQuantifier(s, i);
    if (q) i = q.end;
    if (literal !== undefined && !q) {
      const last = out.at(-1);
      if (last?.kind === 'literal') last.text += literal;
      else out.push({ kind: 'literal', text: literal });
      continue;
    }
    out.push({ ...(set ?? { kind: 'set', words: quote(literal!), negated: false }), min: q?.min ?? 1, max: q ? q.max : 1 });
  }
  return out;
}

function count({ min, max }: SetPiece): string {
  const n = (k: number) => (k === 1 ? 'one character' : `${k} characters`);
  if (max === min) return min === 1 ? 'one character' : `exactly ${n(min)}`;
  if (max === undefined) return min === 0 ? 'any number of characters' : min === 1 ? 'one or more characters' : `at least ${n(min)}`;
  if (min === 0) return max === 1 ? 'optionally one character' : `at most ${n(max)}`;
  return `${min} to ${max} characters`;
}

function phrase(p: Piece): string {
  if (p.kind === 'literal') return JSON.stringify(p.text);
  if (p.words === undefined) return `${count(p)} of any kind`;
  return `${count(p)} ${p.negated ? 'other than' : 'from'} ${p.words}`;
}

/** The pattern in words, to complete "must be …"; undefined when it cannot be said simply. */
export function describePattern(pattern: string): string | undefined {
  const parts = pieces(pattern);
  if (!parts || parts.length === 0) return undefined;
  return parts.map(phrase).join(', then ');
}
