#!/bin/sh
# Copy the canonical CRDs (crds/) into the Helm chart's crds/ directory. crds/ is the single source
# of truth; test/kube/crds.test.ts fails when the copy differs. Run after editing crds/*.yaml.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
rm -f "$here/ovn-drift/crds/"*.yaml
cp "$here/../crds/"*.yaml "$here/ovn-drift/crds/"
echo "charts/ovn-drift/crds synced from crds/"
