/**
 * Content negotiation on Accept (RFC 9110 §12.5.1): media ranges with q-values,
 * `type/*` and `*\/*`. Of the media types a route can answer with, the one the
 * client weighs highest wins; a tie goes to the more specific range, then to the
 * range the client listed first, then to the route's own order (JSON first). No
 * Accept, or an empty one, is the route's first type. An Accept that allows none
 * of them (or of which no element can be read) is 406 NOT_ACCEPTABLE; the
 * errors themselves are always JSON.
 */
import { HttpError } from './errors.js';

export const JSON_TYPE = 'application/json';
/** RFC 8555 §9.1: the certificate, then the certificates that chain it, as PEM. */
export const PEM_CHAIN_TYPE = 'application/pem-certificate-chain';

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
  /** 0 for *\/*, 1 for type/*, 2 for type/subtype. */
  specificity: number;
  /** Its place in the header. */
  order: number;
}

const TOKEN = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** Splits at `separator` outside double-quoted strings. */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted && c === '\\') {
      current += c + (text[++i] ?? '');
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === separator && !quoted) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

/** The media ranges of an Accept value that can be read; the others are left out. */
export function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const [order, element] of splitOutsideQuotes(header, ',').entries()) {
    const [range = '', ...params] = splitOutsideQuotes(element, ';');
    const [type = '', subtype = '', extra] = range.trim().toLowerCase().split('/');
    if (extra !== undefined || !TOKEN.test(type) || !TOKEN.test(subtype) || (type === '*' && subtype !== '*')) continue;
    let q = 1;
    let readable = true;
    for (const param of params) {
      const eq = param.indexOf('=');
      const name = (eq < 0 ? param : param.slice(0, eq)).trim().toLowerCase();
      if (name !== 'q') continue; // media type parameters do not narrow what is answered here
      const value = eq < 0 ? '' : param.slice(eq + 1).trim();
      readable = QVALUE.test(value);
      q = Number(value);
      break; // what follows q is accept-ext
    }
    if (readable) ranges.push({ type, subtype, q, specificity: type === '*' ? 0 : subtype === '*' ? 1 : 2, order });
  }
  return ranges;
}

/** The range of `ranges` that decides for `offer`: the most specific that matches it, the first of those. */
function decidingRange(ranges: MediaRange[], offer: string): MediaRange | undefined {
  const [type, subtype] = offer.split('/') as [string, string];
  let best: MediaRange | undefined;
  for (const r of ranges) {
    const matches = r.specificity === 0 || (r.type === type && (r.specificity === 1 || r.subtype === subtype));
    if (matches && (!best || r.specificity > best.specificity)) best = r;
  }
  return best;
}

/** The media type to answer with, of `offers` (the route's preference first); 406 when Accept allows none. */
export function negotiate<T extends string>(accept: string | undefined, offers: readonly [T, ...T[]]): T {
  if (accept === undefined || accept.trim() === '') return offers[0];
  const ranges = parseAccept(accept);
  const chosen = offers
    .map((offer, rank) => ({ offer, rank, range: decidingRange(ranges, offer) }))
    .filter((c) => c.range !== undefined && c.range.q > 0)
    .sort((a, b) => b.range!.q - a.range!.q || b.range!.specificity - a.range!.specificity || a.range!.order - b.range!.order || a.rank - b.rank)[0];
  if (chosen) return chosen.offer;
  throw new HttpError('NOT_ACCEPTABLE', `This route answers ${offers.join(' or ')}; the Accept header allows none of them`, {
    details: [{ field: 'Accept', reason: `must allow ${offers.join(' or ')} (or be absent, for ${offers[0]})` }],
  });
}
