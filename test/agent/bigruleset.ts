// A kube-proxy-sized unrelated rule set (filter + nat service chains, and a few raw chains of
// another owner) built with one iptables-restore; shared by the test and the benchmark.
export function unrelatedRules(total: number): string {
  const chains = Math.max(1, Math.floor(total / 50));
  const perChain = Math.ceil(total / 2 / chains);
  const out: string[] = ['*filter'];
  for (let i = 0; i < chains; i++) out.push(`:KUBE-SVC-${i.toString().padStart(5, '0')} - [0:0]`);
  out.push(`-A INPUT -m comment --comment "kubernetes service portals" -j KUBE-SVC-00000`);
  for (let i = 0; i < chains; i++)
    for (let j = 0; j < perChain; j++)
      out.push(`-A KUBE-SVC-${i.toString().padStart(5, '0')} -s 10.${i % 250}.${j % 250}.0/24 -p tcp -m tcp --dport ${1000 + j} -m comment --comment "ns-${i}/svc:${j}" -j ACCEPT`);
  out.push('COMMIT', '*nat');
  for (let i = 0; i < chains; i++) out.push(`:KUBE-SEP-${i.toString().padStart(5, '0')} - [0:0]`);
  for (let i = 0; i < chains; i++)
    for (let j = 0; j < perChain; j++)
      out.push(`-A KUBE-SEP-${i.toString().padStart(5, '0')} -s 10.${i % 250}.${j % 250}.0/24 -p tcp -m tcp --dport ${1000 + j} -j DNAT --to-destination 10.1.${i % 250}.${j % 250}:80`);
  out.push('COMMIT', '*raw', ':cali-PREROUTING - [0:0]', ':cali-OUTPUT - [0:0]');
  out.push('-A PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING', '-A OUTPUT -m comment --comment "cali:tVnHkvAo15HuiPy0" -j cali-OUTPUT');
  for (let j = 0; j < 40; j++) out.push(`-A cali-PREROUTING -i cali${j.toString(16)} -m comment --comment "cali:r${j}" -j MARK --set-xmark 0x40000/0x40000`);
  for (let j = 0; j < 20; j++) out.push(`-A cali-OUTPUT -d 10.99.${j}.0/24 -m comment --comment "cali:o${j}" -j MARK --set-xmark 0x80000/0x80000`);
  out.push('COMMIT', '');
  return out.join('\n');
}

/** iptables-save output without our chain, our jumps, counters and the Generated/Completed comments. */
export function outsideOurChains(save: string): string {
  return save
    .split('\n')
    .filter((l) => !l.startsWith('#') && !l.includes('OVN-DRIFT-NOTRACK'))
    .map((l) => l.replace(/ \[\d+:\d+\]$/, ''))
    .join('\n');
}
