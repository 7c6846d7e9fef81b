/**
 * The issuance log's commands: `lot report` fetches a lot's entries and their
 * proofs from the API and writes the lot report (src/log/lot-report.ts);
 * `verify-report` checks one offline with tools/verify-report.mjs, the very
 * verifier an auditor runs, so there is one implementation of the checks.
 */
import { readFileSync } from 'node:fs';
import { readLogKeyArgument, verifyReport } from '../../tools/verify-report.mjs';
import { assembleLotReport, entryOf, formatLotReport, type CertificateProof, type ProvenEntry } from '../log/lot-report.js';
import { CliError, EXIT } from './errors.js';
import { writeFileAtomic } from './files.js';
import { EXIT_OF, formatProblem, outcomeOf, problemOf, sendWithRetries, type ApiRequest } from './http.js';
import type { Io } from './io.js';
import type { Operator } from './operator.js';
import { mapLimited } from '../service/map-limited.js';

/** GET /log/proof/{serial} and GET /log/entries/{index}: an entry, its proof, and the checkpoint it proves against. */
interface ProofAnswer extends ProvenEntry {
  treeSize: number;
  checkpoint: string;
  revocation?: ProvenEntry;
}

interface LotView {
  lotId: string;
  log?: { openedIndex?: number; closedIndex?: number; logged?: number };
}

interface Page {
  items?: { serialNumber: string; certificatePem?: string; replaces?: string }[];
  next?: string;
}

const NOT_SEQUENCED = 'LOG_ENTRY_NOT_SEQUENCED';

/** A GET's JSON body; undefined for a 404 LOG_ENTRY_NOT_SEQUENCED; otherwise the problem thrown with its exit status. */
async function get<T>(op: Operator, path: string, query: ApiRequest['query'] = {}): Promise<T | undefined> {
  const answer = await sendWithRetries(op.client, { method: 'GET', path, query }, op.retry);
  const outcome = outcomeOf(answer.status);
  if (outcome === 'ok') return answer.json as T;
  const problem = problemOf(answer);
  if (answer.status === 404 && problem.code === NOT_SEQUENCED) return undefined;
  throw new CliError(EXIT_OF[outcome], `GET ${op.client.urlOf(path)}: ${formatProblem(problem)}`);
}

const notYet = (what: string, treeSize: number) =>
  new CliError(EXIT.FAILED, `${what} is not sequenced in the log's checkpoint of size ${treeSize} yet: run again once the sequencer has run (within a minute), or with a later --tree-size`);

/**
 * `factory-ca lot report LOT --out FILE [--tree-size N]`: the lot-opened entry,
 * every certificate of the lot with its issued entry (and revoked entry when
 * there is one), and the lot-closed entry once sequenced, all proven against
 * the checkpoint of size N (default: the latest). Refused when the lot-opened
 * entry or any certificate of the lot is not in that checkpoint yet.
 */
