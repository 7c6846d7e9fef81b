import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parsePolicy, type Policy } from '../../../src/pki/policy.js';
import {
  coherenceProblems,
  MAX_TEMPLATE_BODY_CHARS,
  parseTemplate,
  previewProvisioning,
  TemplateConfigError,
  type ProvisioningTemplate,
} from '../../../src/provisioning/template.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

const TEMPLATE_TEXT = readFileSync(new URL('../../../config/jitp-template.json', import.meta.url), 'utf8');
const POLICY_TEXT = readFileSync(new URL('../../../config/policy.json', import.meta.url), 'utf8');
const VARS = { organization: 'Example Corp' };

const shippedTemplateDoc = (): Doc => JSON.parse(TEMPLATE_TEXT) as Doc;
const shippedPolicyDoc = (): Doc => JSON.parse(POLICY_TEXT) as Doc;
const shippedPolicy: Policy = parsePolicy(shippedPolicyDoc(), VARS);

/** The shipped template document changed by `edit` (not parsed). */
function templateWith(edit: (doc: Doc) => void): Doc {
  const doc = shippedTemplateDoc();
  edit(doc);
  return doc;
}

/** The shipped policy document changed by `edit`, parsed. */
function policyWith(edit: (doc: Doc) => void): Policy {
  const doc = shippedPolicyDoc();
  edit(doc);
  return parsePolicy(doc, VARS);
}

/** The problems of the TemplateConfigError `source` is refused with (fails the test if it is accepted). */
function problemsOf(source: unknown): string[] {
  try {
    parseTemplate(source);
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateConfigError);
    expect((e as Error).name).toBe('TemplateConfigError');
    const problems = (e as TemplateConfigError).problems;
    expect((e as Error).message).toBe(`Invalid provisioning template:\n  - ${problems.join('\n  - ')}`);
    return problems;
  }
  throw new Error('expected a TemplateConfigError, but the template was accepted');
}

const CERTIFICATE_ID = 'a3f1c9e0b7d24f6a8e5c1b2d3f4a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6';
const SUBJECT = { C: 'US', O: 'Example Corp', CN: 'device-0001' };

const policyStatements = (doc: Doc): Doc[] => doc.Resources.policy.Properties.PolicyDocument.Statement as Doc[];

