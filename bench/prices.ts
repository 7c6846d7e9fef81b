/**
 * Public AWS prices and quotas the cost section of `npm run bench` uses: one
 * place, one region, read on one date. On-demand list prices, no free tier, no
 * savings plans. Check the pages again before quoting a figure: prices change.
 */
export const PRICES = {
  region: 'us-east-1',
  read: '2026-11-26',
  kms: {
    /** Sign with an ECC key: "asymmetric requests except RSA 2048", per 10,000 requests. */
    asymmetricPer10k: 0.15,
    /** Each customer managed key, per month (the root and the issuing CA keys, and the issuance log's key). */
    keyMonth: 1.0,
    source: 'https://aws.amazon.com/kms/pricing/',
  },
  dynamodb: {
    /** On-demand, Standard table class: 1 WRU per started 1 KB written. */
    perMillionWru: 0.625,
    /** On-demand: a strongly consistent read is 1 RRU per started 4 KB. */
    perMillionRru: 0.125,
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  lambda: {
    /** arm64, first 7.5 billion GB-seconds a month. */
    perGbSecondArm: 0.0000133334,
    perMillionRequests: 0.2,
    source: 'https://aws.amazon.com/lambda/pricing/',
  },
  apiGateway: {
    /** REST API, first 333 million requests a month. */
    perMillionRest: 3.5,
    source: 'https://aws.amazon.com/api-gateway/pricing/',
  },
  s3: {
    /** S3 Standard: PUT, COPY, POST, LIST requests, per 1,000 (the checkpoint copies). */
    perThousandPut: 0.005,
    source: 'https://aws.amazon.com/s3/pricing/',
  },
  cloudWatchLogs: {
    /** Standard log class, data ingested. */
    perGbIngested: 0.5,
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
  privateCa: {
    /** General-purpose mode: per CA per month, and the per-certificate tiers by certificates issued that month in the region. */
    generalPurposeCaMonth: 400,
    generalPurposeTiers: [
      { upTo: 1_000, price: 0.75 },
      { upTo: 10_000, price: 0.35 },
      { upTo: Infinity, price: 0.001 },
    ],
    /** Short-lived certificate mode (certificates valid 7 days at most): per CA per month, per certificate. */
    shortLivedCaMonth: 50,
    shortLivedPerCertificate: 0.058,
    source: 'https://aws.amazon.com/private-ca/pricing/ (tiers as published in the AWS Price List, AWSCertificateManager offer, effective 2025-07-01)',
  },
} as const;

/** Default request-rate quotas (adjustable through Service Quotas), per account and region. */
export const QUOTAS = {
  /** "Cryptographic operations (ECC and SM2) request rate": Sign and Verify on every ECC key of the account share it. */
  kmsEccPerSecond: 1_000,
  kmsSource: 'https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html',
  /** "Rate of IssueCertificate requests", quota code L-CAFB4993. */
  privateCaIssuePerSecond: 25,
  privateCaSource: 'https://docs.aws.amazon.com/general/latest/gr/pca.html (Service Quotas: acm-pca L-CAFB4993)',
} as const;

/** What AWS Private CA charges for `n` certificates in one month from one general-purpose CA. */
export function privateCaMonth(n: number): { caFee: number; certificates: number; total: number } {
  let certificates = 0;
  let below = 0;
  for (const tier of PRICES.privateCa.generalPurposeTiers) {
    const inTier = Math.max(0, Math.min(n, tier.upTo) - below);
    certificates += inTier * tier.price;
    below = tier.upTo;
  }
  const caFee = PRICES.privateCa.generalPurposeCaMonth;
  return { caFee, certificates, total: caFee + certificates };
}
