const DAY_MS = 86_400_000;

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/**
 * notBefore is backdated for clock skew, but never before the issuer's own
 * notBefore (a certificate lies within its issuer's validity); notAfter is
 * notBefore plus the validity but never after the issuer's notAfter. Times are
 * whole seconds, as X.509 encodes them. An issuer that has expired gives a
 * notAfter at or before `now`: the caller must not issue with it.
 */
export function deviceValidity(now: Date, validityDays: number, backdateSeconds: number, issuerNotAfter: Date, issuerNotBefore?: Date): Validity {
  const floorSeconds = (d: Date) => Math.floor(d.getTime() / 1000) * 1000;
  const nb = Math.max(floorSeconds(now) - backdateSeconds * 1000, issuerNotBefore ? Math.ceil(issuerNotBefore.getTime() / 1000) * 1000 : -Infinity);
  const na = Math.min(nb + validityDays * DAY_MS, floorSeconds(issuerNotAfter));
  return { notBefore: new Date(nb), notAfter: new Date(na) };
}