describe('Function: parseTemplate', () => {
  describe('with the shipped template', () => {
    const template = parseTemplate(shippedTemplateDoc());

    it('serialises it into one JSON string AWS IoT accepts', () => {
      // Assess
      expect(typeof template.body).toBe('string');
      expect(template.body.length).toBeLessThanOrEqual(MAX_TEMPLATE_BODY_CHARS);
      expect(MAX_TEMPLATE_BODY_CHARS).toBe(10_240);
      const body = JSON.parse(template.body) as Doc;
      expect(Object.keys(body)).toEqual(['Parameters', 'Resources']);
      expect(Object.keys(body.Resources)).toEqual(['thing', 'certificate', 'policy']);
    });

    it('writes the policy document as a JSON string inside the body (escaped)', () => {
      // Act
      const body = JSON.parse(template.body) as Doc;
      const policyDocument = body.Resources.policy.Properties.PolicyDocument as unknown;

      // Assess
      expect(typeof policyDocument).toBe('string');
      expect(JSON.parse(policyDocument as string)).toEqual(shippedTemplateDoc().Resources.policy.Properties.PolicyDocument);
      expect(template.body).toContain('"PolicyDocument":"{\\"Version\\":\\"2012-10-17\\"');
      expect(template.document.Resources.policy!.Properties.PolicyDocument).toBe(policyDocument);
    });

    it('leaves the $comment out of the body', () => {
      // Assess
      expect(shippedTemplateDoc()).toHaveProperty('$comment');
      expect(template.body).not.toContain('$comment');
      expect(template.document).not.toHaveProperty('$comment');
    });

    it('lists the declared parameters', () => {
      // Assess
      expect(template.parameters).toEqual(['AWS::IoT::Certificate::CommonName', 'AWS::IoT::Certificate::Country', 'AWS::IoT::Certificate::Id']);
    });

    it('keeps the thing resource settings other than Properties (OverrideSettings)', () => {
      // Assess
      const body = JSON.parse(template.body) as Doc;
      expect(body.Resources.thing.OverrideSettings).toEqual({ AttributePayload: 'MERGE', ThingTypeName: 'REPLACE', ThingGroups: 'DO_NOTHING' });
    });

    it('does not change the source document', () => {
      // Prepare
      const source = shippedTemplateDoc();

      // Act
      parseTemplate(source);

      // Assess
      expect(source).toEqual(shippedTemplateDoc());
    });
  });

  it('accepts a policy document already written as a JSON string', () => {
    // Prepare
    const source = templateWith((doc) => {
      doc.Resources.policy.Properties.PolicyDocument = JSON.stringify(doc.Resources.policy.Properties.PolicyDocument);
    });

    // Act
    const template = parseTemplate(source);

    // Assess
    expect(template.body).toBe(parseTemplate(shippedTemplateDoc()).body);
  });

  it('accepts a template without a policy resource', () => {
    // Prepare
    const source = templateWith((doc) => {
      delete doc.Resources.policy;
    });

    // Act
    const template = parseTemplate(source);

    // Assess
    expect(Object.keys(template.document.Resources)).toEqual(['thing', 'certificate']);
  });

  describe('body length', () => {
    /** The shipped template with a thing attribute `pad` of `n` characters. */
    const padded = (n: number) =>
      templateWith((doc) => {
        doc.Resources.thing.Properties.AttributePayload.pad = 'a'.repeat(n);
      });
    const baseLength = parseTemplate(padded(0)).body.length;

    it(`accepts a body of exactly ${MAX_TEMPLATE_BODY_CHARS} characters`, () => {
      // Act
      const template = parseTemplate(padded(MAX_TEMPLATE_BODY_CHARS - baseLength));

      // Assess
      expect(template.body.length).toBe(MAX_TEMPLATE_BODY_CHARS);
    });

    it(`refuses a body of ${MAX_TEMPLATE_BODY_CHARS + 1} characters`, () => {
      // Act
      const problems = problemsOf(padded(MAX_TEMPLATE_BODY_CHARS + 1 - baseLength));

      // Assess
      expect(problems).toEqual([`the serialised template is ${MAX_TEMPLATE_BODY_CHARS + 1} characters; AWS IoT accepts at most ${MAX_TEMPLATE_BODY_CHARS}`]);
    });

    it('refuses a template whose long attribute value makes the body too long', () => {
      // Act
      const problems = problemsOf(padded(11_000));

      // Assess
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^the serialised template is \d+ characters; AWS IoT accepts at most 10240$/);
    });

    it('counts the escaping of the policy document towards the limit', () => {
      // Prepare: a policy document that fits as an object but not once escaped into the body
      const topics = Array.from({ length: 130 }, (_, i) => `arn:aws:iot:*:*:topic/"t${i}"/\${iot:Connection.Thing.ThingName}`);
      const source = templateWith((doc) => {
        delete doc.$comment;
        policyStatements(doc)[1]!.Resource = topics;
      });

      // Act
      const problems = problemsOf(source);

      // Assess
      expect(JSON.stringify(source).length).toBeLessThanOrEqual(MAX_TEMPLATE_BODY_CHARS);
      expect(problems).toEqual([expect.stringContaining('the serialised template is')]);
    });
  });

  describe('refuses', () => {
    it.each<[string, unknown]>([
      ['null', null],
      ['an array', []],
      ['a string', TEMPLATE_TEXT],
      ['a number', 42],
    ])('%s instead of an object', (_case, source) => {
      // Act
      const problems = problemsOf(source);

      // Assess
      expect(problems).toEqual(['the template must be a JSON object with Parameters and Resources']);
    });

    it('an unknown top-level key', () => {
      // Act
      const problems = problemsOf(
        templateWith((doc) => {
          doc.Outputs = {};
        }),
      );

      // Assess
      expect(problems).toEqual(['unknown top-level key "Outputs"']);
    });

    it('Parameters and Resources that are not objects', () => {
      // Act
      const problems = problemsOf({ Parameters: [], Resources: 'thing' });

      // Assess
      expect(problems).toEqual(['Parameters must be an object', 'Resources must be an object']);
    });

    it('a parameter AWS IoT does not supply (AWS::IoT::Certificate::Email)', () => {
      // Act
      const problems = problemsOf(
        templateWith((doc) => {
          doc.Parameters['AWS::IoT::Certificate::Email'] = { Type: 'String' };
        }),
      );

      // Assess
      expect(problems).toEqual([expect.stringMatching(/^Parameters\.AWS::IoT::Certificate::Email: JITP supplies only /)]);
      expect(problems[0]).toContain('AWS::IoT::Certificate::SerialNumber');
    });

    it('a parameter that is not { "Type": "String" }', () => {
      // Act
      const problems = problemsOf(
        templateWith((doc) => {
          doc.Parameters['AWS::IoT::Certificate::Country'] = { Type: 'Number' };
        }),
      );

      // Assess
      expect(problems).toEqual(['Parameters.AWS::IoT::Certificate::Country: must be { "Type": "String" }']);
    });

    it('a template without the AWS::IoT::Certificate::Id parameter', () => {
      // Act
      const problems = problemsOf(
        templateWith((doc) => {
          delete doc.Parameters['AWS::IoT::Certificate::Id'];
        }),
      );

      // Assess
      expect(problems).toEqual([expect.stringContaining('AWS::IoT::Certificate::Id must be declared')]);
    });

    it('a Ref to an undeclared parameter', () => {
      // Act
      const problems = problemsOf(
        templateWith((doc) => {
          doc.Resources.thing.Properties.AttributePayload.serial = { Ref: 'AWS::IoT::Certificate::SerialNumber' };
        }),
      );

      // Assess
      expect(problems).toEqual([
        'Resources.thing.Properties.AttributePayload.serial: Ref to undeclared parameter "AWS::IoT::Certificate::SerialNumber"',
      ]);
    });

    it('an unsupported intrinsic function (Fn::Sub)', () => {
      // Act
      const problems = problemsOf(
        templateWith((doc) => {
          doc.Resources.thing.Properties.ThingName = { 'Fn::Sub': 'device-${AWS::IoT::Certificate::CommonName}' };
        }),
      );

      // Assess
      expect(problems).toEqual(['Resources.thing.Properties.ThingName: Fn::Sub is not supported here (use Ref and Fn::Join)']);
    });

    it('a malformed Fn::Join', () => {
      // Act
      const problems = problemsOf(
        templateWith((doc) => {
          doc.Resources.thing.Properties.ThingName = { 'Fn::Join': ['-', { Ref: 'AWS::IoT::Certificate::CommonName' }] };
        }),
      );

      // Assess
      expect(problems).toEqual([expect.stringContaining('Fn::Join takes ["delimiter", [values…]]')]);
    });

    it.each<[string, (s: Doc) => void, string]>([
      ['allows iot:*', (s) => void (s.Action = 'iot:*'), 'allows every action ("*" or "iot:*")'],
      ['allows the action "*"', (s) => void (s.Action = ['iot:Connect', '*']), 'allows every action ("*" or "iot:*")'],
      ['allows the resource "*"', (s) => void (s.Resource = '*'), 'allows every resource of a kind ("*")'],
      ['allows IoT:* (actions are case-insensitive)', (s) => void (s.Action = 'IoT:*'), 'allows every action ("*" or "iot:*")'],
      ['allows every IoT resource by ARN', (s) => void (s.Resource = 'arn:aws:iot:*:*:*'), 'allows every resource of a kind ("arn:aws:iot:*:*:*")'],
      ['allows every topic', (s) => void (s.Resource = ['arn:aws:iot:eu-west-1:111122223333:topic/*']), 'allows every resource of a kind ("arn:aws:iot:eu-west-1:111122223333:topic/*")'],
      ['uses NotAction with Allow', (s) => void (s.NotAction = 'iot:Publish'), 'NotAction/NotResource with Allow grants too much'],
    ])('a policy statement that %s', (_case, edit, problem) => {
      // Prepare
      const source = templateWith((doc) => edit(policyStatements(doc)[0]!));

      // Act
      const problems = problemsOf(source);

      // Assess
      expect(problems).toEqual([`Resources.policy.Properties.PolicyDocument.Statement[0]: ${problem}`]);
    });

    it('iot:* in a policy document written as a JSON string', () => {
      // Prepare
      const source = templateWith((doc) => {
        policyStatements(doc)[2]!.Action = 'iot:*';
        doc.Resources.policy.Properties.PolicyDocument = JSON.stringify(doc.Resources.policy.Properties.PolicyDocument);
      });

      // Act
      const problems = problemsOf(source);

      // Assess
      expect(problems).toEqual(['Resources.policy.Properties.PolicyDocument.Statement[2]: allows every action ("*" or "iot:*")']);
    });

    it('drops $-comments at any depth, so they neither reach AWS IoT nor count against the limit', () => {
      // Prepare
      const source = templateWith((doc) => {
        (doc.Parameters as Record<string, unknown>).$comment = 'parameters come from the certificate';
        (doc.Resources.thing as Record<string, unknown>).$comment = 'one thing per device';
        (doc.Resources.policy.Properties.PolicyDocument as Record<string, unknown>).$comment = 'least privilege';
      });

      // Act
      const template = parseTemplate(source);

      // Assess
      expect(template.body).not.toContain('$comment');
      expect(template.body).toBe(parseTemplate(templateWith(() => undefined)).body);
    });

    it('a policy document without statements', () => {
      // Act
      const problems = problemsOf(
        templateWith((doc) => {
          doc.Resources.policy.Properties.PolicyDocument = { Version: '2012-10-17', Statement: [] };
        }),
      );

      // Assess
      expect(problems).toEqual(['Resources.policy.Properties.PolicyDocument: the policy document has no Statement']);
    });

    it('a policy document string that is not JSON', () => {
      // Act
      const problems = problemsOf(
        templateWith((doc) => {
          doc.Resources.policy.Properties.PolicyDocument = '{ "Statement": ';
        }),
      );

      // Assess
      expect(problems).toEqual(['Resources.policy.Properties.PolicyDocument is not valid JSON']);
    });

    it('a policy resource without a PolicyDocument', () => {
      // Act
      const problems = problemsOf(
        templateWith((doc) => {
          delete doc.Resources.policy.Properties.PolicyDocument;
        }),
      );

      // Assess
      expect(problems).toEqual(['Resources.policy.Properties.PolicyDocument is required']);
    });

    it('a template without a thing', () => {
      // Act
      const problems = problemsOf(
        templateWith((doc) => {
          delete doc.Resources.thing;
        }),
      );

      // Assess
      expect(problems).toEqual(['Resources: exactly one AWS::IoT::Thing is needed (found 0)']);
    });

    it('a template with two certificate resources', () => {
      // Act
      const problems = problemsOf(
        templateWith((doc) => {
          doc.Resources.another = structuredClone(doc.Resources.certificate);
        }),
      );

      // Assess
      expect(problems).toEqual(['Resources: exactly one AWS::IoT::Certificate is needed (found 2)']);
    });

    it('a template with two policy resources', () => {
      // Act
      const problems = problemsOf(
        templateWith((doc) => {
          doc.Resources.policy2 = structuredClone(doc.Resources.policy);
        }),
      );

      // Assess
      expect(problems).toEqual(['Resources: at most one AWS::IoT::Policy is supported']);
    });

    it('a resource of another type', () => {
      // Act
      const problems = problemsOf(
        templateWith((doc) => {
          doc.Resources.group = { Type: 'AWS::IoT::ThingGroup', Properties: {} };
        }),
      );

      // Assess
      expect(problems).toEqual([expect.stringMatching(/^Resources\.group: type AWS::IoT::ThingGroup is not one of AWS::IoT::Thing, /)]);
    });

    it('a resource without Properties', () => {
      // Act
      const problems = problemsOf(
        templateWith((doc) => {
          delete doc.Resources.certificate.Properties;
        }),
      );

      // Assess
      expect(problems).toEqual(['Resources.certificate: needs a Type and Properties', 'Resources: exactly one AWS::IoT::Certificate is needed (found 0)']);
    });

    it.each<[string, unknown]>([
      ['a literal id', CERTIFICATE_ID],
      ['a Ref to another parameter', { Ref: 'AWS::IoT::Certificate::CommonName' }],
      ['missing', undefined],
    ])('a certificate resource whose CertificateId is %s', (_case, certificateId) => {
      // Prepare
      const source = templateWith((doc) => {
        if (certificateId === undefined) delete doc.Resources.certificate.Properties.CertificateId;
        else doc.Resources.certificate.Properties.CertificateId = certificateId;
      });

      // Act
      const problems = problemsOf(source);

      // Assess
      expect(problems).toEqual(['the certificate resource must have CertificateId { "Ref": "AWS::IoT::Certificate::Id" }']);
    });

    it('lists every problem of the resources together', () => {
      // Prepare
      const source = templateWith((doc) => {
        doc.Resources.thing.Properties.ThingName = { 'Fn::Sub': 'x' };
        doc.Resources.certificate.Properties.CertificateId = 'fixed';
        policyStatements(doc)[0]!.Resource = '*';
      });

      // Act
      const problems = problemsOf(source);

      // Assess
      expect(problems).toHaveLength(3);
      expect(problems).toEqual(
        expect.arrayContaining([
          expect.stringContaining('Fn::Sub is not supported'),
          expect.stringContaining('CertificateId'),
          expect.stringContaining('allows every resource'),
        ]),
      );
    });
  });
});

