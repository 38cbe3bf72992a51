{{/* Chart name (nameOverride wins). */}}
{{- define "ovn-drift.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified name, never doubled: fullnameOverride; else the release name when it already
contains the chart name (release "ovn-drift" -> "ovn-drift", not "ovn-drift-ovn-drift"); else
<release>-<name>. 40 characters leave room for the "-operator"/"-leader-election" suffixes.
*/}}
{{- define "ovn-drift.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "ovn-drift.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ovn-drift.image" -}}{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}{{- end -}}

{{/* Leader-election Lease: from the release unless set, so two releases never share one. */}}
{{- define "ovn-drift.leaseName" -}}{{ .Values.operator.leaseName | default (printf "%s-operator" (include "ovn-drift.fullname" .)) }}{{- end -}}

{{/*
The operator Deployments as a JSON list (sharding, docs/sharding.md). Unsharded (no
operator.sharding.shards): one entry, no selector, the release's Lease. Sharded: one entry per
shard with the selector "<key> in (<shard>)" and the Lease "<lease>-<shard>", plus, when
operator.sharding.defaultShard, the "default" shard ("!<key>": resources without the label) on
the release's Lease itself. Each entry: shard ("" unsharded), suffix of the Deployment name,
lease, selector.
*/}}
{{- define "ovn-drift.operatorShards" -}}
{{- $lease := include "ovn-drift.leaseName" . -}}
{{- $sh := .Values.operator.sharding -}}
{{- $out := list -}}
{{- if $sh.shards -}}
{{- range $sh.shards -}}
{{- $out = append $out (dict "shard" . "suffix" (printf "-%s" .) "lease" (printf "%s-%s" $lease .) "selector" (printf "%s in (%s)" $sh.key .)) -}}
{{- end -}}
{{- if $sh.defaultShard -}}
{{- $out = append $out (dict "shard" "default" "suffix" "-default" "lease" $lease "selector" (printf "!%s" $sh.key)) -}}
{{- end -}}
{{- else -}}
{{- $out = append $out (dict "shard" "" "suffix" "" "lease" $lease "selector" "") -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* Every Lease the operator Deployments use, comma-separated (for the leader-election Role). */}}
{{- define "ovn-drift.leaseNames" -}}
{{- $names := list -}}
{{- range (include "ovn-drift.operatorShards" . | fromJsonArray) -}}
{{- $names = append $names .lease -}}
{{- end -}}
{{- join ", " $names -}}
{{- end -}}

{{- define "ovn-drift.labels" -}}
app.kubernetes.io/name: {{ include "ovn-drift.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "ovn-drift.selector" -}}
app.kubernetes.io/name: {{ include "ovn-drift.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
Fail fast on values that would leave the operator retrying forever (helm install --wait would
only time out): remotes are required, and an ssl: remote needs TLS material. values.schema.json
says the same; this guard also covers `helm template` with --skip-schema-validation.
*/}}
{{- define "ovn-drift.validate" -}}
{{- if .Values.operator.enabled -}}
{{- $nb := required "ovn.nbRemote is required (the OVN NB OVSDB remote, e.g. ssl:ovnkube-db.ovn-kubernetes.svc:6641)" .Values.ovn.nbRemote -}}
{{- $sb := required "ovn.sbRemote is required (the OVN SB OVSDB remote, e.g. ssl:ovnkube-db.ovn-kubernetes.svc:6642)" .Values.ovn.sbRemote -}}
{{- range $k, $r := dict "ovn.nbRemote" $nb "ovn.sbRemote" $sb -}}
{{- if and (regexMatch "(^|,)ssl:" $r) (not $.Values.ovn.tlsSecret) -}}
{{- fail (printf "%s is an ssl: remote (%s) but ovn.tlsSecret is empty: set it to a Secret with tls.key, tls.crt and ca.crt, or the operator can never connect" $k $r) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ovn-drift.tlsArgs" -}}
{{- if .Values.ovn.tlsSecret }}
            - --private-key=/etc/ovn-drift/tls/tls.key
            - --certificate=/etc/ovn-drift/tls/tls.crt
            - --ca-cert=/etc/ovn-drift/tls/ca.crt
{{- end }}
{{- end -}}
