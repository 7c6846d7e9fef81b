#!/usr/bin/env bash
# Regenerates the CSRs embedded in factory-ca.postman_collection.json (its csr* and
# cn* collection variables) with openssl, as a factory station would make them:
# EC P-256 keys, subjects /C=US/O=<organization>/CN=<cn>. The private keys are
# thrown away: the collection needs only the requests.
#
#   postman/make-csrs.sh [cn-prefix]
#
# CNs are <prefix>-a (csrA, and csrDuplicateA with another key), <prefix>-b (csrB),
# <prefix>-c (csrC, revoked by the collection) and <prefix>-policy (csrPolicyViolation).
#
# Pick a prefix no ledger has seen. A stack that issued the previous csrA keeps its
# CN: a new csrA with the same CN (but a new key) would get 409 DUPLICATE_COMMON_NAME
# there. Hence the default, postman-<6 random hex digits>.
#
# ORGANIZATION (default "Example Corp") must match the stack's ORGANIZATION setting.
set -euo pipefail
cd "$(dirname "$0")"

prefix=${1:-postman-$(openssl rand -hex 3)}
if ! [[ $prefix =~ ^[A-Za-z0-9:_-]{1,56}$ ]]; then
  echo "cn-prefix must match ^[A-Za-z0-9:_-]{1,56}\$ (the policy's CN pattern, leaving room for a suffix)" >&2
  exit 2
fi
org=${ORGANIZATION:-Example Corp}
other_org="Not $org"
collection=factory-ca.postman_collection.json

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

csr() { # name, subject
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/$1.key" \
    -subj "$2" -out "$tmp/$1.csr" 2>/dev/null
}
csr csrA "/C=US/O=$org/CN=$prefix-a"
csr csrB "/C=US/O=$org/CN=$prefix-b"
csr csrC "/C=US/O=$org/CN=$prefix-c"
csr csrDuplicateA "/C=US/O=$org/CN=$prefix-a"
csr csrPolicyViolation "/C=US/O=$other_org/CN=$prefix-policy/emailAddress=$prefix@example.com"

TMP=$tmp PREFIX=$prefix COLLECTION=$collection node --input-type=module -e '
import { readFileSync, writeFileSync } from "node:fs";
const { TMP, PREFIX, COLLECTION } = process.env;
const c = JSON.parse(readFileSync(COLLECTION, "utf8"));
const values = {
  cnA: `${PREFIX}-a`, cnB: `${PREFIX}-b`, cnC: `${PREFIX}-c`,
  ...Object.fromEntries(["csrA", "csrB", "csrC", "csrDuplicateA", "csrPolicyViolation"]
    .map((k) => [k, readFileSync(`${TMP}/${k}.csr`, "utf8")])),
};
for (const [key, value] of Object.entries(values)) {
  const v = c.variable.find((x) => x.key === key);
  if (!v) throw new Error(`${COLLECTION} has no variable ${key}`);
  v.value = value;
}
writeFileSync(COLLECTION, JSON.stringify(c, null, 2) + "\n");
'
echo "postman/$collection: new CSRs, CNs $prefix-{a,b,c,policy}"
