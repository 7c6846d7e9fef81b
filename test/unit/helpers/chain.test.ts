import { beforeAll, describe, expect, it } from '@jest/globals';
import { parseCsr } from '../../../src/pki/csr.js';
import { toPem } from '../../../src/pki/pem.js';
import { fastDeviceCertificate } from '../../../src/pki/fast-certificate.js';
import { deviceValidity } from '../../../src/pki/profile.js';
import { certificateParts } from '../../../src/pki/certificate.js';
import { newSerial } from '../../../src/pki/serial.js';
import { caCertificateDer } from '../../../src/service/ca-directory.js';
import type { CaRecord } from '../../../src/service/ports.js';
import { chainProblems } from '../../helpers/chain.js';
import { buildCsr, newP256Key } from '../../helpers/csr-builder.js';
import { MemoryStore } from '../../helpers/memory-store.js';
import { softwareCa, type SoftwareCa } from '../../helpers/software-ca.js';

let ca: SoftwareCa;
let device: string;
beforeAll(async () => {
  ca = await softwareCa(new MemoryStore(), { issuing: 2 });
  const issuing = ca.issuing[0]!;
  const notAfter = new Date(issuing.notAfter);
  const issuer = { subjectDer: certificateParts(caCertificateDer(issuing)).subjectDer, keyIdentifier: issuing.keyIdentifier, notAfter, signer: ca.signers.get('issuing-1')! };
  const built = await fastDeviceCertificate(parseCsr(buildCsr({ key: newP256Key() })), issuer, newSerial(), deviceValidity(new Date(), 365, 300, notAfter));
  device = toPem('CERTIFICATE', built.der);
});
const pems = (root: CaRecord, issuing: CaRecord, pem: string) => ({ root: root.certificatePem, ca: issuing.certificatePem, pem });

describe('Function: chainProblems (test helper)', () => {
  it('finds nothing wrong with a device certificate of the issuing CA, within its validity', async () => {
    expect(await chainProblems(pems(ca.root, ca.issuing[0]!, device))).toEqual([]);
  });

  it('names what is wrong: another issuing CA, a time outside the validity, a CA in the device place', async () => {
    const otherCa = await chainProblems(pems(ca.root, ca.issuing[1]!, device));
    expect(otherCa).toEqual([
      expect.stringMatching(/^device: issuer .* is not /),
      expect.stringMatching(/^device: authority key identifier/),
      'device: the signature does not verify with the issuer\'s key',
    ]);
    const late = new Date(Date.parse(ca.issuing[0]!.notAfter) + 1000);
    expect(await chainProblems(pems(ca.root, ca.issuing[0]!, device), late)).toEqual(
      expect.arrayContaining([`device: not valid at ${late.toISOString()}`, `issuing CA: not valid at ${late.toISOString()}`]),
    );
    expect(await chainProblems(pems(ca.root, ca.root, ca.issuing[0]!.certificatePem))).toContain('device: is a CA');
  });
});
