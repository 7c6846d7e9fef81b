/**
 * EST CSR attributes (RFC 7030 4.5.2, as clarified by RFC 8951 4): what the
 * policy asks of a certification request, in the form an EST client reads
 * before it makes one.
 *
 *   CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID
 *   AttrOrOID ::= CHOICE { oid OBJECT IDENTIFIER, attribute Attribute }
 *   Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET OF ANY }
 */
import { SIGNATURE_OID } from './algorithms.js';
import { TAG } from './der/reader.js';
import { integerFromHex, objectIdentifier, setOf, tlv } from './der/writer.js';
import { OID, type AllowedKeyType } from './keys.js';
import type { Policy } from './policy.js';

/** The named curve of each EC key type a policy can allow. */
const CURVE_OF: Partial<Record<AllowedKeyType, string>> = { EC_P256: OID.p256, EC_P384: OID.p384 };
/** The modulus size of each RSA key type a policy can allow. */
const MODULUS_BITS_OF: Partial<Record<AllowedKeyType, number>> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 };

const attribute = (type: string, values: Uint8Array[]): Uint8Array => tlv(TAG.SEQUENCE, [objectIdentifier(type), setOf(values)]);

/**
 * The CsrAttrs DER for `policy`, in this order:
 *
 * 1. the OID of each subject attribute the policy requires, in the policy's
 *    order. Only the type is named: a value the policy fixes (`value`) or a
 *    pattern cannot be said in CsrAttrs, so the client has to know it;
 * 2. the key types the policy allows, as RFC 7030 4.5.2's example does: an
 *    Attribute id-ecPublicKey whose values are the allowed named curves, and
 *    an Attribute rsaEncryption whose values are the allowed modulus sizes in
 *    bits as INTEGERs (as RFC 8295 does). EST clients generally act on the
 *    bare OIDs and treat such attributes as hints: the policy is enforced on
 *    the CSR whatever the client made of them;
 * 3. the signature algorithm the CSR is to be signed with: ecdsa-with-SHA256
 *    when an EC key is allowed, sha256WithRSAEncryption when an RSA key is.
 *
 * Each SET OF is in DER order (sorted by encoding). Throws on a key type that
 * is not one of KEY_TYPES (parsePolicy never lets one through).
 */
export function csrAttributes(policy: Policy): Uint8Array {
  const items: Uint8Array[] = [];
  for (const [oid, rule] of policy.subject.attributes) {
    if (rule.presence === 'required') items.push(objectIdentifier(oid));
  }

  const curves: string[] = [];
  const modulusBits: number[] = [];
  for (const keyType of new Set(policy.keyTypes)) {
    const curve = CURVE_OF[keyType as AllowedKeyType];
    const bits = MODULUS_BITS_OF[keyType as AllowedKeyType];
    if (curve !== undefined) curves.push(curve);
    else if (bits !== undefined) modulusBits.push(bits);
    else throw new Error(`csrAttributes: unknown key type ${keyType}`);
  }
  if (curves.length) items.push(attribute(OID.ecPublicKey, curves.map(objectIdentifier)));
  if (modulusBits.length) items.push(attribute(OID.rsaEncryption, modulusBits.map((b) => integerFromHex(b.toString(16)))));

  if (curves.length) items.push(objectIdentifier(SIGNATURE_OID.ecdsaWithSha256));
  if (modulusBits.length) items.push(objectIdentifier(SIGNATURE_OID.sha256WithRsa));
  return tlv(TAG.SEQUENCE, items);
}
