const DAY_MS = 86_400_000;

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/**
 * notBefore is backdated for clock skew; notAfter is notBefore plus the validity
 * but never after the issuer's notAfter. Times are whole seconds, as X.509 encodes them.
 */
export function deviceValidity(now: Date, validityDays: number, backdateSeconds: number, issuerNotAfter: Date): Validity {
  const nb = Math.floor(now.getTime() / 1000) * 1000 - backdateSeconds * 1000;
  const na = Math.min(nb + validityDays * DAY_MS, Math.floor(issuerNotAfter.getTime() / 1000) * 1000);
  return { notBefore: new Date(nb), notAfter: new Date(na) };
}
