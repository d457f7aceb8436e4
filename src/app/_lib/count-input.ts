/**
 * A count typed into a form, as the mutation takes it: digits (with an optional sign) become a
 * BigInt of any size; anything else goes as typed, for the server's schema to refuse with its
 * own message (a form never guesses what a malformed number meant).
 */
export const countFromForm = (text: string): bigint | string => (/^[+-]?\d{1,19}$/.test(text) ? BigInt(text) : text);
