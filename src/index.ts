export type {
  Backend,
  BackendCapabilities,
  BackendObserveOptions,
  CallContext,
  ClaimOutcome,
  ClaimRequest,
  LeaderInfo,
  ObservedTerm,
  TermRef,
  TxnRequest,
} from "./backend.ts";
export { decodeBase64, encodeBase64 } from "./base64.ts";
export { type Clock, systemClock } from "./clock.ts";
export { type Elector, type ElectorOptions, startElector } from "./elector.ts";
export {
  AuthError,
  HttpStatusError,
  InvalidArgumentError,
  isLeaseError,
  LeaseError,
  type LeaseErrorCode,
  LeaseLostError,
  LeaseTimeoutError,
  MalformedResponseError,
  TransportError,
  UnsupportedError,
} from "./errors.ts";
export {
  deadlineSignal,
  type FetchTransportOptions,
  fetchTransport,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
  type Transport,
  toTransportError,
} from "./http.ts";
export { type CallOptions, createLease, type Lease, type LeaseState } from "./lease.ts";
export { MAX_HOLDER_LENGTH, MAX_NAME_LENGTH, validateHolder, validateName } from "./names.ts";
export {
  type LeaderChange,
  type ObserveError,
  type ObserveEvent,
  type ObserveMode,
  type ObserveModeChange,
  type ObserveOptions,
  observe,
} from "./observe.ts";
export { type LeaseOptions, type LeaseRuleOptions, validateLeaseOptions } from "./options.ts";
export { decodeHolderRecord, encodeHolderRecord, type HolderRecord } from "./record.ts";
export { keepTerm, type TermEnd } from "./term.ts";
export {
  assertNoWritesUnder,
  type Bytes,
  bytesToText,
  type Compare,
  type CompareOp,
  type CompareTarget,
  compareMatches,
  type KeyValue,
  MAX_TXN_OPS,
  type NormalizedCompare,
  type NormalizedOp,
  type NotAppliedReason,
  normalizeTxn,
  type OpResult,
  type TxnOp,
  type TxnOutcome,
  toBytes,
} from "./txn.ts";
