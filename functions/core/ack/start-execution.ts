import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { ConversationInput } from '../types';

/** Starts the Express conversation state machine asynchronously: StartExecution returns as soon as it is accepted. */
export function createExecutionStarter(sfn: SFNClient, stateMachineArn: string) {
  return async (name: string, input: ConversationInput): Promise<void> => {
    await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
  };
}
