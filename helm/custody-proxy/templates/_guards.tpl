{{- /*
Values that would render a valid but broken workload fail rendering here, with the reason. Takes
the {root, values} context; the sidecar container template calls it, so a parent chart using the
sidecar templates gets the same guards.
*/ -}}

{{- /* drainDelay + shutdownTimeout: how long the proxy may take to stop after SIGTERM (SPEC §12). */ -}}
{{- define "custody-proxy.shutdownSeconds" -}}
{{- $c := .values.proxy.config -}}
{{- $drain := include "custody-proxy.seconds" (dict "value" ($c.drainDelay | default "5s") "path" "proxy.config.drainDelay") | int64 -}}
{{- $stop := include "custody-proxy.seconds" (dict "value" ($c.shutdownTimeout | default "25s") "path" "proxy.config.shutdownTimeout") | int64 -}}
{{- add $drain $stop -}}
{{- end -}}

{{- /* The app's preStop sleep: it keeps answering the proxy's in-flight requests while the proxy drains. */ -}}
{{- define "custody-proxy.appPreStopSeconds" -}}
{{- if kindIs "invalid" .values.app.preStopSleepSeconds -}}
{{- include "custody-proxy.shutdownSeconds" . -}}
{{- else -}}
{{- .values.app.preStopSleepSeconds | int64 -}}
{{- end -}}
{{- end -}}

{{- /* What the pod needs before anything is killed. As a container, the proxy and the app get SIGTERM
together: the proxy needs drainDelay + shutdownTimeout, the app its preStop sleep. As a native sidecar
the proxy gets SIGTERM only after the app has exited: both add up. */ -}}
{{- define "custody-proxy.minGraceSeconds" -}}
{{- $proxy := include "custody-proxy.shutdownSeconds" . | int64 -}}
{{- $app := include "custody-proxy.appPreStopSeconds" . | int64 -}}
{{- if .values.nativeSidecar -}}{{ add $proxy $app }}{{- else -}}{{ max $proxy $app }}{{- end -}}
{{- end -}}

{{- define "custody-proxy.terminationGracePeriodSeconds" -}}
{{- $min := include "custody-proxy.minGraceSeconds" . | int64 -}}
{{- $set := .values.terminationGracePeriodSeconds -}}
{{- if kindIs "invalid" $set -}}
{{- add $min (.values.terminationGraceMarginSeconds | default 10) -}}
{{- else if le ($set | int64) $min -}}
{{- fail (printf "terminationGracePeriodSeconds %d must be greater than %d: proxy.config.drainDelay + shutdownTimeout%s; leave it null to compute it" ($set | int64) $min (ternary " + app.preStopSleepSeconds (nativeSidecar: the proxy stops after the app)" " (and app.preStopSleepSeconds)" (.values.nativeSidecar | default false))) -}}
{{- else -}}
{{- $set | int64 -}}
{{- end -}}
{{- end -}}

{{- /* The README's memory-limit rule for the memory store: maxBytes plus the process's own footprint
under load (~78 MB idle, young generation up to 64 MiB on Node 24, V8's kept pages and buffers):
180 MiB. */ -}}
{{- define "custody-proxy.memoryStoreLimitBytes" -}}
{{- $m := .values.proxy.config.idempotency.memory | default dict -}}
{{- $max := include "custody-proxy.bytes" (dict "value" ($m.maxBytes | default "256MiB") "path" "proxy.config.idempotency.memory.maxBytes") | int64 -}}
{{- add $max (mul 180 1048576) -}}
{{- end -}}

{{- define "custody-proxy.validate" -}}
{{- $v := .values -}}
{{- if eq $v.proxy.config.idempotency.store "memory" -}}
{{- if gt ($v.replicaCount | int) 1 -}}
{{- fail (printf "proxy.config.idempotency.store is memory with replicaCount %d: each replica would keep its own keys, so a retry landing on another replica executes again. Use store: redis, or replicaCount: 1" ($v.replicaCount | int)) -}}
{{- end -}}
{{- $limit := (($v.proxy.resources | default dict).limits | default dict).memory -}}
{{- if $limit -}}
{{- $have := include "custody-proxy.bytes" (dict "value" $limit "path" "proxy.resources.limits.memory") | int64 -}}
{{- $need := include "custody-proxy.memoryStoreLimitBytes" . | int64 -}}
{{- if lt $have $need -}}
{{- fail (printf "proxy.resources.limits.memory %v is below what the memory store needs: proxy.config.idempotency.memory.maxBytes + 180Mi = %dMi (the pod would be OOM-killed once the store fills). Raise the limit or lower maxBytes" $limit (div (add $need 1048575) 1048576)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $_ := include "custody-proxy.terminationGracePeriodSeconds" . -}}
{{- end -}}
