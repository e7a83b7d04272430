/**
 * `leasehold/backend`: what a backend author needs to implement the `Backend` contract (src/backend.ts): the
 * request and answer types, the deadline and transport-error helpers, the words for a failure (its reason, a
 * foreign answer's summary, which statuses are retryable), base64, the holder record, name validation, the txn
 * normaliser and evaluator, the answer-size cap and secret redaction. It also re-exports
 * everything `leasehold` exports, so that a backend imports from one place.
 */
export type {
  BackendObserveOptions,
  CallContext,
  CampaignBackend,
  CampaignStep,
  Candidate,
  ClaimOutcome,
  ClaimRequest,
  ObservedTerm,
  TermRef,
  TransferRequest,
  TxnRequest,
} from "./backend.ts";
export { decodeBase64, encodeBase64 } from "./base64.ts";
export { isRetryableStatus, redacting, redactSecrets } from "./errors.ts";
export { connectionRefused, foreignAnswer, reasonOnly } from "./failure-reason.ts";
export { deadlineSignal, MAX_RESPONSE_BYTES, tooLarge, toTransportError, withDeadline } from "./http.ts";
export * from "./index.ts";
export { checkLeader } from "./leader-check.ts";
export { MAX_HOLDER_LENGTH, MAX_NAME_LENGTH, validateHolder, validateName } from "./names.ts";
export { decodeHolderRecord, encodeHolderRecord, type HolderRecord } from "./record.ts";
export {
  assertNoWritesUnder,
  compareMatches,
  type NormalizedCompare,
  type NormalizedOp,
  normalizeTxn,
  toBytes,
} from "./txn.ts";
