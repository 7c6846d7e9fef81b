/** What the AWS SDK fakes share: command routing typed by the commands, and clients that cannot reach AWS. */
import type { AwsCommand, AwsStub } from 'aws-sdk-client-mock';

type AnyCommand = new (...args: any[]) => AwsCommand<any, any>;
/** The input and output types of an SDK command class. */
export type InputOf<C> = C extends new (...args: infer A) => AwsCommand<any, any> ? NonNullable<A[0]> : never;
export type OutputOf<C> = C extends new (input: any) => AwsCommand<any, infer O> ? O : never;

/** The input type of each operation of a command table. */
export type CommandInputs<Commands> = { [K in keyof Commands & string]: InputOf<Commands[K]> };
/** A call that reached a fake: its operation and input. */
export type CommandCall<Commands> = { [K in keyof Commands & string]: { operation: K; input: InputOf<Commands[K]> } }[keyof Commands & string];

/**
 * A fake's handlers for a table of commands: one method per command, named as
 * the operation in lower camel case (`RegisterCACertificate` →
 * `registerCACertificate`), taking the command's input and giving its output.
 * A fake that declares `implements CommandHandlers<typeof COMMANDS>` does not
 * compile while a command of its table has no handler, or one of another shape.
 */
export type CommandHandlers<Commands extends Record<string, AnyCommand>> = {
  [K in keyof Commands & string as Uncapitalize<K>]: (input: InputOf<Commands[K]>) => OutputOf<Commands[K]> | Promise<OutputOf<Commands[K]>>;
};

/**
 * Answers each command of the table with the handler of its name, looked up at
 * call time (a test may replace one handler on the instance). Commands outside
 * the table get the stub's default behaviour.
 */
export function answerAll<Commands extends Record<string, AnyCommand>>(
  mock: AwsStub<any, any, any>,
  commands: Commands,
  handlers: CommandHandlers<Commands>,
): void {
  for (const [operation, command] of Object.entries(commands)) {
    const name = `${operation[0]!.toLowerCase()}${operation.slice(1)}` as keyof CommandHandlers<Commands>;
    mock.on(command).callsFake(async (input: unknown) => (handlers[name] as (input: unknown) => unknown).call(handlers, input));
  }
}

/**
 * Client settings that keep a client off the network: dummy credentials, one
 * attempt, and a request handler that fails if a call ever gets past the mock.
 */
export function offlineClientConfig(fake: string, region: string) {
  return {
    region,
    credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake' },
    maxAttempts: 1,
    requestHandler: {
      handle: async (): Promise<never> => {
        throw new Error(`${fake}: a request escaped the fake (no AWS calls in tests)`);
      },
      updateHttpClientConfig: () => undefined,
      httpHandlerConfigs: () => ({}),
    },
  };
}
