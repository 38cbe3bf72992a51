// The layering of operator/, enforced (`npm run lint:deps`, run by .ci/run). Each rule is the
// "must not import" sentence of a folder's (or module's) header comment; docs/architecture.md
// draws the layers. Tests (test/) may import anything of the product; the product never imports
// test/. Exceptions are listed in the rule they relax, each with its reason.
/** @type {import('dependency-cruiser').IConfiguration} */
const IO_BUILTINS = '^(node:)?(fs|fs/promises|net|tls|http|https|http2|child_process|dgram|dns|cluster|worker_threads|os)$';
// ovn/ip.ts: IP arithmetic, dependency-free (its header: "must not import anything from the project").
const IP = '^operator/ovn/ip\\.ts$';
// The shared leaves every layer may use: the one error base (errors.ts), the one backoff
// (runtime/backoff.ts), the compact multimap of the indexes (runtime/multimap.ts) and the bounded
// string interner (runtime/intern.ts), all pure and importing nothing of the product (rules below).
const SHARED = '^operator/(errors\\.ts|runtime/(backoff|multimap|intern)\\.ts)$';

module.exports = {
  forbidden: [
    // ---- whole product --------------------------------------------------------------------------
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No module cycles in the product (type-only cycles included: they are the same coupling).',
      from: { path: '^operator/' },
      to: { circular: true },
    },
    {
      name: 'product-not-to-test',
      severity: 'error',
      comment: 'Tests import the product, never the other way round.',
      from: { path: '^operator/' },
      to: { path: '^test/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every import resolves.',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-undeclared-package',
      severity: 'error',
      comment: 'Product code uses only dependencies of package.json (not devDependencies, not transitive ones).',
      from: { path: '^operator/' },
      to: { dependencyTypes: ['npm-dev', 'npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'only-cli-imports-commands',
      severity: 'error',
      comment: 'commands/ are the modes of the CLI: wiring only, imported by cli.ts alone (and by each other).',
      from: { path: '^operator/', pathNot: '^operator/(cli\\.ts|commands/)' },
      to: { path: '^operator/(cli\\.ts|commands/)' },
    },

    // ---- the shared leaves: errors.ts, runtime/ ----------------------------------------------------
    {
      name: 'errors-is-a-leaf',
      severity: 'error',
      comment: 'operator/errors.ts (one error base, exitCodeOf) imports nothing from the project.',
      from: { path: '^operator/errors\\.ts$' },
      to: { path: '^operator/' },
    },
    {
      name: 'runtime-imports-no-product',
      severity: 'error',
      comment: 'operator/runtime/ (backoff, signals, the HTTP server) is process plumbing: no project code.',
      from: { path: '^operator/runtime/' },
      to: { path: '^operator/', pathNot: '^operator/runtime/' },
    },
    {
      name: 'runtime-io-not-below-the-modes',
      severity: 'error',
      comment: 'Signals and the HTTP server are for the modes (commands, controller, agent); the layers below use only the pure backoff, multimap and interner.',
      from: { path: '^operator/(api|manifests|ovsdb|ovn|drift|kube|sandbox)/' },
      to: { path: '^operator/runtime/', pathNot: '^operator/runtime/(backoff|multimap|intern)\\.ts$' },
    },

    // ---- api/: the leaf (types, validation, CRD schema) -------------------------------------------
    {
      name: 'api-is-a-leaf',
      severity: 'error',
      comment: 'api/ imports only api/ (and the dependency-free ovn/ip.ts): no drift, ovn views, ovsdb, kube, controller.',
      from: { path: '^operator/api/' },
      to: { path: '^operator/', pathNot: ['^operator/api/', IP] },
    },
    {
      name: 'api-no-io',
      severity: 'error',
      comment: 'api/ does no I/O; the one exception is crds.ts reading the CRD schema from crds/ (the single source of truth).',
      from: { path: '^operator/api/', pathNot: '^operator/api/crds\\.ts$' },
      to: { dependencyTypes: ['core'], path: IO_BUILTINS },
    },
    {
      name: 'api-no-kube-client',
      severity: 'error',
      from: { path: '^operator/api/' },
      to: { path: '@kubernetes/client-node' },
    },
    {
      name: 'manifests-reads-files-only',
      severity: 'error',
      comment: 'manifests/ reads files for api/ decoding: imports only api/.',
      from: { path: '^operator/manifests/' },
      to: { path: '^operator/', pathNot: ['^operator/(api|manifests)/'] },
    },

    // ---- ovsdb/: RFC 7047 only ---------------------------------------------------------------------
    {
      name: 'ovsdb-imports-nothing-of-the-product',
      severity: 'error',
      comment: 'ovsdb/ is RFC 7047 only: it imports nothing outside operator/ovsdb but the shared leaves (error base, backoff, multimap, interner).',
      from: { path: '^operator/ovsdb/' },
      to: { path: '^operator/', pathNot: ['^operator/ovsdb/', SHARED] },
    },
    {
      name: 'ovsdb-plain-data-outside',
      severity: 'error',
      comment:
        'Outside ovsdb/, only ovn/connect.ts (which opens the replicas) and the wiring (commands/) use the OVSDB client ' +
        'and Database; everyone else takes plain data: types.ts and the pure notation.ts, or a type-only import.',
      from: {
        path: '^operator/',
        pathNot: '^operator/(ovsdb/|ovn/connect\\.ts$|commands/)',
      },
      to: {
        path: '^operator/ovsdb/',
        pathNot: '^operator/ovsdb/(types|notation)\\.ts$',
        dependencyTypesNot: ['type-only'],
      },
    },

    // ---- ovn/: the only interpreter of rows ------------------------------------------------------
    {
      name: 'ovn-below-drift',
      severity: 'error',
      comment: 'ovn/ reads rows into views and the topology model; it imports only ovsdb/ and the shared leaves: no api, drift, controller, kube, agent.',
      from: { path: '^operator/ovn/' },
      to: { path: '^operator/', pathNot: ['^operator/(ovn|ovsdb)/', SHARED] },
    },
    {
      name: 'ovn-io-only-in-connect',
      severity: 'error',
      comment: 'connect.ts is the only place in ovn/ that does I/O.',
      from: { path: '^operator/ovn/', pathNot: '^operator/ovn/connect\\.ts$' },
      to: { dependencyTypes: ['core'], path: IO_BUILTINS },
    },
    {
      name: 'only-ovn-interprets-rows',
      severity: 'error',
      comment: 'Row accessors (ovn/rows.ts) are ovn/\'s own; others ask the views. A type-only RowSource is fine.',
      from: { path: '^operator/', pathNot: '^operator/ovn/' },
      to: { path: '^operator/ovn/rows\\.ts$', dependencyTypesNot: ['type-only'] },
    },

    // ---- drift/: pure ------------------------------------------------------------------------------
    {
      name: 'drift-is-pure',
      severity: 'error',
      comment: 'drift/ is pure: (desired, views, now) -> findings / operations. No I/O, no ovn/connect, no kube, controller, agent.',
      from: { path: '^operator/drift/' },
      to: { path: '^operator/', pathNot: ['^operator/(drift|api)/', '^operator/ovn/(?!connect\\.ts$)', '^operator/ovsdb/(types|notation)\\.ts$'] },
    },
    {
      name: 'drift-no-io',
      severity: 'error',
      from: { path: '^operator/drift/' },
      to: { dependencyTypes: ['core', 'npm'] },
    },

    // ---- kube/: narrow wrappers over @kubernetes/client-node -------------------------------------
    {
      name: 'kube-wraps-the-client-only',
      severity: 'error',
      comment: 'kube/ must not import OVSDB, ovn, drift, controller or agent code (api/ for resource names is fine).',
      from: { path: '^operator/kube/' },
      to: { path: '^operator/', pathNot: ['^operator/(kube|api)/', SHARED] },
    },

    // ---- controller/ ---------------------------------------------------------------------------
    {
      name: 'controller-io-through-kube-and-connect',
      severity: 'error',
      comment: 'The controller does I/O only through kube/ and ovn/connect.ts (and its HTTP endpoint, health.ts).',
      from: { path: '^operator/controller/', pathNot: '^operator/controller/health\\.ts$' },
      to: { dependencyTypes: ['core'], path: IO_BUILTINS },
    },
    {
      name: 'controller-not-above-its-place',
      severity: 'error',
      comment: 'The controller never imports the agent, the sandbox or the manifest file reader.',
      from: { path: '^operator/controller/' },
      to: { path: '^operator/(agent|sandbox|manifests)/' },
    },
    {
      name: 'controller-pure-parts',
      severity: 'error',
      comment: 'affected.ts, events.ts, queue.ts and status.ts are pure: no Kubernetes client, no kube/, no OVSDB code.',
      from: { path: '^operator/controller/(affected|events|queue|status)\\.ts$' },
      to: { path: ['^operator/(kube|ovsdb)/', '^operator/ovn/connect\\.ts$', '@kubernetes/client-node'] },
    },
    {
      name: 'policies-no-ovsdb',
      severity: 'error',
      comment: 'The TunnelNoTrackPolicy reconciler has nothing to do with OVN.',
      from: { path: '^operator/controller/policies\\.ts$' },
      to: { path: '^operator/(ovsdb|ovn|drift)/' },
    },
    {
      name: 'replicas-no-kube',
      severity: 'error',
      comment: 'The OVSDB side of the controller (replicas.ts, shard.ts: the shard\'s monitor condition) never touches Kubernetes.',
      from: { path: '^operator/controller/(replicas|shard)\\.ts$' },
      to: { path: ['^operator/kube/', '@kubernetes/client-node'] },
    },

    // ---- agent/ ----------------------------------------------------------------------------------
    {
      name: 'agent-no-ovn',
      severity: 'error',
      comment: 'The NOTRACK agent has nothing to do with OVSDB/OVN, the drift core or the controller.',
      from: { path: '^operator/agent/' },
      to: { path: '^operator/(ovsdb|ovn|drift|controller|sandbox)/' },
    },
    {
      name: 'agent-kube-only-in-cluster-mode',
      severity: 'error',
      comment: 'Only cluster.ts (cluster mode) talks to Kubernetes.',
      from: { path: '^operator/agent/', pathNot: '^operator/agent/cluster\\.ts$' },
      to: { path: ['^operator/kube/', '@kubernetes/client-node'] },
    },
    {
      name: 'agent-render-is-pure',
      severity: 'error',
      comment: 'render.ts: no I/O, no clock.',
      from: { path: '^operator/agent/render\\.ts$' },
      to: { dependencyTypes: ['core', 'npm'] },
    },
    {
      name: 'agent-programs-only-in-iptables',
      severity: 'error',
      comment: 'iptables.ts is the only agent module that runs programs.',
      from: { path: '^operator/agent/', pathNot: '^operator/agent/iptables\\.ts$' },
      to: { dependencyTypes: ['core'], path: '^(node:)?child_process$' },
    },

    // ---- sandbox/ ----------------------------------------------------------------------------------
    {
      name: 'sandbox-drives-ovn-by-its-tools',
      severity: 'error',
      comment: 'The sandbox drives OVN only through its own tools (ovsdb-tool, ovn-nbctl, ovn-sbctl): no OVSDB client.',
      from: { path: '^operator/sandbox/' },
      to: { path: '^operator/', pathNot: ['^operator/sandbox/', SHARED] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.json'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
