{{- /*
The proxy as a sidecar, library-style: this chart's Deployment uses these templates, and so can a
parent chart's own pod spec (helm/examples/own-deployment). Each takes the context dict
  (dict "root" $ "values" (index .Values "custody-proxy"))
Place custody-proxy.sidecar.container under `containers:` or, with nativeSidecar, under
`initContainers:` (it then carries restartPolicy: Always); custody-proxy.sidecar.volumes under
`volumes:`; custody-proxy.sidecar.appLifecycle in the app container; and set
terminationGracePeriodSeconds from custody-proxy.terminationGracePeriodSeconds.
The ConfigMap it mounts is rendered by this chart (also with deployment.enabled: false).
*/ -}}
{{- define "custody-proxy.sidecar.container" -}}
{{- include "custody-proxy.validate" . -}}
{{- $v := .values -}}
{{- $global := $v.global | default .root.Values.global | default dict -}}
- name: custody-proxy
  image: {{ include "custody-proxy.image" (dict "image" $v.proxy.image "global" $global "defaultTag" (include "custody-proxy.appVersion" .root) "path" "proxy.image") }}
  imagePullPolicy: {{ $v.proxy.image.pullPolicy | default "IfNotPresent" }}
  {{- if $v.nativeSidecar }}
  # A native sidecar: started before the app containers, stopped after them (Kubernetes >= 1.29).
  restartPolicy: Always
  {{- end }}
  args: ["serve", "--config", "/etc/custody-proxy/config/custody-proxy.yaml"]
  ports:
    - name: proxy
      containerPort: {{ $v.proxy.port }}
    - name: admin
      containerPort: {{ $v.proxy.adminPort }}
  {{- $url := include "custody-proxy.redisUrlFromSecret" . }}
  {{- $password := include "custody-proxy.redisPasswordFromSecret" . }}
  {{- $sentinelPassword := include "custody-proxy.redisSentinelPasswordFromSecret" . }}
  {{- if or $url $password $sentinelPassword $v.proxy.extraEnv }}
  env:
    {{- if $url }}
    - name: CUSTODY_PROXY_REDIS_URL
      valueFrom:
        secretKeyRef:
          name: {{ $v.redis.existingSecret }}
          key: {{ $v.redis.secretKey }}
    {{- end }}
    {{- /* The config names them as ${VAR}: the passwords never enter the ConfigMap. */}}
    {{- if $password }}
    - name: CUSTODY_PROXY_REDIS_PASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ $v.redis.existingSecret }}
          key: {{ $v.redis.passwordKey }}
    {{- end }}
    {{- if $sentinelPassword }}
    - name: CUSTODY_PROXY_REDIS_SENTINEL_PASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ $v.redis.existingSecret }}
          key: {{ $v.redis.sentinelPasswordKey }}
    {{- end }}
    {{- with $v.proxy.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  # All probes on the admin port, plain HTTP also when the client listener serves TLS. The startup
  # probe gives the first credentials load up to a minute before liveness counts.
  startupProbe:
    httpGet: { path: /healthz, port: admin }
    periodSeconds: 2
    failureThreshold: 30
  livenessProbe:
    httpGet: { path: /healthz, port: admin }
    periodSeconds: 10
    failureThreshold: 3
  readinessProbe:
    httpGet: { path: /readyz, port: admin }
    periodSeconds: 5
    failureThreshold: 2
  {{- with $v.proxy.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    runAsNonRoot: true
    capabilities: { drop: [ALL] }
  # Every Secret and ConfigMap as a folder, never subPath: the kubelet swaps the folder's ..data
  # symlink on update and the proxy re-reads the credentials and TLS files.
  volumeMounts:
    - name: custody-proxy-config
      mountPath: /etc/custody-proxy/config
      readOnly: true
    - name: custody-proxy-credentials
      mountPath: /etc/custody-proxy/credentials
      readOnly: true
    {{- if $v.adminToken.existingSecret }}
    - name: custody-proxy-admin-token
      mountPath: /etc/custody-proxy/admin
      readOnly: true
    {{- end }}
    {{- if $v.proxy.tls.existingSecret }}
    - name: custody-proxy-tls
      mountPath: /etc/custody-proxy/tls
      readOnly: true
    {{- end }}
    {{- if or $v.proxy.upstreamCA.existingSecret $v.proxy.upstreamCA.configMap }}
    - name: custody-proxy-upstream-ca
      mountPath: /etc/custody-proxy/upstream-ca
      readOnly: true
    {{- end }}
    {{- if include "custody-proxy.redisCa" . }}
    - name: custody-proxy-redis-ca
      mountPath: /etc/custody-proxy/redis-ca
      readOnly: true
    {{- end }}
    {{- with $v.proxy.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{- define "custody-proxy.sidecar.volumes" -}}
{{- $v := .values -}}
- name: custody-proxy-config
  configMap:
    name: {{ include "custody-proxy.fullname" . }}
- name: custody-proxy-credentials
  secret:
    secretName: {{ $v.credentials.existingSecret }}
{{- if $v.adminToken.existingSecret }}
- name: custody-proxy-admin-token
  secret:
    secretName: {{ $v.adminToken.existingSecret }}
{{- end }}
{{- if $v.proxy.tls.existingSecret }}
- name: custody-proxy-tls
  secret:
    secretName: {{ $v.proxy.tls.existingSecret }}
{{- end }}
{{- with $v.proxy.upstreamCA }}
{{- if .existingSecret }}
- name: custody-proxy-upstream-ca
  secret:
    secretName: {{ .existingSecret }}
{{- else if .configMap }}
- name: custody-proxy-upstream-ca
  configMap:
    name: {{ .configMap }}
{{- end }}
{{- end }}
{{- with ($v.redis.ca | default dict) }}
{{- if .existingSecret }}
- name: custody-proxy-redis-ca
  secret:
    secretName: {{ .existingSecret }}
{{- else if .configMap }}
- name: custody-proxy-redis-ca
  configMap:
    name: {{ .configMap }}
{{- end }}
{{- end }}
{{- end -}}

{{- /* For the app container: traffic flows client → proxy → app, so the app must outlive the proxy's
drain. Its preStop sleep delays its SIGTERM until the proxy has stopped forwarding. */ -}}
{{- define "custody-proxy.sidecar.appLifecycle" -}}
{{- $sleep := include "custody-proxy.appPreStopSeconds" . | int64 -}}
{{- if .values.app.lifecycle -}}
lifecycle:
  {{- toYaml .values.app.lifecycle | nindent 2 }}
{{- else if gt $sleep 0 -}}
lifecycle:
  preStop:
    sleep: { seconds: {{ $sleep }} }
{{- end -}}
{{- end -}}

{{- define "custody-proxy.sidecar.configChecksum" -}}
{{- include "custody-proxy.config" . | sha256sum -}}
{{- end -}}
