// The CLI's error funnel (see main.ts): an ExitError has already been explained to the user.
export class ExitError extends Error {
  constructor(readonly exitCode: number, message = '') {
    super(message);
    this.name = 'ExitError';
  }
}

/** A problem the user can fix: printed as one or two sentences, exit code 1. */
export class UserError extends Error {
  constructor(message: string, readonly hint?: string, readonly exitCode = 1) {
    super(message);
    this.name = 'UserError';
  }
}
