import type { CaRecord, CaStore } from './ports.js';

/** The root CA's id. */
export const ROOT_CA_ID = 'root-1';
/** Issuing CAs are numbered 1, 2, 3… in rotation order. */
export const issuingCaId = (generation: number): string => `issuing-${generation}`;

/** Every issuing CA record: generations 1, 2, … and the active one (which may predate numbering). */
export async function issuingCaRecords(store: Pick<CaStore, 'getCa'>, activeId: string | undefined): Promise<CaRecord[]> {
  const out: CaRecord[] = [];
  for (let g = 1; ; g++) {
    const r = await store.getCa(issuingCaId(g));
    if (!r) break;
    out.push(r);
  }
  if (activeId && !out.some((r) => r.id === activeId)) {
    const active = await store.getCa(activeId);
    if (active) out.push(active);
  }
  return out;
}