export async function lotReport(op: Operator, lotId: string, options: { out: string; treeSize?: number }): Promise<number> {
  const latest = await get<{ checkpoint: string; treeSize: number }>(op, '/log/checkpoint');
  if (!latest || !Number.isSafeInteger(latest.treeSize)) throw new CliError(EXIT.FAILED, 'the log has no checkpoint yet');
  const treeSize = options.treeSize ?? latest.treeSize;
  if (treeSize > latest.treeSize) throw new CliError(EXIT.FAILED, `the log's latest checkpoint has size ${latest.treeSize}, not ${treeSize}`);
  const at = { treeSize: String(treeSize) };
  let checkpoint = options.treeSize === undefined ? latest.checkpoint : undefined;
  /** Every proof must come with the one checkpoint. */
  const proof = (answer: ProofAnswer, what: string): ProofAnswer => {
    checkpoint ??= answer.checkpoint;
    if (answer.treeSize !== treeSize || answer.checkpoint !== checkpoint) throw new CliError(EXIT.FAILED, `the proof of ${what} is for another checkpoint (tree size ${answer.treeSize}, not ${treeSize})`);
    return answer;
  };

  const lot = await get<LotView>(op, `/lots/${encodeURIComponent(lotId)}`);
  const { openedIndex, closedIndex } = lot?.log ?? {};
  if (openedIndex === undefined || openedIndex >= treeSize) throw notYet(`the lot-opened entry of lot ${lotId}`, treeSize);
  const entryAt = async (index: number, type: string) => {
    const what = `the ${type} entry of lot ${lotId}`;
    const answer = await get<ProofAnswer>(op, `/log/entries/${index}`, at);
    if (!answer) throw notYet(what, treeSize);
    const entry = entryOf(proof(answer, what));
    if (entry.type !== type || entry.lotId !== lotId) throw new CliError(EXIT.FAILED, `leaf ${index} of the log is not ${what}`);
    return answer;
  };
  const opened = await entryAt(openedIndex, 'lot-opened');
  const closed = closedIndex !== undefined && closedIndex < treeSize ? await entryAt(closedIndex, 'lot-closed') : undefined;

  const listed = new Map<string, string>();
  let next: string | undefined;
  do {
    const page = await get<Page>(op, '/certificates', { lotId, limit: '1000', next });
    if (!page || !Array.isArray(page.items)) throw new CliError(EXIT.FAILED, 'the list answer has no items');
    // A lot's seats: a re-enrollment stays listed under its lot but took no seat (its entry has no lotSeq).
    for (const c of page.items) if (!c.replaces) listed.set(c.serialNumber, c.certificatePem ?? '');
    next = page.next || undefined;
  } while (next);

  const certificates = await mapLimited([...listed], 8, async ([serial, certificatePem]): Promise<CertificateProof> => {
    const what = `certificate ${serial} of lot ${lotId}`;
    const answer = await get<ProofAnswer>(op, `/log/proof/${serial}`, at);
    if (!answer) throw notYet(what, treeSize);
    const issued = proof(answer, what);
    const entry = entryOf(issued);
    if (entry.type !== 'issued' || entry.serialNumber !== serial || entry.lotId !== lotId) throw new CliError(EXIT.FAILED, `the log's entry for ${what} is not its issuance in the lot`);
    return { certificatePem, issued, ...(answer.revocation ? { revocation: answer.revocation } : {}) };
  });
  const seqs = certificates.map((c) => Number(entryOf(c.issued).lotSeq)).sort((a, b) => a - b);
  const gap = seqs.findIndex((s, i) => s !== i + 1);
  if (gap >= 0) throw new CliError(EXIT.FAILED, `the API listed ${seqs.length} certificates of lot ${lotId}, but not the one of lotSeq ${gap + 1}`);

  const report = assembleLotReport({ checkpoint: checkpoint!, lot: opened, ...(closed ? { closed } : {}), certificates });
  await writeFileAtomic(options.out, formatLotReport(report));
  const revoked = certificates.filter((c) => c.revocation).length;
  op.io.out(`wrote ${options.out}: lot ${lotId}, ${certificates.length} certificates (${revoked} revoked), tree size ${treeSize}, ${closed ? 'closed' : 'open'}`);
  op.io.out(`verify it with: factory-ca verify-report ${options.out} --log-key <the log's public key>`);
  return EXIT.OK;
}

/** `factory-ca verify-report FILE --log-key PUBKEY`: exit 0 and the summary, or 1 and every reason. */
export function verifyReportFile(io: Io, file: string, logKey: string): number {
  let bytes: Buffer;
  let key: string;
  try {
    bytes = readFileSync(file);
    key = readLogKeyArgument(logKey);
  } catch (e) {
    throw new CliError(EXIT.FAILED, `cannot read ${(e as NodeJS.ErrnoException).path ?? file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const verdict = verifyReport(bytes, key);
  if (verdict.ok) verdict.lines.forEach((line) => io.out(line));
  else verdict.reasons.forEach((reason) => io.err(`FAILED ${reason}`));
  return verdict.ok ? EXIT.OK : EXIT.FAILED;
}
