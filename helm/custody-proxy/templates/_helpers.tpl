{{- define "custody-proxy.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "custody-proxy.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "custody-proxy.labels" -}}
app.kubernetes.io/name: {{ include "custody-proxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "custody-proxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "custody-proxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
