/** Jest runs TypeScript as ESM through ts-jest; the three tiers are separate projects. */
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.test.json' }]
  },
  testEnvironment: 'node',
  setupFiles: ['<rootDir>/test/support/quiet-workflow-commands.ts']
}

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] }
  ],
  testTimeout: 120000,
  reporters: ['default', '<rootDir>/test/support/closing-line-reporter.cjs']
}
