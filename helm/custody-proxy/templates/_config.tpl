{{- /*
custody-proxy.yaml (SPEC §3) from the {root, values} context: the ConfigMap holds it, and the pod's
checksum/config annotation hashes it (a parent chart can hash it the same way). The paths here are
where the sidecar container template mounts each Secret, always as a folder.
*/ -}}
{{- define "custody-proxy.config" -}}
{{- $v := .values -}}
{{- $c := $v.proxy.config -}}
{{- $i := $c.idempotency -}}
listen: 0.0.0.0:{{ $v.proxy.port }}
{{- with $v.proxy.tls }}
{{- if .existingSecret }}
tls:
  certFile: /etc/custody-proxy/tls/tls.crt
  keyFile: /etc/custody-proxy/tls/tls.key
  minVersion: {{ .minVersion | default "TLSv1.2" }}
{{- end }}
{{- end }}
admin:
  listen: 0.0.0.0:{{ $v.proxy.adminPort }}
  {{- if $v.adminToken.existingSecret }}
  tokenFile: /etc/custody-proxy/admin/{{ $v.adminToken.secretKey }}
  {{- end }}
upstream:
  url: {{ $c.upstreamScheme | default "http" }}://127.0.0.1:{{ $v.app.port }}
  timeout: {{ $c.upstreamTimeout }}
  connectTimeout: {{ $c.connectTimeout }}
  {{- with $v.proxy.upstreamCA }}
  {{- if or .existingSecret .configMap }}
  caFile: /etc/custody-proxy/upstream-ca/{{ .key | default "ca.crt" }}
  {{- end }}
  {{- end }}
trustedProxies: {{ $c.trustedProxies | default list | toJson }}
environment: {{ $c.environment | default "any" }}
browserRequests: {{ $c.browserRequests | default "refuse" }}
credentials:
  file: /etc/custody-proxy/credentials/{{ $v.credentials.key }}
  expiryWarning: {{ $v.credentials.expiryWarning | default "7d" }}
  maxAge: {{ $v.credentials.maxAge | default "90d" }}
idempotency:
  store: {{ $i.store }}
  {{- if include "custody-proxy.usesRedis" . }}
  {{- $r := $i.redis | default dict }}
  {{- if and $r.sentinels $r.cluster }}
  {{- fail "proxy.config.idempotency.redis: set sentinels or cluster, not both" }}
  {{- end }}
  redis:
    {{- if $r.sentinels }}
    sentinels: {{ $r.sentinels | toJson }}
    name: {{ required "proxy.config.idempotency.redis.name is required with sentinels" $r.name | quote }}
    {{- else if $r.cluster }}
    cluster: {{ $r.cluster | toJson }}
    {{- else }}
    {{- $_ := required "redis.existingSecret is required when proxy.config.idempotency.store (or rateLimits.store) is redis on one server" $v.redis.existingSecret }}
    {{- if or $r.username $r.sentinelUsername $r.tls }}
    {{- fail "proxy.config.idempotency.redis.username, sentinelUsername and tls are for sentinels or cluster; one server takes them in the URL of the redis Secret (redis://user:password@host:6379, rediss:// for TLS)" }}
    {{- end }}
    url: "${CUSTODY_PROXY_REDIS_URL}"
    {{- end }}
    {{- with include "custody-proxy.redisLogin" . }}
    {{- . | nindent 4 }}
    {{- end }}
    {{- if include "custody-proxy.redisCa" . }}
    caFile: /etc/custody-proxy/redis-ca/{{ $v.redis.ca.key | default "ca.crt" }}
    {{- end }}
    keyPrefix: {{ $i.keyPrefix | quote }}
    waitReplicas: {{ $r.waitReplicas | default 0 }}
  {{- end }}
  {{- with $i.memory }}
  memory:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ttl: {{ $i.ttl }}
  lateResponseWindow: {{ $i.lateResponseWindow | default "5m" }}
  methods: {{ $i.methods | toJson }}
  required: {{ $i.required }}
  maxRequestBytes: {{ $i.maxRequestBytes }}
  maxResponseBytes: {{ $i.maxResponseBytes }}
  onStoreLoss: {{ $i.onStoreLoss }}
{{- with $c.rateLimits }}
rateLimits:
  store: {{ .store | default "memory" }}
  failedAuth: {{ .failedAuth | toJson }}
  onStoreError: {{ .onStoreError | default "allow" }}
{{- end }}
logging:
  level: {{ $c.logLevel }}
drainDelay: {{ $c.drainDelay | default "5s" }}
shutdownTimeout: {{ $c.shutdownTimeout }}
{{- end -}}


{{- /* Sentinel and Cluster: the login (passwords as ${VAR} from the redis Secret) and TLS. */ -}}
{{- define "custody-proxy.redisLogin" -}}
{{- $r := .values.proxy.config.idempotency.redis | default dict -}}
{{- if or $r.sentinels $r.cluster -}}
{{- $password := include "custody-proxy.redisPasswordFromSecret" . -}}
{{- if and $r.username (not $password) -}}
{{- fail "proxy.config.idempotency.redis.username needs its password: set redis.existingSecret and redis.passwordKey" -}}
{{- end -}}
{{- if and $r.sentinelUsername (not (include "custody-proxy.redisSentinelPasswordFromSecret" .)) -}}
{{- fail "proxy.config.idempotency.redis.sentinelUsername needs its password: set redis.existingSecret and redis.sentinelPasswordKey (with sentinels)" -}}
{{- end -}}
{{- with $r.username }}
username: {{ . | quote }}
{{- end }}
{{- if $password }}
password: "${CUSTODY_PROXY_REDIS_PASSWORD}"
{{- end }}
{{- with $r.sentinelUsername }}
sentinelUsername: {{ . | quote }}
{{- end }}
{{- if include "custody-proxy.redisSentinelPasswordFromSecret" . }}
sentinelPassword: "${CUSTODY_PROXY_REDIS_SENTINEL_PASSWORD}"
{{- end }}
{{- if $r.tls }}
tls: true
{{- end }}
{{- end -}}
{{- end -}}


{{- /* Whether a CA for the Redis certificates is mounted (redis.ca: a Secret or a ConfigMap). */ -}}
{{- define "custody-proxy.redisCa" -}}
{{- $ca := .values.redis.ca | default dict -}}
{{- if or $ca.existingSecret $ca.configMap }}true{{ end -}}
{{- end -}}
