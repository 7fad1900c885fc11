/**
 * The Lambda behind each `${Placeholder}` of statemachine/conversation.asl.json. CDK builds one function per
 * entry and substitutes its ARN; the local stack maps each Task to the same module's `createHandler`. One
 * list, so the two runtimes cannot disagree about which code runs where.
 */
export interface StepFunctionSpec {
  /** The handler module, relative to the repository root. */
  entry: string;
  /**
   * Lambda timeout: a little under the Task's TimeoutSeconds in the ASL, so that Lambda ends an attempt before the
   * execution moves on to a retry or to Report failure (a late attempt would edit the thread behind the apology).
   * The Tasks' timeouts are the time budget (test/guarantees/time-budget.test.ts).
   */
  timeoutSeconds: number;
  memoryMb: number;
  /** Loads the LanceDB native module, so its bundle ships the linux-arm64 binary. */
  usesLanceDb: boolean;
  /**
   * An ES module (plain JavaScript, relative to the repository root) deployed as `init.mjs` beside the bundle and
   * made the Lambda handler (`init.handler`): it loads the bundle (`./index.js`) and can make Lambda's init wait for
   * work the module started (Retrieve's table preload; functions/retrieve-init.mjs). Without it, the handler is the
   * bundle's `handler`.
   */
  initModule?: string;
}

export const conversationFunctions = {
  LoadHistoryFunctionArn: {
    entry: 'functions/load-history.ts',
    timeoutSeconds: 4,
    memoryMb: 256,
    usesLanceDb: false,
  },
  CondenseQuestionFunctionArn: {
    entry: 'functions/condense-question.ts',
    timeoutSeconds: 13,
    memoryMb: 256,
    usesLanceDb: false,
  },
  RetrieveFunctionArn: {
    entry: 'functions/retrieve.ts',
    timeoutSeconds: 13,
    memoryMb: 1024,
    usesLanceDb: true,
    initModule: 'functions/retrieve-init.mjs',
  },
  GenerateAnswerFunctionArn: {
    entry: 'functions/generate-answer.ts',
    timeoutSeconds: 38,
    memoryMb: 512,
    usesLanceDb: false,
  },
  PersistTurnFunctionArn: {
    entry: 'functions/persist-turn.ts',
    timeoutSeconds: 4,
    memoryMb: 256,
    usesLanceDb: false,
  },
  ForgetThreadFunctionArn: {
    entry: 'functions/forget-thread.ts',
    timeoutSeconds: 7,
    memoryMb: 256,
    usesLanceDb: false,
  },
  ReportFailureFunctionArn: {
    entry: 'functions/report-failure.ts',
    timeoutSeconds: 9,
    memoryMb: 256,
    usesLanceDb: false,
  },
} as const satisfies Record<string, StepFunctionSpec>;

export type ConversationPlaceholder = keyof typeof conversationFunctions;
