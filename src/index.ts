/**
 * `leasehold`: what an application uses. What a backend author needs besides (the Backend contract's request
 * types, wire helpers, the txn normaliser) is `leasehold/backend` (src/backend-kit.ts).
 */
export type { Backend, BackendCapabilities, LeaderInfo } from "./backend.ts";
export { type Clock, systemClock } from "./clock.ts";
export { type Elector, type ElectorOptions, startElector } from "./elector.ts";
export type { Barrier } from "./elector-barrier.ts";
export type { TransferOptions } from "./elector-transfer.ts";
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
export type {
  ClaimEvent,
  DemotedEvent,
  ElectedEvent,
  ElectorEvent,
  ErrorEvent,
  LostEvent,
  ObserveModeEvent,
  RenewEvent,
} from "./events.ts";
export {
  type FetchTransportOptions,
  fetchTransport,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
  type Transport,
} from "./http.ts";
export {
  type CallOptions,
  type ClaimOptions,
  createLease,
  type Lease,
  type LeaseState,
} from "./lease.ts";
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
export { type KeptTermEnd, keepTerm, type TermEnd } from "./term.ts";
export {
  type Bytes,
  bytesToText,
  type Compare,
  type CompareOp,
  type CompareTarget,
  type KeyValue,
  MAX_TXN_OPS,
  type NotAppliedReason,
  type OpResult,
  type TxnOp,
  type TxnOutcome,
} from "./txn.ts";