describe('Function: coherenceProblems', () => {
  const withParameter = (name: string, attribute: string): ProvisioningTemplate =>
    parseTemplate(
      templateWith((doc) => {
        doc.Parameters[name] = { Type: 'String' };
        doc.Resources.thing.Properties.AttributePayload[attribute] = { Ref: name };
      }),
    );

  it('finds nothing wrong with the shipped template and the shipped policy', () => {
    // Act
    const problems = coherenceProblems(parseTemplate(shippedTemplateDoc()), shippedPolicy);

    // Assess
    expect(problems).toEqual([]);
  });

  it('refuses a parameter whose subject field the policy makes optional (OU)', () => {
    // Prepare
    const template = withParameter('AWS::IoT::Certificate::OrganizationalUnit', 'unit');

    // Act
    const problems = coherenceProblems(template, shippedPolicy);

    // Assess
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('AWS::IoT::Certificate::OrganizationalUnit');
    expect(problems[0]).toContain('makes OU optional');
    expect(problems[0]).toContain('make OU required or remove the parameter');
  });

  it('accepts that parameter once the policy makes OU required', () => {
    // Prepare
    const template = withParameter('AWS::IoT::Certificate::OrganizationalUnit', 'unit');
    const policy = policyWith((doc) => {
      doc.subject.attributes.OU.presence = 'required';
    });

    // Act
    const problems = coherenceProblems(template, policy);

    // Assess
    expect(problems).toEqual([]);
  });

  it('refuses a parameter whose subject field the policy forbids', () => {
    // Prepare
    const template = withParameter('AWS::IoT::Certificate::OrganizationalUnit', 'unit');
    const policy = policyWith((doc) => {
      doc.subject.attributes.OU = { presence: 'forbidden' };
    });

    // Act
    const problems = coherenceProblems(template, policy);

    // Assess
    expect(problems).toEqual([expect.stringContaining('makes OU forbidden')]);
  });

  it('refuses a parameter whose subject field the policy does not mention (serialNumber)', () => {
    // Prepare
    const template = withParameter('AWS::IoT::Certificate::SerialNumber', 'serial');
    const policy = policyWith((doc) => {
      delete doc.subject.attributes.serialNumber;
    });

    // Act
    const problems = coherenceProblems(template, policy);

    // Assess
    expect(problems).toEqual([expect.stringContaining('AWS::IoT::Certificate::SerialNumber needs serialNumber')]);
    expect(problems[0]).toContain('does not mention serialNumber');
  });

  it('refuses the shipped template against a policy that makes C optional', () => {
    // Prepare
    const policy = policyWith((doc) => {
      doc.subject.attributes.C.presence = 'optional';
    });

    // Act
    const problems = coherenceProblems(parseTemplate(shippedTemplateDoc()), policy);

    // Assess
    expect(problems).toEqual([expect.stringContaining('AWS::IoT::Certificate::Country needs C')]);
  });
});

