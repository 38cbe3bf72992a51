// Builds the seed's topology (seed/ovn-control-and-data-path.md §2.2) in a running OVN control
// plane through its own tools, exactly as it happens in a cluster: northd computes the flow for
// 10.9.52.144/28 via 10.215.91.233, northd stops, the NB route is changed to via 10.9.2.146 by a
// client that bumps nb_cfg (`ovn-nbctl --wait=sb`, which then times out), and the SB flow stays
// stale. Used by `demo` and the tests. Drives OVN only through the Ovn tools interface below.

/** What the builder needs of a control plane: OvnSandbox satisfies it. */
export interface OvnTools {
  nbctl(...args: string[]): Promise<string>;
  sbctl(...args: string[]): Promise<string>;
  startNorthd(): Promise<void>;
  stopNorthd(): Promise<void>;
}

export const SEED = {
  router: 'dev-jr',
  vmSwitch: 'sw-10.9.0.0-22',
  otherSwitch: 'sw-10.215.88.0-22',
  /** The VM the pod CIDRs should be routed to, and its hypervisor. */
  vmPort: '670c5500-4083-4322-84d7-d457b04b605c',
  vmIp: '10.9.2.146',
  vmChassis: 'a45bf0c2-hv-10-184-163-36',
  vmHostname: 'hv-10-184-163-36',
  vmEncapIp: '10.184.163.36',
  /** The VM the stale SB flow still sends the traffic to, and its hypervisor. */
  otherPort: '8c1b2e44-57a0-4d0b-9b36-2f7c1d0e9a11',
  otherIp: '10.215.91.233',
  otherChassis: '842a08d1-hv-10-96-133-20',
  otherHostname: 'hv-10-96-133-20',
  otherEncapIp: '10.96.133.20',
  stalePrefix: '10.9.52.144/28',
  prefixes: ['10.9.52.144/28', '10.9.143.0/28', '10.9.193.96/28', '10.9.202.192/28', '10.9.207.64/28'],
} as const;

/** The PodCIDRRoute manifest that declares the seed's five routes. */
export function seedManifest(name = 'dev-jr-vm-10-9-2-146'): string {
  return `apiVersion: ovndrift.io/v1alpha1
kind: PodCIDRRoute
metadata:
  name: ${name}
spec:
  router: ${SEED.router}
  nexthop: ${SEED.vmIp}
  cidrs:
${SEED.prefixes.map((p) => `  - ${p}`).join('\n')}
  expectedChassis: ${SEED.vmChassis}
`;
}

/** A router attached to a switch through a router port (ovn-nbctl's usual three steps). */
export function attachSwitchArgs(router: string, sw: string, mac: string, networks: string[]): string[] {
  const lrp = `lrp-${router}-to-${sw}`;
  const lsp = `${sw}-to-${router}`;
  return [
    '--', '--may-exist', 'ls-add', sw,
    '--', 'lrp-add', router, lrp, mac, ...networks,
    '--', 'lsp-add', sw, lsp,
    '--', 'lsp-set-type', lsp, 'router',
    '--', 'lsp-set-addresses', lsp, 'router',
    '--', 'lsp-set-options', lsp, `router-port=${lrp}`,
  ];
}

/** The topology in sync: every route via the VM, northd running. */
export async function buildSeedInSync(ovn: OvnTools): Promise<void> {
  await ovn.nbctl(
    '--', 'lr-add', SEED.router,
    ...attachSwitchArgs(SEED.router, SEED.vmSwitch, '74:db:d2:2f:8b:ef', ['10.9.0.1/22']),
    ...attachSwitchArgs(SEED.router, SEED.otherSwitch, '74:db:d2:19:e7:6b', ['10.215.88.1/22']),
    '--', 'lsp-add', SEED.vmSwitch, '23f2d07b-d052-4d9c-ae1f-44927c2156ff',
    '--', 'lsp-set-addresses', '23f2d07b-d052-4d9c-ae1f-44927c2156ff', '74:db:d1:29:c6:a3 10.9.1.31',
    '--', 'lsp-add', SEED.vmSwitch, SEED.vmPort,
    '--', 'lsp-set-addresses', SEED.vmPort, `74:db:d1:bf:44:5a ${SEED.vmIp}`,
    '--', 'lsp-add', SEED.otherSwitch, SEED.otherPort,
    '--', 'lsp-set-addresses', SEED.otherPort, `74:db:d1:30:9e:dd ${SEED.otherIp}`,
  );
  await ovn.sbctl('chassis-add', SEED.vmChassis, 'stt', SEED.vmEncapIp);
  await ovn.sbctl('chassis-add', SEED.otherChassis, 'stt', SEED.otherEncapIp);
  await ovn.sbctl('set', 'Chassis', SEED.vmChassis, `hostname=${SEED.vmHostname}`);
  await ovn.sbctl('set', 'Chassis', SEED.otherChassis, `hostname=${SEED.otherHostname}`);
  await ovn.sbctl('lsp-bind', SEED.vmPort, SEED.vmChassis);
  await ovn.sbctl('lsp-bind', SEED.otherPort, SEED.otherChassis);
  const routes = SEED.prefixes.flatMap((p) => ['--', 'lr-route-add', SEED.router, p, SEED.vmIp]);
  await ovn.nbctl('--wait=sb', ...routes);
}

/**
 * The seed's drift: 10.9.52.144/28 was routed via 10.215.91.233 and northd built that flow;
 * northd then stopped, and the NB route was moved to 10.9.2.146 by a client waiting for the SB
 * (its nb_cfg bump is never answered). Leaves northd stopped.
 */
export async function buildSeedDrift(ovn: OvnTools): Promise<void> {
  await buildSeedInSync(ovn);
  await ovn.nbctl('--wait=sb', '--may-exist', 'lr-route-add', SEED.router, SEED.stalePrefix, SEED.otherIp);
  await ovn.stopNorthd();
  await bumpWithoutNorthd(ovn, '--may-exist', 'lr-route-add', SEED.router, SEED.stalePrefix, SEED.vmIp);
}

/**
 * Runs an ovn-nbctl change with --wait=sb while northd is down, as an engineer would: the change
 * and the nb_cfg bump commit, the wait times out (ovn-nbctl exits non-zero), the SB stays behind.
 */
export async function bumpWithoutNorthd(ovn: OvnTools, ...args: string[]): Promise<void> {
  try {
    await ovn.nbctl('--wait=sb', '--timeout=1', ...args);
  } catch {
    /* expected: nothing answers the nb_cfg bump while northd is down */
  }
}
