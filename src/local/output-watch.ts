import { StringDecoder } from 'node:string_decoder';

/**
 * Watches a child process's output stream for `pattern`: `onMatch` runs once,
 * the first time it appears, however the stream happens to be cut into chunks
 * (a line split over two reads is still seen). `tail()` is the stream's last
 * `keep` characters, for a message when the child fails.
 */
export function watchOutput(pattern: RegExp, onMatch: () => void, keep = 8192): { write(chunk: Buffer | string): void; tail(): string } {
  const decoder = new StringDecoder('utf8');
  let tail = '';
  let matched = false;
  return {
    write(chunk) {
      tail = (tail + (typeof chunk === 'string' ? chunk : decoder.write(chunk))).slice(-keep);
      if (!matched && pattern.test(tail)) {
        matched = true;
        onMatch();
      }
    },
    tail: () => tail,
  };
}
