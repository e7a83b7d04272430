export { alwaysLeader } from "./always-leader.ts";
export { type FakeClock, fakeClock } from "./fake-clock.ts";
export { type MemoryBackend, type MemoryBackendOptions, memoryBackend } from "./memory-backend.ts";
