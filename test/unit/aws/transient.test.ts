import { describe, expect, it } from '@jest/globals';
import { ConditionalCheckFailedException, DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { isTransientAwsError } from '../../../src/aws/transient.js';
import { signerError } from '../../../src/kms/kms-signer.js';
import { iotError } from '../../../src/iot/iot-registrar.js';
import { keyAdminError } from '../../../src/kms/kms-key-manager.js';
import { storeError } from '../../../src/store/dynamo-store.js';

const named = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`${name} (test)`), { name, ...extra });

/** Failures every AWS adapter must treat as "retry later", and ones it must not. */
export const TRANSIENT_CASES: Array<[string, unknown]> = [
  ['KMS throttling', named('ThrottlingException')],
  ['DynamoDB throughput', named('ProvisionedThroughputExceededException')],
  ['DynamoDB request limit', named('RequestLimitExceeded')],
  ['KMS internal', named('KMSInternalException')],
  ['KMS dependency timeout', named('DependencyTimeoutException')],
  ['AWS IoT unavailable', named('ServiceUnavailableException')],
  ['AWS IoT internal failure', named('InternalFailureException')],
  ['DynamoDB 500', new DynamoDBServiceException({ name: 'InternalServerError', $fault: 'server', $metadata: { httpStatusCode: 500 }, message: 'x' })],
  ['an unknown 503', named('SomethingNew', { $fault: 'server', $metadata: { httpStatusCode: 503 } })],
  ['an HTTP 429', named('SomethingNew', { $metadata: { httpStatusCode: 429 } })],
  ['the SDK marks it retryable', named('SomethingNew', { $retryable: {} })],
  ['the SDK timeout', named('TimeoutError')],
  ['a reset connection', named('Error', { code: 'ECONNRESET' })],
  ['a DNS failure', named('Error', { code: 'EAI_AGAIN' })],
  ['a socket hang up', new Error('socket hang up')],
];

export const PERMANENT_CASES: Array<[string, unknown]> = [
  ['a failed condition', new ConditionalCheckFailedException({ message: 'x', $metadata: { httpStatusCode: 400 } })],
  ['a validation error', named('ValidationException', { $fault: 'client', $metadata: { httpStatusCode: 400 } })],
  ['access denied', named('AccessDeniedException', { $fault: 'client', $metadata: { httpStatusCode: 400 } })],
  ['a disabled KMS key', named('DisabledException')],
  ['a KMS key quota', named('LimitExceededException')],
  ['a programming error', new TypeError('x is not a function')],
  ['not an error', 'boom'],
  ['null', null],
];

describe('Function: isTransientAwsError', () => {
  it.each(TRANSIENT_CASES)('says retry later for %s', (_label, e) => {
    expect(isTransientAwsError(e)).toBe(true);
  });
  it.each(PERMANENT_CASES)('says an operator is needed for %s', (_label, e) => {
    expect(isTransientAwsError(e)).toBe(false);
  });
});

describe('Every AWS adapter uses the same classification', () => {
  it.each(TRANSIENT_CASES)('KMS signer, KMS key administration, AWS IoT and DynamoDB: %s is a short retry', (_label, e) => {
    expect(signerError(e).retryAfterSeconds).toBe(2);
    expect(iotError('do it', e).code).toBe('IOT_UNAVAILABLE');
    expect(keyAdminError('do it', e).code).toBe('SIGNER_UNAVAILABLE');
    expect((storeError(e) as { code?: string }).code).toBe('STORE_UNAVAILABLE');
  });
  it.each(PERMANENT_CASES)('KMS signer, KMS key administration, AWS IoT and DynamoDB: %s is not', (_label, e) => {
    expect(signerError(e).retryAfterSeconds).toBe(30);
    expect(iotError('do it', e).code).toBe('INTERNAL');
    expect(keyAdminError('do it', e).code).toBe('INTERNAL');
    expect((storeError(e) as { code?: string }).code).toBe('INTERNAL');
  });
});
