import { defineConfig } from 'vitest/config';

// Three tiers: unit (pure, seconds), integration (real host processes: qemu-img, xorriso, mtools,
// HTTP servers, python cloud-init readers), e2e (real VM boots under QEMU; minutes under TCG).
// The tiers run one after another (sequence.groupOrder): projects otherwise run at the same time,
// and integration tests spawning qemu-img, xorriso and fixture VMs beside an e2e boot on a 2-core
// host starve the guest (cloud-init's 2 s metadata timeout in init-local, sshd's login grace).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000, sequence: { groupOrder: 0 } } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Its tests spawn the compiled CLI: build dist/ from the current sources first.
          globalSetup: ['test/helpers/build-dist.ts'],
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 1_800_000,
          hookTimeout: 1_800_000,
          // Guests are CPU-bound under TCG: one file at a time; a file decides its own VM parallelism.
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
