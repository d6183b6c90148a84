/** An error whose message is meant for the user (CLI or UI) as it stands; `code` is stable for tests. */
export class UserError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'UserError'
  }
}
