{{- define "ovn-drift.name" -}}ovn-drift{{- end -}}
{{- define "ovn-drift.fullname" -}}{{ .Release.Name | trunc 40 | trimSuffix "-" }}-ovn-drift{{- end -}}
{{- define "ovn-drift.image" -}}{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}{{- end -}}
{{- define "ovn-drift.labels" -}}
app.kubernetes.io/name: ovn-drift
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
{{- define "ovn-drift.tlsArgs" -}}
{{- if .Values.ovn.tlsSecret }}
            - --private-key=/etc/ovn-drift/tls/tls.key
            - --certificate=/etc/ovn-drift/tls/tls.crt
            - --ca-cert=/etc/ovn-drift/tls/ca.crt
{{- end }}
{{- end -}}
