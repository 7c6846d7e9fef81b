import { describe, expect, it } from '@jest/globals';
import { describePattern } from '../../../src/pki/pattern-words.js';

describe('Function: describePattern', () => {
  it.each([
    ['^[A-Za-z0-9:_-]{1,64}$', "1 to 64 characters from A–Z, a–z, 0–9, ':', '_' or '-'"],
    ['^[A-Z]{2}$', 'exactly 2 characters from A–Z'],
    ['[A-Z]{2}', 'exactly 2 characters from A–Z'],
    ['^device-[0-9]{4}$', '"device-", then exactly 4 characters from 0–9'],
    ['^[^@]+@example\\.com$', `one or more characters other than '@', then "@example.com"`],
    ['^SN-\\d{6}$', '"SN-", then exactly 6 characters from 0–9'],
    ['^[\\w.-]{3,}$', "at least 3 characters from A–Z, a–z, 0–9, '_', '.' or '-'"],
    ['^.{1,10}$', '1 to 10 characters of any kind'],
    ['^[ab ]{0,5}$', "at most 5 characters from 'a', 'b' or space"],
    ['^x?y*$', "optionally one character from 'x', then any number of characters from 'y'"],
    ['^[a-z]+?$', 'one or more characters from a–z'],
  ])('says %s as "%s"', (pattern, words) => {
    expect(describePattern(pattern)).toBe(words);
  });

  it.each(['^(a|b)$', 'a|b', '^[a-z]+(-[a-z]+)*$', '^\\p{L}+$', '^(?=x)x$', '^\\u0041$', '^[[a]]$', '^$', '^[a-z$', '^a{2,1'])('has no words for %s', (pattern) => {
    expect(describePattern(pattern)).toBeUndefined();
  });
});
