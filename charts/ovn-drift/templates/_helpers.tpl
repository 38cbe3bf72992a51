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