describe('Function: previewProvisioning', () => {
  const template = parseTemplate(shippedTemplateDoc());

  it('shows what JITP creates for a certificate of the shipped template', () => {
    // Act
    const preview = previewProvisioning(template, SUBJECT, CERTIFICATE_ID);

    // Assess
    expect(preview).toMatchObject({
      thingName: 'device-0001',
      attributes: { country: 'US', provisionedBy: 'factory-ca' },
      certificateId: CERTIFICATE_ID,
      certificateStatus: 'ACTIVE',
      problems: [],
    });
    expect(preview).not.toHaveProperty('policyName');
    expect(typeof preview.policyDocument).toBe('object');
    expect(preview.policyDocument).toMatchObject({
      Version: '2012-10-17',
      Statement: expect.arrayContaining([
        expect.objectContaining({ Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}' }),
      ]),
    });
  });

  it('evaluates Fn::Join with Refs', () => {
    // Prepare
    const joined = parseTemplate(
      templateWith((doc) => {
        doc.Resources.thing.Properties.ThingName = {
          'Fn::Join': ['-', [{ Ref: 'AWS::IoT::Certificate::Country' }, { Ref: 'AWS::IoT::Certificate::CommonName' }]],
        };
        doc.Resources.thing.Properties.AttributePayload.label = { 'Fn::Join': ['', ['cert:', { Ref: 'AWS::IoT::Certificate::Id' }]] };
      }),
    );

    // Act
    const preview = previewProvisioning(joined, SUBJECT, CERTIFICATE_ID);

    // Assess
    expect(preview.thingName).toBe('US-device-0001');
    expect(preview.attributes.label).toBe(`cert:${CERTIFICATE_ID}`);
    expect(preview.problems).toEqual([]);
  });

  it('shows the policy name the template gives', () => {
    // Prepare
    const named = parseTemplate(
      templateWith((doc) => {
        doc.Resources.policy.Properties.PolicyName = 'factory-ca-device';
      }),
    );

    // Act
    const preview = previewProvisioning(named, SUBJECT, CERTIFICATE_ID);

    // Assess
    expect(preview.policyName).toBe('factory-ca-device');
  });

  it('shows the certificate status the template sets', () => {
    // Prepare
    const pending = parseTemplate(
      templateWith((doc) => {
        doc.Resources.certificate.Properties.Status = 'PENDING_ACTIVATION';
      }),
    );

    // Act
    const preview = previewProvisioning(pending, SUBJECT, CERTIFICATE_ID);

    // Assess
    expect(preview.certificateStatus).toBe('PENDING_ACTIVATION');
  });

  it('has no policy when the template has no policy resource', () => {
    // Prepare
    const noPolicy = parseTemplate(
      templateWith((doc) => {
        delete doc.Resources.policy;
      }),
    );

    // Act
    const preview = previewProvisioning(noPolicy, SUBJECT, CERTIFICATE_ID);

    // Assess
    expect(preview).not.toHaveProperty('policyDocument');
    expect(preview).not.toHaveProperty('policyName');
    expect(preview.problems).toEqual([]);
  });

  it('reports a common name that is not a valid thing name', () => {
    // Act
    const preview = previewProvisioning(template, { ...SUBJECT, CN: 'device 0001' }, CERTIFICATE_ID);

    // Assess
    expect(preview.thingName).toBe('device 0001');
    expect(preview.problems).toEqual(['thing name "device 0001" is not a valid AWS IoT thing name']);
  });

  it('reports a thing attribute value AWS IoT refuses', () => {
    // Prepare
    const withOrganization = parseTemplate(
      templateWith((doc) => {
        doc.Parameters['AWS::IoT::Certificate::Organization'] = { Type: 'String' };
        doc.Resources.thing.Properties.AttributePayload.organization = { Ref: 'AWS::IoT::Certificate::Organization' };
      }),
    );

    // Act
    const preview = previewProvisioning(withOrganization, SUBJECT, CERTIFICATE_ID);

    // Assess
    expect(preview.attributes.organization).toBe('Example Corp');
    expect(preview.problems).toEqual(['thing attribute organization="Example Corp" has characters AWS IoT refuses']);
  });

  it('reports a subject field a parameter needs but the certificate lacks', () => {
    // Act
    const preview = previewProvisioning(template, { O: 'Example Corp', CN: 'device-0001' }, CERTIFICATE_ID);

    // Assess
    expect(preview.problems).toEqual(['the certificate has no C, which parameter AWS::IoT::Certificate::Country needs']);
    expect(preview.attributes.country).toBe('');
  });
});
