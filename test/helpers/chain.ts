import { x509 } from '../../src/pki/x509.js';

/**
 * What is wrong with a device certificate's chain to its root at time `at`
 * (nothing: an empty list): each certificate names its issuer's subject and
 * key identifier, is signed by its issuer's key and is valid at `at`; the
 * issuers are CAs and the device certificate is not. For use-case tests; the
 * certificate profile itself is checked with openssl (-x509_strict) in the
 * profile tests.
 */
export async function chainProblems(chain: { root: string; ca: string; pem: string }, at: Date = new Date()): Promise<string[]> {
  const [root, ca, device] = [chain.root, chain.ca, chain.pem].map((pem) => new x509.X509Certificate(pem)) as [x509.X509Certificate, x509.X509Certificate, x509.X509Certificate];
  const problems: string[] = [];
  const links: Array<[string, x509.X509Certificate, x509.X509Certificate]> = [
    ['device', device, ca],
    ['issuing CA', ca, root],
    ['root', root, root],
  ];
  for (const [what, cert, issuer] of links) {
    if (cert.issuer !== issuer.subject) problems.push(`${what}: issuer ${cert.issuer} is not ${issuer.subject}`);
    const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
    const ski = issuer.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    if (cert !== root && (!aki || aki !== ski)) problems.push(`${what}: authority key identifier ${aki} is not the issuer's ${ski}`);
    if (!(await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true }))) problems.push(`${what}: the signature does not verify with the issuer's key`);
    if (at < cert.notBefore || at > cert.notAfter) problems.push(`${what}: not valid at ${at.toISOString()}`);
  }
  for (const [what, cert] of [['issuing CA', ca], ['root', root]] as const) {
    if (!cert.getExtension(x509.BasicConstraintsExtension)?.ca) problems.push(`${what}: not a CA`);
  }
  if (device.getExtension(x509.BasicConstraintsExtension)?.ca) problems.push('device: is a CA');
  return problems;
}
