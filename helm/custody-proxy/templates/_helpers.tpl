{{- /*
Names, labels and images. Every helper here takes a context dict {root, values}: root is the
template context of the chart that renders (this chart, or a parent chart using the sidecar
templates), values this chart's values (in a parent: .Values.custody-proxy). "custody-proxy.ctx"
builds it for this chart's own templates.
*/ -}}

{{- define "custody-proxy.ctx" -}}
{{- toJson (dict "values" .Values) -}}
{{- end -}}

{{- define "custody-proxy.name" -}}
{{- .values.nameOverride | default "custody-proxy" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "custody-proxy.fullname" -}}
{{- if .values.fullnameOverride -}}
{{- .values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "custody-proxy.name" . -}}
{{- if contains $name .root.Release.Name -}}
{{- .root.Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .root.Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "custody-proxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "custody-proxy.name" . }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "custody-proxy.labels" -}}
{{ include "custody-proxy.selectorLabels" . }}
app.kubernetes.io/version: {{ include "custody-proxy.appVersion" .root | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 }}
{{- with .values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- /* The metrics Service: the admin port on a Service of its own, so the client Service carries
client traffic only. Its name leaves room for the suffix within the 63 characters of a Service name;
the component label is what the ServiceMonitor selects it by (the client Service has none). */ -}}
{{- define "custody-proxy.metricsServiceName" -}}
{{- printf "%s-metrics" (include "custody-proxy.fullname" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{- define "custody-proxy.metricsSelectorLabels" -}}
{{ include "custody-proxy.selectorLabels" . }}
app.kubernetes.io/component: metrics
{{- end -}}

{{- /* The metrics Service is rendered with the ServiceMonitor whatever metrics.service.enabled says:
the ServiceMonitor would find nothing to scrape without it. */ -}}
{{- define "custody-proxy.metricsService.enabled" -}}
{{- $m := .values.metrics -}}
{{- if and .values.deployment.enabled (or ($m.service | default dict).enabled $m.serviceMonitor.enabled) }}true{{ end -}}
{{- end -}}

{{- /* The proxy's release: this chart's appVersion. From a parent chart .Chart is the parent's, so
the same number is kept here too (test/packaging checks it equals Chart.yaml's appVersion). */ -}}
{{- define "custody-proxy.appVersion" -}}
{{- if eq .Chart.Name "custody-proxy" -}}{{ .Chart.AppVersion }}{{- else -}}0.1.0{{- end -}}
{{- end -}}

{{- /* An image reference from {registry, repository, tag, digest}: global.imageRegistry wins over
registry, and a digest wins over the tag (repository@digest). Args: dict image, global, defaultTag, path. */ -}}
{{- define "custody-proxy.image" -}}
{{- $registry := .global.imageRegistry | default .image.registry -}}
{{- $repo := required (printf "%s.repository is required" .path) .image.repository -}}
{{- $ref := ternary (printf "%s/%s" $registry $repo) $repo (ne ($registry | toString) "") -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $ref .image.digest -}}
{{- else -}}
{{- $tag := .image.tag | default .defaultTag | toString -}}
{{- if not $tag -}}{{- fail (printf "%s.tag (or .digest) is required: pin the image, never latest" .path) -}}{{- end -}}
{{- printf "%s:%s" $ref $tag -}}
{{- end -}}
{{- end -}}

{{- define "custody-proxy.imagePullSecrets" -}}
{{- $global := .values.global | default .root.Values.global | default dict -}}
{{- $names := list -}}
{{- range concat (.values.imagePullSecrets | default list) ($global.imagePullSecrets | default list) -}}
{{- if kindIs "map" . }}{{ $names = append $names .name }}{{ else }}{{ $names = append $names . }}{{ end -}}
{{- end -}}
{{- if $names -}}
imagePullSecrets:
{{- range uniq $names }}
  - name: {{ . }}
{{- end }}
{{- end -}}
{{- end -}}

{{- define "custody-proxy.serviceAccountName" -}}
{{- if .values.serviceAccount.create -}}
{{- .values.serviceAccount.name | default (include "custody-proxy.fullname" .) -}}
{{- else -}}
{{- .values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- /* Redis is in the config when either store uses it (rate limits share idempotency.redis). */ -}}
{{- define "custody-proxy.usesRedis" -}}
{{- $c := .values.proxy.config -}}
{{- if or (eq $c.idempotency.store "redis") (eq (($c.rateLimits | default dict).store | default "memory") "redis") }}true{{ end -}}
{{- end -}}

{{- /* Sentinel or Cluster with the data nodes' password from the redis Secret (redis.passwordKey). */ -}}
{{- define "custody-proxy.redisPasswordFromSecret" -}}
{{- $r := .values.proxy.config.idempotency.redis | default dict -}}
{{- if and (include "custody-proxy.usesRedis" .) (or $r.sentinels $r.cluster) .values.redis.existingSecret .values.redis.passwordKey }}true{{ end -}}
{{- end -}}

{{- /* Sentinel with the sentinels' own password from the redis Secret (redis.sentinelPasswordKey). */ -}}
{{- define "custody-proxy.redisSentinelPasswordFromSecret" -}}
{{- $r := .values.proxy.config.idempotency.redis | default dict -}}
{{- if and (include "custody-proxy.usesRedis" .) $r.sentinels .values.redis.existingSecret .values.redis.sentinelPasswordKey }}true{{ end -}}
{{- end -}}

{{- /* One Redis server, its URL from the redis Secret (Sentinel and Cluster take their passwords by key). */ -}}
{{- define "custody-proxy.redisUrlFromSecret" -}}
{{- $r := .values.proxy.config.idempotency.redis | default dict -}}
{{- if and (include "custody-proxy.usesRedis" .) (not $r.sentinels) (not $r.cluster) }}true{{ end -}}
{{- end -}}
