import type { APIGatewayProxyEvent, Context } from 'aws-lambda';

export interface EventInit {
  method?: string;
  path?: string;
  body?: string | null;
  isBase64Encoded?: boolean;
  headers?: Record<string, string>;
  pathParameters?: Record<string, string>;
  query?: Record<string, string>;
  userArn?: string;
  /** The TLS client certificate, where API Gateway's mutual TLS puts it (requestContext.identity.clientCert). */
  clientCertPem?: string;
}

/** An API Gateway REST (v1) proxy event, as the Lambda receives it. */
export function apiEvent(init: EventInit = {}): APIGatewayProxyEvent {
  return {
    httpMethod: init.method ?? 'GET',
    path: init.path ?? '/',
    resource: init.path ?? '/',
    body: init.body ?? null,
    isBase64Encoded: init.isBase64Encoded ?? false,
    headers: init.headers ?? {},
    multiValueHeaders: {},
    pathParameters: init.pathParameters ?? null,
    queryStringParameters: init.query ?? null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {
      requestId: `req-${Math.random().toString(16).slice(2)}`,
      identity: {
        userArn: init.userArn ?? null,
        caller: null,
        sourceIp: '127.0.0.1',
        // API Gateway also sends subjectDN, issuerDN, serialNumber and validity; the service reads only the PEM.
        ...(init.clientCertPem ? { clientCert: { clientCertPem: init.clientCertPem } } : {}),
      },
    } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

export const lambdaContext = (): Context =>
  ({
    awsRequestId: `aws-${Math.random().toString(16).slice(2)}`,
    functionName: 'test',
    getRemainingTimeInMillis: () => 10_000,
  }) as unknown as Context;

export const jsonPost = (body: unknown, headers: Record<string, string> = {}) =>
  apiEvent({
    method: 'POST',
    path: '/certificates',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', ...headers },
  });
