import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { renderError } from '../../../src/http/errors.js';
import { parseCsr } from '../../../src/pki/csr.js';
import { CsrError, PkiError } from '../../../src/pki/errors.js';
import { EST_MAX_BODY_BYTES, decodeEstBase64, encodeEstBase64 } from '../../../src/pki/est.js';
import { buildCsrDer } from '../../helpers/csr-builder.js';
import { thrownError } from '../../helpers/errors.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const CSR = buildCsrDer();
const B64 = Buffer.from(CSR).toString('base64');
/** `B64` cut into lines of `width` characters joined by `eol`. */
const lines = (width: number, eol: string) => B64.match(new RegExp(`.{1,${width}}`, 'g'))!.join(eol);

/** The CsrError `fn` throws. */
const refusalOf = (fn: () => unknown): CsrError => thrownError(fn, CsrError);

describe('Function: decodeEstBase64', () => {
  it.each([
    ['on one line', B64],
    ['in 64-character lines with CRLF', `${lines(64, '\r\n')}\r\n`],
    ['in 64-character lines with LF', `${lines(64, '\n')}\n`],
    ['in 76-character lines (MIME) with CRLF', lines(76, '\r\n')],
    ['with spaces and tabs', ` ${lines(16, ' ')}\t`],
    ['after blank lines', `\r\n\r\n${lines(64, '\r\n')}\r\n\r\n`],
  ])('takes the base64 of a CSR %s', (_, body) => {
    const der = decodeEstBase64(body);
    expect(hex(der)).toBe(hex(CSR));
    expect(parseCsr(der).subject.der).toBeDefined();
  });

  it('takes the body as bytes, as an HTTP layer has it', () => {
    expect(hex(decodeEstBase64(new TextEncoder().encode(`${lines(64, '\r\n')}\r\n`)))).toBe(hex(CSR));
    // A view into a larger buffer: only its own bytes count.
    const framed = Buffer.from(`xx${B64}yy`, 'latin1');
    expect(hex(decodeEstBase64(framed.subarray(2, framed.length - 2)))).toBe(hex(CSR));
  });

  it('decodes padding (=, ==) and bytes of every value', () => {
    for (const size of [1, 2, 3, 4, 5, 255, 256]) {
      const data = randomBytes(size);
      expect(hex(decodeEstBase64(data.toString('base64')))).toBe(hex(data));
    }
  });

  it.each([
    ['an empty string', ''],
    ['only whitespace', ' \r\n\t \r\n'],
    ['no bytes', new Uint8Array(0)],
  ])('refuses %s as an empty body', (_, body) => {
    const e = refusalOf(() => decodeEstBase64(body));
    expect(e.code).toBe('CSR_MALFORMED');
    expect(e.message).toContain('the request body is empty');
  });

  it.each([
    ['a PEM block', `-----BEGIN CERTIFICATE REQUEST-----\n${lines(64, '\n')}\n-----END CERTIFICATE REQUEST-----\n`],
    ['base64url', B64.replace(/\+/g, '-').replace(/\//g, '_') + '-_'],
    ['a missing padding character', B64.replace(/=+$/, '').slice(0, -1)],
    ['padding in the middle', `AA==${B64}`],
    ['three padding characters', 'A==='],
    ['a length not a multiple of four', 'QUJD\r\nR'],
    ['a character outside the alphabet', `${B64.slice(0, 10)}!${B64.slice(11)}`],
    ['a byte order mark', `\uFEFF${B64}`],
    ['a non-breaking space', `${B64.slice(0, 4)}\u00a0${B64.slice(4)}`],
    ['JSON', JSON.stringify({ csr: B64 })],
    ['DER bytes', CSR],
    ['bytes outside ASCII', Uint8Array.from([0x4d, 0x49, 0x49, 0xc3])],
  ])('refuses %s as not base64', (_, body) => {
    const e = refusalOf(() => decodeEstBase64(body));
    expect(e.code).toBe('CSR_MALFORMED');
    expect(e.message).toBe('The CSR could not be parsed: the request body is not base64; EST carries the CSR as base64-encoded DER (RFC 8951)');
  });

  it('refuses a body over the size limit, counted before decoding, whitespace included', () => {
    const body = `${lines(64, '\r\n')}\r\n`;
    expect(hex(decodeEstBase64(body, body.length))).toBe(hex(CSR));
    const e = refusalOf(() => decodeEstBase64(body, body.length - 1));
    expect(e.code).toBe('CSR_MALFORMED');
    expect(e.message).toBe(`The CSR could not be parsed: the request body is ${body.length} bytes long; at most ${body.length - 1} are accepted`);
    expect(() => decodeEstBase64(new TextEncoder().encode(body), body.length - 1)).toThrow(CsrError);
  });

  it('takes 64 KiB by default and no more', () => {
    expect(EST_MAX_BODY_BYTES).toBe(65_536);
    const largest = 'A'.repeat(EST_MAX_BODY_BYTES);
    expect(decodeEstBase64(largest)).toHaveLength((EST_MAX_BODY_BYTES / 4) * 3);
    expect(refusalOf(() => decodeEstBase64(`${largest}\n`)).message).toContain('at most 65536 are accepted');
  });

  it('returns bytes or throws CSR_MALFORMED, nothing else, for any text or bytes', () => {
    const check = (body: string | Uint8Array) => {
      try {
        expect(decodeEstBase64(body, 512)).toBeInstanceOf(Uint8Array);
      } catch (e) {
        expect(e).toBeInstanceOf(CsrError);
        expect((e as CsrError).code).toBe('CSR_MALFORMED');
      }
    };
    fc.assert(fc.property(fc.string({ maxLength: 600 }), check), { numRuns: 1000 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), check), { numRuns: 1000 });
    fc.assert(fc.property(fc.stringMatching(/^[A-Za-z0-9+\/= \r\n]{0,80}$/), check), { numRuns: 1000 });
  });

  it('refuses with a PKI error the HTTP layer answers with 400 CSR_MALFORMED', () => {
    const e = refusalOf(() => decodeEstBase64('%%%%'));
    expect(e).toBeInstanceOf(PkiError);
    const rendered = renderError(e);
    expect(rendered.statusCode).toBe(400);
    expect(rendered.body.error.code).toBe('CSR_MALFORMED');
  });
});

describe('Function: encodeEstBase64', () => {
  it('writes lines of 64 characters, each ending with CRLF', () => {
    const text = encodeEstBase64(CSR);
    expect(text.endsWith('\r\n')).toBe(true);
    const body = text.slice(0, -2).split('\r\n');
    expect(body.slice(0, -1).every((line) => line.length === 64)).toBe(true);
    expect(body.at(-1)!.length).toBeGreaterThan(0);
    expect(body.at(-1)!.length).toBeLessThanOrEqual(64);
    expect(text.replace(/\r\n/g, '')).toBe(B64);
    expect(text).not.toMatch(/[^\r]\n/);
  });

  it.each([
    [0, ''],
    [1, 'AA==\r\n'],
    [48, `${'A'.repeat(64)}\r\n`],
    [49, `${'A'.repeat(64)}\r\nAA==\r\n`],
  ])('encodes %i zero bytes as %j', (size, text) => {
    expect(encodeEstBase64(new Uint8Array(size))).toBe(text);
  });

  it('encodes only the bytes of a view', () => {
    const framed = Uint8Array.from([9, 9, 1, 2, 3, 9]);
    expect(encodeEstBase64(framed.subarray(2, 5))).toBe('AQID\r\n');
  });

  it('is read back by decodeEstBase64', () => {
    for (const size of [1, 47, 48, 49, 1000, 4096]) {
      const data = randomBytes(size);
      expect(hex(decodeEstBase64(encodeEstBase64(data)))).toBe(hex(data));
    }
  });
});
