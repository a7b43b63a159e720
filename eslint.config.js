// ESLint flat config: type-checked rules everywhere, and a hard wall around workflows/.
// Workflow code runs in Temporal's deterministic sandbox: Node built-ins, database drivers,
// file I/O and the activity/client/worker SDK packages must never be value-imported there
// (STYLE.md, "Mistakes Temporal TypeScript users keep reporting" #1).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);
/**
 * Import patterns for a project folder: the folder itself and anything inside it. `./x` is the importing
 * folder's own file of that name (domain/departments.ts beside domain/words.ts), not the layer: let through.
 */
const layers = (...names) => names.flatMap((n) => [`**/${n}`, `**/${n}/**`, `!./${n}`]);

// The layering (README, Map of the folders). A flat config's later entry replaces an earlier one's options for
// the same rule, so each entry below lists every pattern that applies to its files.
const noSimulation = {
  group: [...layers('simulation'), '**/departments/simulated'],
  message:
    'Production code does not import the simulation: take the department ports the composition root chose.',
};
const noFrontEnds = {
  // a regex on relative paths: a glob like **/client would also catch the package @temporalio/client
  regex: String.raw`^(\.\.?/)+(client|console)(/|$)`,
  message:
    'application/, ledger/, lists/, documents/, audit/ and the adapters are called by the front ends (client/, console/), never the other way.',
};
const noProvision = {
  regex: String.raw`^(\.\.?/)+provision(/|$)`,
  message:
    'What ships (infra/) does not import what only provisions a development or test machine (provision/).',
};
/** Every folder outside workflows/ and domain/ that holds code: what the workflow sandbox and the pure domain keep out. */
const outerLayers = [
  'activities',
  'departments',
  'worker',
  'client',
  'infra',
  'application',
  'ledger',
  'lists',
  'documents',
  'audit',
  'console',
  'provision',
  'simulation',
];
/** The inner layers: what the CLI, the console and the activities call. */
const innerLayers = [
  'application/**/*.ts',
  'ledger/**/*.ts',
  'lists/**/*.ts',
  'documents/**/*.ts',
  'audit/**/*.ts',
  'departments/**/*.ts',
  'activities/**/*.ts',
  'infra/**/*.ts',
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'coverage/**', 'out/**', 'eslint.config.js', '.replay-mutant-*/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  {
    // the console's browser scripts (console/static): plain ES5 in the browser, outside the TypeScript project
    files: ['console/static/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'script',
      globals: {
        window: 'readonly',
        document: 'readonly',
        echarts: 'readonly',
        setInterval: 'readonly',
        setTimeout: 'readonly',
        fetch: 'readonly',
      },
    },
  },
  {
    // One configuration (config/settings.ts): the only module that reads the environment. Tests and the
    // benchmark set environments for the processes they start, and may read their own test-only variables.
    files: ['**/*.ts'],
    ignores: ['config/settings.ts', 'test/**', 'bench/**', 'vitest*.config.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message:
            'Read settings through config/settings.ts (settings(), or loadConfig() in worker/config.ts); pass a child process childEnvironment().',
        },
      ],
    },
  },
  {
    // vitest's asymmetric matchers (expect.stringMatching, expect.objectContaining) are typed `any`.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  {
    // Nothing outside test/, bench/ and the demo's composition root (the rehearsal and its population
    // command) imports the simulation; the entries below repeat the pattern for their own files.
    files: ['**/*.ts'],
    ignores: [
      'test/**',
      'bench/**',
      'simulation/**',
      'client/rehearse.ts',
      'client/commands/population.ts',
      ...innerLayers,
      'workflows/**',
      'domain/**',
    ],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ ...noSimulation, group: layers('simulation') }] },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts', 'domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({
              name,
              message: 'No Node built-ins in workflow or domain code.',
            })),
            ...['pg', 'pg-copy-streams', 'exceljs', 'iconv-lite', 'node-pg-migrate'].map((name) => ({
              name,
              message: 'No I/O packages in workflow or domain code: do the I/O in an activity.',
            })),
            ...[
              '@temporalio/activity',
              '@temporalio/client',
              '@temporalio/worker',
              '@temporalio/testing',
            ].map((name) => ({
              name,
              message: 'Only @temporalio/workflow (and type-only imports) belong in workflow code.',
              allowTypeImports: true,
            })),
          ],
          patterns: [
            {
              group: layers(...outerLayers),
              message: 'Workflow and domain code may import only types from these layers.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({
              name,
              message: 'The domain layer is pure: no Node built-ins.',
            })),
            ...[
              '@temporalio/workflow',
              '@temporalio/activity',
              '@temporalio/client',
              '@temporalio/worker',
              'pg',
            ].map((name) => ({
              name,
              message: 'The domain layer is pure: no Temporal or database packages.',
            })),
          ],
          patterns: [
            {
              group: layers(...outerLayers, 'workflows'),
              message: 'The domain layer imports nothing from the outer layers.',
            },
          ],
        },
      ],
    },
  },
  {
    // The simulation is one department adapter among others: production code reaches departments through
    // their ports (departments/ports.ts), chosen per role in worker/departments.ts. The activities never
    // import the front ends that call them either (the entry below: the folders the activities call).
    files: ['activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [noSimulation, noFrontEnds] }],
    },
  },
  {
    // The activities call the ledger, the lists, the documents, the audit and the department ports; those
    // take nothing from the activities but types (the activity names an audit timeline reads).
    files: ['ledger/**/*.ts', 'lists/**/*.ts', 'documents/**/*.ts', 'audit/**/*.ts', 'departments/**/*.ts'],
    ignores: ['departments/simulated.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            noSimulation,
            noFrontEnds,
            {
              regex: String.raw`^(\.\.?/)+activities(/|$)`,
              message: 'The activities call this folder, never the other way (types excepted).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    // departments/simulated.ts is the simulation's adapter: it may name itself, never the front ends.
    files: ['departments/simulated.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [noFrontEnds] }],
    },
  },
  {
    // What ships in infra/ (codec, loggers, TLS, roles) imports neither the provisioning of a development
    // machine nor the simulation nor the front ends.
    files: ['infra/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [noProvision, noSimulation, noFrontEnds] },
      ],
    },
  },
  {
    // The application layer's use cases take their connections from the caller (the CLI's login, the
    // console's session): no environment, no configuration, nothing from the front ends that call them.
    files: ['application/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'A use case takes its connections and settings as arguments.',
        },
      ],
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            noSimulation,
            noFrontEnds,
            {
              group: ['**/worker/config'],
              message: 'A use case reads no configuration: the caller passes its settings.',
            },
            {
              regex: String.raw`^(\.\.?/)+activities(/|$)`,
              message:
                'A use case starts and asks workflows; it runs no activity code (types, such as activity names, excepted).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
